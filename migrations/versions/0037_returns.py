"""returns and return_lines: shoppers' requests to send items of a dispatched order back

Revision ID: 0037
Revises: 0036
"""

from alembic import op
import sqlalchemy as sa


revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=48), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=500), server_default=sa.text("''"), nullable=False),
        sa.Column("expected_pence", sa.Integer(), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("refunded_pence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("restocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "decision_note", sa.String(length=300), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_returns_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["refunds.id"],
            name=op.f("fk_returns_refund_id_refunds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returns")),
        sa.UniqueConstraint("number", name=op.f("uq_returns_number")),
    )
    op.create_index(op.f("ix_returns_created_at"), "returns", ["created_at"], unique=False)
    op.create_index(op.f("ix_returns_order_id"), "returns", ["order_id"], unique=False)
    op.create_index(op.f("ix_returns_status"), "returns", ["status"], unique=False)
    op.create_table(
        "return_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_return_lines_order_line_id_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["returns.id"],
            name=op.f("fk_return_lines_return_id_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_lines")),
    )
    op.create_index(
        op.f("ix_return_lines_order_line_id"), "return_lines", ["order_line_id"], unique=False
    )
    op.create_index(op.f("ix_return_lines_return_id"), "return_lines", ["return_id"], unique=False)


def downgrade() -> None:
    op.drop_table("return_lines")
    op.drop_table("returns")
