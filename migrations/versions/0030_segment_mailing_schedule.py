"""segment_mailings: a time to send at, and who cancelled a mailing and when

Revision ID: 0030
Revises: 0029
"""

from alembic import op
import sqlalchemy as sa


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('segment_mailings') as batch_op:
        batch_op.add_column(sa.Column('send_after', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_email', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('segment_mailings') as batch_op:
        batch_op.drop_column('cancelled_by_email')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('send_after')
