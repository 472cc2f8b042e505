"""communication_preferences.replaced_token_hash: an opt-in link replaced by a newer one

Revision ID: 0034
Revises: 0033
"""

from alembic import op
import sqlalchemy as sa


revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('communication_preferences') as batch_op:
        batch_op.add_column(sa.Column('replaced_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_communication_preferences_replaced_token_hash'),
            ['replaced_token_hash'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('communication_preferences') as batch_op:
        batch_op.drop_index(batch_op.f('ix_communication_preferences_replaced_token_hash'))
        batch_op.drop_column('replaced_token_hash')
