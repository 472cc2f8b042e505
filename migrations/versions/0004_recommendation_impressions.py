"""recommendation impressions, and the recommendation id on events for attribution

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recommendation_impressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rec_id', sa.String(length=32), nullable=False),
    sa.Column('placement', sa.String(length=40), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('strategy', sa.String(length=40), nullable=False),
    sa.Column('variant', sa.String(length=40), nullable=True),
    sa.Column('visitor_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('product_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recommendation_impressions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendation_impressions')),
    sa.UniqueConstraint('rec_id', name=op.f('uq_recommendation_impressions_rec_id'))
    )
    with op.batch_alter_table('recommendation_impressions', schema=None) as batch_op:
        batch_op.create_index('ix_impressions_placement_time', ['placement', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendation_impressions_visitor_id'), ['visitor_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rec_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_rec_id'), ['rec_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_rec_id'))
        batch_op.drop_column('rec_id')

    with op.batch_alter_table('recommendation_impressions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recommendation_impressions_visitor_id'))
        batch_op.drop_index('ix_impressions_placement_time')

    op.drop_table('recommendation_impressions')
