"""loyalty_owed_points: points a refund could not take back because an unpaid order held them

Revision ID: 0032
Revises: 0031
"""

from alembic import op
import sqlalchemy as sa


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loyalty_owed_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('order_number', sa.String(length=40), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_loyalty_owed_points_membership_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_owed_points')),
    sa.UniqueConstraint('membership_id', 'reference', name=op.f('uq_loyalty_owed_points_membership_id'))
    )


def downgrade() -> None:
    op.drop_table('loyalty_owed_points')
