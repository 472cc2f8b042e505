"""A return: the items of one order a shopper is sending back, and what became of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow
from shop.orders.models import Order, OrderLine


class ReturnRequest(Base):
    """A shopper's request to send items back, from "requested" to refunded, rejected or
    withdrawn."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(48), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(500), default="", server_default=text("''"))
    # What the shopper was told they would get back when they asked.
    expected_pence: Mapped[int] = mapped_column(Integer)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="SET NULL"))
    refunded_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Whether its items went back into stock when it arrived (counted in restocked_qty then).
    restocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Why staff did not accept it: shown to the shopper.
    decision_note: Mapped[str] = mapped_column(String(300), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)

    order: Mapped[Order] = relationship()
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )

    @property
    def item_count(self) -> int:
        """How many items it sends back."""
        return sum(line.quantity for line in self.lines)


class ReturnLine(Base):
    """How many of one order line a return sends back."""

    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(
        ForeignKey("order_lines.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)

    request: Mapped[ReturnRequest] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
