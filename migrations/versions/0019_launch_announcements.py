"""launch_announcements: members with early access are e-mailed once per product when its
early-access window opens

Revision ID: 0019
Revises: 0018
"""

from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'launch_announcements',
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('product_id'),
    )
    op.create_index(
        op.f('ix_launch_announcements_campaign_id'),
        'launch_announcements',
        ['campaign_id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_launch_announcements_campaign_id'), table_name='launch_announcements')
    op.drop_table('launch_announcements')
