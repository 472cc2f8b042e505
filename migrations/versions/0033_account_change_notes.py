"""account_change_notes: account changes held in a waiting "changes in the last hour" e-mail

Revision ID: 0033
Revises: 0032
"""

from alembic import op
import sqlalchemy as sa


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_change_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('email_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['email_id'], ['outbox_emails.id'], name=op.f('fk_account_change_notes_email_id_outbox_emails'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_change_notes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_change_notes'))
    )
    op.create_index(op.f('ix_account_change_notes_email_id'), 'account_change_notes', ['email_id'], unique=False)
    op.create_index(op.f('ix_account_change_notes_user_id'), 'account_change_notes', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_account_change_notes_user_id'), table_name='account_change_notes')
    op.drop_index(op.f('ix_account_change_notes_email_id'), table_name='account_change_notes')
    op.drop_table('account_change_notes')
