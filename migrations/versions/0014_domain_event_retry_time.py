"""domain_events: when a failed event is next retried (backoff, no limit on tries)

Revision ID: 0014
Revises: 0013
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('domain_events') as batch:
        batch.add_column(sa.Column('next_attempt_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('domain_events') as batch:
        batch.drop_column('next_attempt_at')
