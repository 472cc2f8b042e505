"""Discount codes a merchandiser creates in the console and shoppers type into the cart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow

PERCENT, AMOUNT, FREE_DELIVERY = "percent", "amount", "free_delivery"


class PromoCode(Base):
    """A code worth a percentage off the goods, an amount off them, or free standard
    delivery, with an optional minimum spend, validity window and limits on its uses.

    `uses` counts the orders holding or having used the code: placing an order takes one
    (with a conditional UPDATE against `max_uses`), and an unpaid order's release gives
    it back, as with stock.
    """

    __tablename__ = "promo_codes"
    __table_args__ = (
        CheckConstraint("uses >= 0", name="uses_not_negative"),
        CheckConstraint("kind IN ('percent', 'amount', 'free_delivery')", name="known_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # upper case
    description: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    percent_bp: Mapped[int | None] = mapped_column(Integer)  # 1,000 = 10% off the goods
    amount_pence: Mapped[int | None] = mapped_column(Integer)
    min_subtotal_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)
    once_per_customer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
