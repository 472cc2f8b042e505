"""saved cards: the gateway's card fingerprint, so one real card is saved once

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('saved_cards') as batch:
        batch.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch.create_index(batch.f('ix_saved_cards_fingerprint'), ['fingerprint'])


def downgrade() -> None:
    with op.batch_alter_table('saved_cards') as batch:
        batch.drop_index(batch.f('ix_saved_cards_fingerprint'))
        batch.drop_column('fingerprint')
