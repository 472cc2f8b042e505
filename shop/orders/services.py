"""Order history for the account pages."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shop.orders.models import Order
from shop.pagination import Page, check_page


class OrderNotFound(LookupError):
    """No such order for this customer."""


def order_history(session: Session, user_id: int, *, page: int = 1, size: int = 20) -> Page[Order]:
    """A customer's orders and returns, newest first."""
    where = Order.user_id == user_id
    total = session.scalar(select(func.count(Order.id)).where(where)) or 0
    check_page(page, total, size)
    orders = session.scalars(
        select(Order)
        .options(selectinload(Order.lines))
        .where(where)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return Page(list(orders), total, page, size)


def customer_order(session: Session, user_id: int, number: str) -> Order:
    """One of the customer's own orders; raise OrderNotFound for anyone else's."""
    order = session.scalar(
        select(Order)
        .options(selectinload(Order.lines))
        .where(Order.number == number, Order.user_id == user_id)
    )
    if order is None:
        raise OrderNotFound(number)
    return order
