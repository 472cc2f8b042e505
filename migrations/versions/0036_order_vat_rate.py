"""orders.vat_rate_bp: the VAT rate an order's VAT-inclusive prices were sold at

Revision ID: 0036
Revises: 0035

Orders placed before it (and imported invoices) keep NULL: the shop did not record the rate
they were sold at, so they show no VAT breakdown and get no invoice.
"""

from alembic import op
import sqlalchemy as sa


revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("vat_rate_bp", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("vat_rate_bp")
