"""What customer analytics reads from the orders, added up in the database.

A customer is an account (key "a:<id>") or a guest's e-mail address, trimmed and in lower
case ("g:<address>"); staff accounts are left out. Orders count once paid and not wholly
refunded (`states.KEPT`); returns (orders of kind "return", negative totals) lower what a
customer spent but are not orders. Each query groups per customer (or per customer and
month), so Python sees one row per customer, not one per order.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import (
    Date,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from shop.accounts.models import User
from shop.analytics.cohorts import MonthRow
from shop.analytics.rfm import CustomerTotals
from shop.orders import states
from shop.orders.models import Order

KEPT_SALE = and_(Order.kind == "sale", Order.status.in_(states.KEPT))
NET = Order.total_pence - Order.refunded_pence


def _guest() -> ColumnElement[str]:
    """A guest order's address as a customer: trimmed, in lower case."""
    return func.lower(func.trim(Order.email))


def _key() -> ColumnElement[str | None]:
    guest = _guest()
    return case(
        (Order.user_id.is_not(None), literal("a:") + cast(Order.user_id, String)),
        (func.coalesce(guest, "") != "", literal("g:") + guest),
        else_=None,
    )


def customer(key: str) -> Hashable:
    """The customer a key stands for: an account id (int) or a guest's address (str)."""
    kind, _, value = key.partition(":")
    return int(value) if kind == "a" else value


def _counted(query: Select) -> Select:  # type: ignore[type-arg]
    """Kept sales and returns, of customers who are not staff."""
    return query.outerjoin(User, User.id == Order.user_id).where(
        or_(KEPT_SALE, Order.kind == "return"), User.role.is_(None)
    )


@dataclass(frozen=True)
class CustomerData:
    """Every identified customer's totals, and the kept orders nobody can be told owns."""

    totals: list[CustomerTotals]
    unidentified_orders: int


def customer_totals(session: Session, before: datetime | None = None) -> CustomerData:
    """Per customer with a kept sale: orders, the last one's day and the net spend; only of
    orders placed before `before`, if given (the customers as they were then)."""
    key = _key().label("key")
    query = _counted(
        select(
            key,
            func.count(Order.id).filter(KEPT_SALE),
            func.max(Order.placed_at).filter(KEPT_SALE),
            func.coalesce(func.sum(NET), 0),
        )
    ).group_by(key)
    if before is not None:
        query = query.where(Order.placed_at < before)
    totals, unidentified = [], 0
    for raw, orders, last, spent in session.execute(query):
        if raw is None:
            unidentified = int(orders)
        elif orders:  # a customer with only returns bought before the records began
            totals.append(CustomerTotals(customer(raw), int(orders), last.date(), int(spent)))
    return CustomerData(totals, unidentified)


def median_days_between_orders(session: Session) -> float | None:
    """The median gap between a customer's consecutive order days, over all customers."""
    key = _key().label("key")
    day = func.date(Order.placed_at).label("day")
    days = (
        _counted(select(key, day)).where(KEPT_SALE, key.is_not(None)).group_by(key, day).subquery()
    )
    previous = func.lag(days.c.day).over(partition_by=days.c.key, order_by=days.c.day)
    if session.get_bind().dialect.name == "sqlite":
        gap = func.julianday(days.c.day) - func.julianday(previous)
    else:
        gap = cast(days.c.day, Date) - cast(previous, Date)
    gaps = select(gap.label("gap")).subquery()
    found = [
        round(g) for (g,) in session.execute(select(gaps.c.gap).where(gaps.c.gap.is_not(None)))
    ]
    return median(found) if found else None


def month_rows(session: Session) -> list[MonthRow]:
    """Per customer and calendar month: kept sales and net spend (returns included)."""
    key = _key().label("key")
    year = extract("year", Order.placed_at).label("year")
    month = extract("month", Order.placed_at).label("month")
    query = (
        _counted(select(key, year, month, func.count(Order.id).filter(KEPT_SALE), func.sum(NET)))
        .where(key.is_not(None))
        .group_by(key, year, month)
    )
    return [
        MonthRow(customer(raw), int(y) * 12 + int(m) - 1, int(sales), int(net))
        for raw, y, m, sales, net in session.execute(query)
    ]


@dataclass(frozen=True)
class CustomersBetween:
    """Customers who placed a kept order in a period: for the first time, or again."""

    new: int
    returning: int


def customers_between(session: Session, start: datetime, end: datetime) -> CustomersBetween:
    """Customers with a kept sale in [start, end): new (their first ever) or returning.

    Only the period's buyers are looked up (accounts through the orders' account index),
    so the cost follows the period's orders rather than the whole history's."""
    in_period = and_(KEPT_SALE, Order.placed_at >= start, Order.placed_at < end)
    guest = _guest()
    period_accounts = select(Order.user_id).where(in_period, Order.user_id.is_not(None))
    period_guests = select(guest).where(in_period, Order.user_id.is_(None))
    first = func.min(Order.placed_at).label("first")
    accounts = (
        _counted(select(first))
        .where(KEPT_SALE, Order.user_id.in_(period_accounts))
        .group_by(Order.user_id)
    )
    guests = (
        select(first)
        .where(KEPT_SALE, Order.user_id.is_(None), guest != "", guest.in_(period_guests))
        .group_by(guest)
    )
    firsts = union_all(accounts, guests).subquery()
    new, returning = session.execute(
        select(
            func.count().filter(firsts.c.first >= start),
            func.count().filter(firsts.c.first < start),
        )
    ).one()
    return CustomersBetween(int(new), int(returning))
