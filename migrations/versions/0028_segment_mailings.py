"""segment_mailings: a merchandiser's e-mail to one RFM segment, and the people it may go to

Revision ID: 0028
Revises: 0027
"""

from alembic import op
import sqlalchemy as sa


revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'segment_mailings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('segment', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=120), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('form_token', sa.String(length=32), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_by_email', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('audience', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('queued', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_segment_mailings_campaign_id_campaigns'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_segment_mailings_created_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_mailings')),
        sa.UniqueConstraint('campaign_id', name=op.f('uq_segment_mailings_campaign_id')),
        sa.UniqueConstraint('form_token', name=op.f('uq_segment_mailings_form_token')),
    )
    with op.batch_alter_table('segment_mailings') as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_mailings_status'), ['status'], unique=False)
    op.create_table(
        'segment_mailing_recipients',
        sa.Column('mailing_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['mailing_id'], ['segment_mailings.id'], name=op.f('fk_segment_mailing_recipients_mailing_id_segment_mailings'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_segment_mailing_recipients_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('mailing_id', 'user_id', name=op.f('pk_segment_mailing_recipients')),
    )
    with op.batch_alter_table('segment_mailing_recipients') as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_mailing_recipients_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('segment_mailing_recipients') as batch_op:
        batch_op.drop_index(batch_op.f('ix_segment_mailing_recipients_user_id'))
    op.drop_table('segment_mailing_recipients')
    with op.batch_alter_table('segment_mailings') as batch_op:
        batch_op.drop_index(batch_op.f('ix_segment_mailings_status'))
    op.drop_table('segment_mailings')
