"""events (user_id, kind, product_id): the products a member bought are read from the index
alone, on every page that leaves past purchases out of its recommendations

Revision ID: 0018
Revises: 0017
"""

from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_events_user_kind_product', 'events', ['user_id', 'kind', 'product_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_events_user_kind_product', table_name='events')
