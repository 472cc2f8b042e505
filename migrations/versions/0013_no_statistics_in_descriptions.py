"""products: imported descriptions without order statistics

The import used to write "<Category>. Bought in N orders by M customers. Usually ordered K
at a time." as every product's description. Search indexes descriptions, so words and
numbers of that sentence ("order", "time", "24") matched nearly every product. The
description is now left for merchants to write; descriptions of exactly that generated
form are cleared (the search index follows: FTS5 triggers on SQLite, a generated column on
PostgreSQL). Nothing else is touched.

Revision ID: 0013
Revises: 0012
"""

import re

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

GENERATED = re.compile(
    r"[^.]+\. (Bought in [\d,]+ orders?( by [\d,]+ customers?)?\.|Not ordered yet\.)"
    r"( Usually ordered \d+ at a time\.)?"
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, description FROM products")).all()
    ids = [row.id for row in rows if row.description and GENERATED.fullmatch(row.description)]
    for start in range(0, len(ids), 500):
        bind.execute(
            sa.text("UPDATE products SET description = '' WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids[start : start + 500]},
        )


def downgrade() -> None:
    pass  # the statistics are not kept anywhere else; the next import writes none either
