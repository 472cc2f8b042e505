"""The clickstream: one row per thing a shopper did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow

EVENT_KINDS = (
    "product_view",
    "category_view",
    "search",
    "cart_add",
    "cart_remove",
    "purchase",
    "login",
    "register",
    "rec_click",
)
# Not something a shopper did on the site: items of an order that came back (a return, a
# cancellation, a refund that put them back in stock). It takes its quantity off the
# order's purchase of the product in what the recommender learns from.
UNDONE_KIND = "purchase_undone"


class Event(Base):
    """A shopper event; imported purchases are events too (visitor id "import")."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_time", "user_id", "created_at"),
        # Covers "what has this member bought" without reading the rows: a customer with
        # thousands of purchases had every product page wait for them.
        Index("ix_events_user_kind_product", "user_id", "kind", "product_id"),
        Index("ix_events_visitor_time", "visitor_id", "created_at"),
        # By kind and time, with the visitor: the shopping funnel counts a period's visitors
        # from the index alone (the online metrics read its first two columns).
        Index("ix_events_kind_time_visitor", "kind", "created_at", "visitor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    visitor_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    query: Mapped[str | None] = mapped_column(String(200))
    result_count: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int | None] = mapped_column(Integer)
    # The recommendation list (Impression.rec_id) this event came from, for attribution.
    rec_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # The marketing campaign (Campaign.key) a visit came from, for attribution.
    campaign: Mapped[str | None] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
