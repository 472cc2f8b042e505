"""Catalogue tables: categories and products."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow


class Category(Base):
    """A browsable group of products, derived from keyword rules at import."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(Base):
    """A sellable item; money is stored in minor units (pence)."""

    __tablename__ = "products"
    __table_args__ = (
        # Search by the start of an item code (`sku LIKE 'ABC%'`) reads this under any
        # collation on PostgreSQL (migration 0023); SQLite's GLOB reads the unique index.
        Index(
            "ix_products_sku_pattern", "sku", postgresql_ops={"sku": "varchar_pattern_ops"}
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    price_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    stock_qty: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # Number of sale orders containing the product: drives "bestsellers" and popularity sort.
    order_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # When it goes on sale to everyone (UTC); None: on sale whenever it is active. Members
    # with early access see it a little before (shop.catalog.availability).
    launches_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # Set by every later change of the row (an edit, a price, the stock): pages that show
    # it changed then, which the sitemap's lastmod tells crawlers.
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, onupdate=utcnow)

    category: Mapped[Category | None] = relationship(back_populates="products")

    @property
    def in_stock(self) -> bool:
        """True when at least one unit can be sold."""
        return self.stock_qty > 0


class StockAlert(Base):
    """A signed-in shopper asked to be e-mailed when an out-of-stock product is back; the
    row goes once the e-mail is queued (shop.catalog.stock_alerts)."""

    __tablename__ = "stock_alerts"
    __table_args__ = (UniqueConstraint("user_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GuestStockAlert(Base):
    """A visitor gave an e-mail address to hear when an out-of-stock product is back. It
    waits unconfirmed until the link e-mailed to that address is opened (so nobody can sign
    up someone else's mailbox), and goes once the e-mail is queued
    (shop.catalog.guest_stock_alerts)."""

    __tablename__ = "guest_stock_alerts"
    __table_args__ = (UniqueConstraint("email", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirm_sent_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirm_sends: Mapped[int] = mapped_column(Integer, default=1)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
