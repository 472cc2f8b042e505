"""orders.tier_discount_label: the order page and e-mails name the tier discount as the cart
and checkout did ("Silver member discount (3%)"), even after the tier changes

Revision ID: 0021
Revises: 0020
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch_op:
        batch_op.add_column(sa.Column('tier_discount_label', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders') as batch_op:
        batch_op.drop_column('tier_discount_label')
