"""order_status_changes.staff_note: what only staff see on an order's timeline

Revision ID: 0035
Revises: 0034

The staff-only texts written so far into the shopper's note move across: payment flags,
restock counts and the reason typed when cancelling.
"""

from alembic import op
import sqlalchemy as sa


revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

STEPS = sa.table(
    "order_status_changes",
    sa.column("from_status", sa.String),
    sa.column("to_status", sa.String),
    sa.column("note", sa.String),
    sa.column("staff_note", sa.String),
)
CANCELLED_WITH_REASON = "Cancelled: "


def upgrade() -> None:
    with op.batch_alter_table("order_status_changes") as batch_op:
        batch_op.add_column(
            sa.Column("staff_note", sa.String(length=300), server_default="", nullable=False)
        )
    staff_only = sa.and_(
        STEPS.c.from_status == STEPS.c.to_status,
        sa.or_(STEPS.c.note.like("Payment flagged:%"), STEPS.c.note.like("Restocked % item(s)")),
    )
    op.execute(STEPS.update().where(staff_only).values(staff_note=STEPS.c.note, note=""))
    op.execute(
        STEPS.update()
        .where(
            STEPS.c.to_status == "cancelled",
            STEPS.c.note.like(CANCELLED_WITH_REASON + "%"),
        )
        .values(
            staff_note=sa.func.substr(STEPS.c.note, len(CANCELLED_WITH_REASON) + 1),
            note="Cancelled",
        )
    )


def downgrade() -> None:
    op.execute(
        STEPS.update()
        .where(STEPS.c.note == "", STEPS.c.staff_note != "")
        .values(note=STEPS.c.staff_note)
    )
    op.execute(
        STEPS.update()
        .where(STEPS.c.to_status == "cancelled", STEPS.c.staff_note != "")
        .values(note=CANCELLED_WITH_REASON + STEPS.c.staff_note)
    )
    with op.batch_alter_table("order_status_changes") as batch_op:
        batch_op.drop_column("staff_note")
