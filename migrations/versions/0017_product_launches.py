"""products.launches_at: a product can be set to go on sale at a later moment, and members
whose tier has early access see it before then

Revision ID: 0017
Revises: 0016
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('products') as batch_op:
        batch_op.add_column(sa.Column('launches_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_products_launches_at'), ['launches_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('products') as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_launches_at'))
        batch_op.drop_column('launches_at')
