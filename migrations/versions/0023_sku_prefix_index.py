"""products.sku with varchar_pattern_ops on PostgreSQL: search by the start of an item code
(`sku LIKE 'ABC%'`) reads an index under any collation; the unique index only serves such
a query under the C collation. SQLite needs nothing: search matches code prefixes with GLOB,
which is case-sensitive and uses the unique index on products.sku.

Revision ID: 0023
Revises: 0022
"""

from alembic import op


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index(
            'ix_products_sku_pattern',
            'products',
            ['sku'],
            unique=False,
            postgresql_ops={'sku': 'varchar_pattern_ops'},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_products_sku_pattern', table_name='products')
