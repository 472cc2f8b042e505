"""outbox: remove a message's address and text once sent, when asked (deleted accounts)

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_emails') as batch:
        batch.add_column(
            sa.Column('forget_after_send', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column('forgotten_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox_emails') as batch:
        batch.drop_column('forgotten_at')
        batch.drop_column('forget_after_send')
