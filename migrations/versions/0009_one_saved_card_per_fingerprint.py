"""saved cards: at most one entry per member and card fingerprint

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries saved twice at the same moment before this constraint: the newest keeps the
    # fingerprint, the older ones lose it and are merged (by brand, last four digits and
    # expiry) the next time the member saves that card. Nothing is deleted here.
    saved_cards = sa.table(
        'saved_cards',
        sa.column('id', sa.Integer),
        sa.column('user_id', sa.Integer),
        sa.column('fingerprint', sa.String),
    )
    newer = saved_cards.alias('newer')
    op.execute(
        saved_cards.update()
        .where(
            sa.exists().where(
                newer.c.user_id == saved_cards.c.user_id,
                newer.c.fingerprint == saved_cards.c.fingerprint,
                newer.c.id > saved_cards.c.id,
            )
        )
        .values(fingerprint=None)
    )
    with op.batch_alter_table('saved_cards') as batch:
        batch.create_unique_constraint(
            'uq_saved_cards_user_fingerprint', ['user_id', 'fingerprint']
        )


def downgrade() -> None:
    with op.batch_alter_table('saved_cards') as batch:
        batch.drop_constraint('uq_saved_cards_user_fingerprint', type_='unique')
