"""orders.points_to_earn: the loyalty points an order was quoted to earn at checkout, for
the order confirmation

Revision ID: 0024
Revises: 0023
"""

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch_op:
        batch_op.add_column(sa.Column('points_to_earn', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch_op:
        batch_op.drop_column('points_to_earn')
