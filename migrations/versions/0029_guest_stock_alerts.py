"""guest_stock_alerts: a visitor's back-in-stock alert, confirmed from the e-mail it gave

Revision ID: 0029
Revises: 0028
"""

from alembic import op
import sqlalchemy as sa


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'guest_stock_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirm_sent_at', sa.DateTime(), nullable=False),
        sa.Column('confirm_sends', sa.Integer(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_guest_stock_alerts_product_id_products'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guest_stock_alerts')),
        sa.UniqueConstraint('email', 'product_id', name=op.f('uq_guest_stock_alerts_email')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_guest_stock_alerts_token_hash')),
    )
    with op.batch_alter_table('guest_stock_alerts') as batch_op:
        batch_op.create_index(batch_op.f('ix_guest_stock_alerts_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_guest_stock_alerts_product_id'), ['product_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('guest_stock_alerts') as batch_op:
        batch_op.drop_index(batch_op.f('ix_guest_stock_alerts_product_id'))
        batch_op.drop_index(batch_op.f('ix_guest_stock_alerts_email'))
    op.drop_table('guest_stock_alerts')
