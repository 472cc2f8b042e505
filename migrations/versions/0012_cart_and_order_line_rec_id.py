"""cart_items, order_lines: the recommendation list a line was added from

A purchase is credited to the list its cart line was last added from. Reading it from the
line, rather than searching cart_add events, credits each addition once and does not
depend on the event writer having stored the addition before payment.

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('cart_items', 'order_lines'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('rec_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in ('order_lines', 'cart_items'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('rec_id')
