"""Orders and their lines. Imported invoices are orders too; "C" invoices are returns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow


class Order(Base):
    """A placed order, or a return (credit note) when `kind` is "return"."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="sale")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(24), index=True)
    source: Mapped[str] = mapped_column(String(16), default="web")
    country: Mapped[str | None] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    subtotal_pence: Mapped[int] = mapped_column(Integer, default=0)
    shipping_pence: Mapped[int] = mapped_column(Integer, default=0)
    total_pence: Mapped[int] = mapped_column(Integer, default=0)
    placed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # Web checkout: the guest's secret link, and the review page's token against double submits.
    access_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    checkout_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    ship_name: Mapped[str | None] = mapped_column(String(120))
    ship_line1: Mapped[str | None] = mapped_column(String(200))
    ship_line2: Mapped[str | None] = mapped_column(String(200))
    ship_city: Mapped[str | None] = mapped_column(String(100))
    ship_postcode: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(40))
    shipping_method: Mapped[str | None] = mapped_column(String(20))
    discount_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Parts of discount_pence, and the points spent on it (loyalty benefits at checkout).
    tier_discount_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the tier discount was called when the order was placed ("Silver member discount
    # (3%)"): the tier may be renamed or changed later.
    tier_discount_label: Mapped[str | None] = mapped_column(String(80))
    points_discount_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The discount code used (as typed then, upper case) and what it took off the goods.
    promo_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="SET NULL"), index=True
    )
    promo_code: Mapped[str | None] = mapped_column(String(32))
    promo_discount_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    points_redeemed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The loyalty points the order was quoted to earn at checkout (None: not a member).
    points_to_earn: Mapped[int | None] = mapped_column(Integer)
    # The marketing campaign (Campaign.key) the shopper came from, for attribution.
    campaign: Mapped[str | None] = mapped_column(String(40), index=True)
    refunded_pence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The VAT rate its VAT-inclusive prices were sold at, in basis points (None: imported).
    vat_rate_bp: Mapped[int | None] = mapped_column(Integer)
    stock_reserved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reserved_until: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # Set when Stripe reports something the order does not match (amount, currency, state).
    payment_flag: Mapped[str | None] = mapped_column(Text)

    def discount_lines(self) -> list[tuple[str, str, int]]:
        """The order's discounts as its pages and e-mails list them: (kind, label, pence),
        kind being "promo", "tier", "points" or "other", leaving out those it has not."""
        promo = self.promo_discount_pence or 0
        tier = self.tier_discount_pence or 0
        points = self.points_discount_pence or 0
        lines = [
            ("promo", f"Discount code {self.promo_code}", promo),
            ("tier", self.tier_discount_label or "Member discount", tier),
            ("points", f"Points ({self.points_redeemed or 0:,})", points),
            ("other", "Discount", (self.discount_pence or 0) - promo - tier - points),
        ]
        return [line for line in lines if line[2]]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderStatusChange.id"
    )

    @property
    def customer_history(self) -> list[OrderStatusChange]:
        """The timeline the shopper sees: status changes and notes written for them, without
        the steps that carry only a staff note."""
        return [step for step in self.history if step.note or step.from_status != step.to_status]


class OrderLine(Base):
    """One product on an order, priced at the time of sale."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_pence: Mapped[int] = mapped_column(Integer)
    line_total_pence: Mapped[int] = mapped_column(Integer)
    restocked_qty: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The recommendation list the cart line came from; its purchase is credited to it.
    rec_id: Mapped[str | None] = mapped_column(String(32))

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderStatusChange(Base):
    """One step of an order's state machine, with its time: the order's timeline."""

    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(300), default="")
    # For staff only (a cancellation's reason, a payment flag): never shown to the shopper.
    staff_note: Mapped[str] = mapped_column(String(300), default="", server_default=text("''"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")
