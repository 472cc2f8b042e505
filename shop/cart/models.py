"""Server-side carts, one per visitor or per signed-in account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow


class Cart(Base):
    """A cart owned by an anonymous visitor id or by a user."""

    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # The discount code the shopper entered (upper case); checked again whenever priced.
    promo_code: Mapped[str | None] = mapped_column(String(32))

    items: Mapped[list[CartItem]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartItem.id"
    )


class CartItem(Base):
    """A product and quantity in a cart; prices are always read from the catalogue."""

    __tablename__ = "cart_items"
    __table_args__ = (UniqueConstraint("cart_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    # The recommendation list the product was last added from (None: added some other way).
    rec_id: Mapped[str | None] = mapped_column(String(32))

    cart: Mapped[Cart] = relationship(back_populates="items")
