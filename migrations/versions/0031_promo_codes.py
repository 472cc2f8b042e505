"""promo_codes: discount codes, the code a cart carries and the code an order used

Revision ID: 0031
Revises: 0030
"""

from alembic import op
import sqlalchemy as sa


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promo_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('percent_bp', sa.Integer(), nullable=True),
    sa.Column('amount_pence', sa.Integer(), nullable=True),
    sa.Column('min_subtotal_pence', sa.Integer(), server_default='0', nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=True),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('once_per_customer', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_email', sa.String(length=254), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('percent', 'amount', 'free_delivery')", name=op.f('ck_promo_codes_known_kind')),
    sa.CheckConstraint('uses >= 0', name=op.f('ck_promo_codes_uses_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_promo_codes_code'))
    )
    with op.batch_alter_table('carts') as batch_op:
        batch_op.add_column(sa.Column('promo_code', sa.String(length=32), nullable=True))

    with op.batch_alter_table('orders') as batch_op:
        batch_op.add_column(sa.Column('promo_code_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('promo_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('promo_discount_pence', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_index(batch_op.f('ix_orders_promo_code_id'), ['promo_code_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_promo_code_id_promo_codes'), 'promo_codes', ['promo_code_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('orders') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_orders_promo_code_id_promo_codes'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_promo_code_id'))
        batch_op.drop_column('promo_discount_pence')
        batch_op.drop_column('promo_code')
        batch_op.drop_column('promo_code_id')

    with op.batch_alter_table('carts') as batch_op:
        batch_op.drop_column('promo_code')

    op.drop_table('promo_codes')
