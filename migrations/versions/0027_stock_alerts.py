"""stock_alerts: a signed-in shopper asks to be e-mailed when an out-of-stock product is
back in stock

Revision ID: 0027
Revises: 0026
"""

from alembic import op
import sqlalchemy as sa


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stock_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stock_alerts_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_alerts_product_id_products'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alerts')),
        sa.UniqueConstraint('user_id', 'product_id', name=op.f('uq_stock_alerts_user_id')),
    )
    with op.batch_alter_table('stock_alerts') as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_alerts_product_id'), ['product_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stock_alerts') as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_alerts_product_id'))
    op.drop_table('stock_alerts')
