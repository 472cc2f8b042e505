"""The console's start page: sales, what needs attention, and how recommendations do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from loyalty.membership import priority_support_users
from shop.analytics.customer_data import CustomersBetween, customers_between
from shop.analytics.offline import VersionSummary, summarise
from shop.analytics.online import Funnel, Period, funnel_by
from shop.catalog.models import Product, StockAlert
from shop.console.catalog_admin import LOW_STOCK
from shop.mail.outbox import outbox_counts
from shop.merchandising.model_versions import active_problem
from shop.merchandising.models import Experiment
from shop.merchandising.revisions import draft_revision
from shop.orders import states
from shop.orders.customer_cancel import reason_given
from shop.orders.fulfilment import CUSTOMER_CANCEL_SOURCE
from shop.orders.models import Order
from shop.orders.services import awaiting_shipment
from shop.payments.models import Refund
from shop.recommendations import ModelStore
from shop.returns.handling import awaiting_count

WEEK = 7


@dataclass(frozen=True)
class Sales:
    """Paid sale orders placed in a period, and what sales brought in after refunds and
    returns."""

    orders: int
    net_pence: int

    @property
    def average_pence(self) -> int | None:
        """Net sales per order (None without orders)."""
        return round(self.net_pence / self.orders) if self.orders else None


@dataclass(frozen=True)
class Stock:
    """Products on sale that cannot be bought, or soon cannot."""

    out: int
    low: int
    wanted: int = 0  # of the `out`, products with shoppers waiting for them
    waiting: int = 0  # their back-in-stock alerts
    limit: int = LOW_STOCK  # "low" is 1 to this many left


@dataclass(frozen=True)
class Cancellations:
    """Paid orders their shoppers cancelled before dispatch, and the reasons they gave."""

    orders: int = 0
    refunded_pence: int = 0
    reasons: tuple[tuple[str, int], ...] = ()  # most given first; "No reason given" too


def customer_cancellations(session: Session, start: datetime, end: datetime) -> Cancellations:
    """Shoppers' own cancellations refunded in [start, end), by the reason they gave."""
    rows = session.execute(
        select(Refund.reason, func.count(Refund.id), func.sum(Refund.amount_pence))
        .where(
            Refund.source == CUSTOMER_CANCEL_SOURCE,
            Refund.status == "succeeded",
            Refund.created_at >= start,
            Refund.created_at < end,
        )
        .group_by(Refund.reason)
    ).all()
    reasons: Counter[str] = Counter()
    for note, count, _amount in rows:
        reasons[reason_given(note) or "No reason given"] += int(count)
    return Cancellations(
        orders=sum(int(count) for _note, count, _amount in rows),
        refunded_pence=sum(int(amount or 0) for _note, _count, amount in rows),
        reasons=tuple(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
    )


@dataclass(frozen=True)
class Dashboard:
    """Everything the console's start page shows."""

    today: date
    sales_today: Sales
    sales_week: Sales
    sales_week_before: Sales
    customers_week: CustomersBetween
    to_ship: int
    to_ship_priority: int  # of those, orders of members whose tier gives priority support
    awaiting_payment: int
    failed_emails: int
    stock: Stock
    recommendations_week: Funnel
    running_experiments: int
    unpublished_changes: bool
    model: VersionSummary | None
    model_problem: str | None
    cancellations_week: Cancellations = Cancellations()
    returns_awaiting: int = 0  # returns whose parcel has not arrived yet

    @property
    def week_change(self) -> float | None:
        """Net sales of the last 7 days against the 7 before, as a fraction (+0.1 = 10% up)."""
        before = self.sales_week_before.net_pence
        return (self.sales_week.net_pence - before) / before if before > 0 else None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def sales_between(session: Session, start: datetime, end: datetime) -> Sales:
    """Paid sale orders placed in [start, end), and their net total: refunds taken off, and
    returns booked in the period (orders of kind "return", with negative totals) too."""
    sale = and_(Order.kind == "sale", Order.status.in_(states.WERE_PAID))
    counted = or_(sale, Order.kind == "return")
    orders, net = session.execute(
        select(
            func.count(Order.id).filter(sale),
            func.coalesce(func.sum(Order.total_pence - Order.refunded_pence), 0),
        ).where(counted, Order.placed_at >= start, Order.placed_at < end)
    ).one()
    return Sales(int(orders), int(net))


def _orders_where(session: Session, *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count(Order.id)).where(*where)) or 0


def stock_levels(session: Session) -> Stock:
    """Active products out of stock (and how many of them shoppers wait for), and those
    with 1 to LOW_STOCK left."""
    out, low = session.execute(
        select(
            func.count(Product.id).filter(Product.stock_qty <= 0),
            func.count(Product.id).filter(
                and_(Product.stock_qty > 0, Product.stock_qty <= LOW_STOCK)
            ),
        ).where(Product.active.is_(True))
    ).one()
    wanted, waiting = session.execute(
        select(func.count(distinct(StockAlert.product_id)), func.count(StockAlert.id))
        .join(Product, Product.id == StockAlert.product_id)
        .where(Product.active.is_(True), Product.stock_qty <= 0)
    ).one()
    return Stock(int(out), int(low), int(wanted), int(waiting))


def _live_model(store: ModelStore) -> VersionSummary | None:
    live = next((version for version in store.versions() if version.active), None)
    return summarise(live) if live is not None else None


def dashboard(session: Session, store: ModelStore, today: date) -> Dashboard:
    """The start page's figures as of `today` (UTC): sales today, in the last 7 days and the
    7 before; orders to ship; failed e-mails; stock; the recommendations' last 7 days."""
    tomorrow = _midnight(today + timedelta(days=1))
    week_start = _midnight(today - timedelta(days=WEEK - 1))
    week = Period(today - timedelta(days=WEEK - 1), today)
    running = select(func.count(Experiment.id)).where(Experiment.status == "running")
    return Dashboard(
        today=today,
        sales_today=sales_between(session, _midnight(today), tomorrow),
        sales_week=sales_between(session, week_start, tomorrow),
        sales_week_before=sales_between(session, week_start - timedelta(days=WEEK), week_start),
        customers_week=customers_between(session, week_start, tomorrow),
        to_ship=_orders_where(session, awaiting_shipment()),
        to_ship_priority=_orders_where(
            session, awaiting_shipment(), Order.user_id.in_(priority_support_users())
        ),
        awaiting_payment=_orders_where(session, Order.status == states.PENDING_PAYMENT),
        failed_emails=outbox_counts(session).get("failed", 0),
        stock=stock_levels(session),
        recommendations_week=funnel_by(session, week, by=[]).get((), Funnel()),
        running_experiments=session.scalar(running) or 0,
        unpublished_changes=draft_revision(session) is not None,
        model=_live_model(store),
        model_problem=active_problem(store),
        cancellations_week=customer_cancellations(session, week_start, tomorrow),
        returns_awaiting=awaiting_count(session),
    )
