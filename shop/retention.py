"""Storage limitation: personal data nobody asked us to delete is removed once it is no
longer needed (`flask privacy prune`, run daily).

What goes, per kind (each with its own retention period, see `Retention`):

* visitor carts: carts of visitors who never signed in, not changed for the period, and
  their lines (a member's cart is part of the account);
* visitor searches: the queries anonymous visitors typed (nothing reads them);
* visitor events: the rest of anonymous visitors' clickstream, except purchases and events
  of an order, and except what a running experiment counts (everything since the start of
  the oldest running experiment). The period may not be shorter than the console's online
  metrics can look back (`online.MAX_DAYS`);
* visitor impressions: recommendation lists shown to anonymous visitors, with the same
  exceptions for running experiments and the same floor;
* e-mail text: sent, failed and withdrawn e-mails lose their address and bodies (the row,
  with kind, time, status, order and account, stays for the console and rate limits);
* spent tokens: account link tokens used or expired that long ago;
* cancelled guest orders: a guest order cancelled without ever being paid loses its
  e-mail, shipping address, phone and visitor id (the order and its lines stay), and its
  payment attempts lose the card reference;
* domain events: outbox events (`order_paid` carries the order's e-mail) dispatched that
  long ago. Nothing reads an event once every subscriber has handled it, so the row goes;
  events not dispatched yet (pending or failing) stay until they are;
* stock alerts: a shopper's request to hear when a product is back in stock, set that long
  ago and never answered (the product did not come back);
* guest stock alerts: the same request from a visitor, with the e-mail address they gave;
* unconfirmed stock alerts: a visitor's request whose address was never confirmed (its
  link lapses after a week anyway).

Kept for good: Stripe webhook records (`WebhookEvent`). They hold the event id, type,
a short outcome such as "paid" and the time, never the event's payload, and the id is
what answers a replayed delivery as a duplicate. E-mail subjects stay too: they name no
person, only an order or membership number, a tier, a points count or a product, which
the kept row and the order or account it points to hold anyway.

Each kind is deleted or blanked in batches, each batch its own short transaction (SQLite's
write lock is never held long). Running it again removes nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import AccountToken
from shop.analytics.online import MAX_DAYS
from shop.cart.models import Cart, CartItem
from shop.catalog.models import GuestStockAlert, StockAlert
from shop.db import Transaction, utcnow
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from shop.mail.outbox import forgotten_values
from shop.merchandising.models import Experiment
from shop.orders import states
from shop.orders.models import Order, OrderStatusChange
from shop.payments.models import PaymentAttempt
from shop.recommendation_models import Impression
from shop.tracking.models import Event


@dataclass(frozen=True)
class Batch:
    """The next batch of a kind: up to `size` rows with an id above `after`."""

    after: int
    size: int


# One batch of one kind: handle it in the session given, return the ids handled.
Step = Callable[[Session, Batch], list[int]]

BATCH_SIZE = 500
# The online metrics look back at most MAX_DAYS whole days, today included: a row a day
# older than that is never counted.
METRICS_DAYS = MAX_DAYS + 1
RETAINED_TEXT = "(removed after the retention period)"
FINISHED_EMAILS = ("sent", "failed", "withdrawn")
GUEST_ORDER_DETAILS = ("email", "ship_name", "ship_line1", "ship_line2", "ship_city")
GUEST_ORDER_DETAILS += ("ship_postcode", "phone", "visitor_id")


class RetentionError(ValueError):
    """A retention period that would remove data the shop still needs."""


@dataclass(frozen=True)
class Retention:
    """How many days each kind of data is kept (see the module docstring)."""

    visitor_carts: int = 90
    visitor_searches: int = 90
    visitor_events: int = 400
    visitor_impressions: int = 400
    email_text: int = 90
    spent_tokens: int = 30
    cancelled_guest_orders: int = 180
    domain_events: int = 30
    stock_alerts: int = 365
    guest_stock_alerts: int = 365
    unconfirmed_stock_alerts: int = 7

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 1:
                raise RetentionError(f"{field.name} must be kept at least 1 day")
        for name in ("visitor_events", "visitor_impressions"):
            if getattr(self, name) < METRICS_DAYS:
                raise RetentionError(
                    f"{name} must be kept at least {METRICS_DAYS} days: the console's "
                    "online metrics look back a year"
                )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Retention:
        """The periods from the app's settings (RETAIN_<KIND>_DAYS)."""
        return cls(**{f.name: int(config[f"RETAIN_{f.name.upper()}_DAYS"]) for f in fields(cls)})


# What each kind does, for the report: "deleted" or "blanked".
KINDS: dict[str, str] = {
    "visitor_carts": "deleted",
    "visitor_searches": "deleted",
    "visitor_events": "deleted",
    "visitor_impressions": "deleted",
    "email_text": "blanked",
    "spent_tokens": "deleted",
    "cancelled_guest_orders": "blanked",
    "domain_events": "deleted",
    "stock_alerts": "deleted",
    "guest_stock_alerts": "deleted",
    "unconfirmed_stock_alerts": "deleted",
}
LABELS = {
    "visitor_carts": "abandoned visitor cart(s)",
    "visitor_searches": "visitor search(es)",
    "visitor_events": "other visitor event(s)",
    "visitor_impressions": "visitor recommendation impression(s)",
    "email_text": "e-mail(s)' address and text",
    "spent_tokens": "used or expired account link(s)",
    "cancelled_guest_orders": "cancelled unpaid guest order(s)' contact details",
    "domain_events": "dispatched domain event(s)",
    "stock_alerts": "unanswered back-in-stock alert(s)",
    "guest_stock_alerts": "unanswered visitor back-in-stock alert(s)",
    "unconfirmed_stock_alerts": "unconfirmed visitor back-in-stock alert(s)",
}


@dataclass(frozen=True)
class PruneReport:
    """How many rows of each kind were removed or blanked, and the periods used."""

    counts: dict[str, int]
    retention: Retention

    def lines(self) -> list[str]:
        """One line per kind, for the command's output and the log."""
        return [
            f"{KINDS[kind].capitalize()} {count} {LABELS[kind]} older than "
            f"{getattr(self.retention, kind)} day(s)."
            for kind, count in self.counts.items()
        ]

    @property
    def total(self) -> int:
        """Rows removed or blanked in all."""
        return sum(self.counts.values())


def prune(
    transaction: Transaction,
    retention: Retention | None = None,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> PruneReport:
    """Delete or blank every kind of data older than its retention period; see the module."""
    retention = retention or Retention()
    now = now or utcnow()
    with transaction() as session:
        experiments_since = _oldest_running_experiment(session)

    def cutoff(kind: str, *, experiments: bool = False) -> datetime:
        moment = now - timedelta(days=getattr(retention, kind))
        if experiments and experiments_since is not None:
            return min(moment, experiments_since)
        return moment

    steps: dict[str, Step] = {
        "visitor_carts": lambda s, b: _visitor_carts(s, cutoff("visitor_carts"), b),
        "visitor_searches": lambda s, b: _visitor_searches(s, cutoff("visitor_searches"), b),
        "visitor_events": lambda s, b: _visitor_events(
            s, cutoff("visitor_events", experiments=True), b
        ),
        "visitor_impressions": lambda s, b: _visitor_impressions(
            s, cutoff("visitor_impressions", experiments=True), b
        ),
        "email_text": lambda s, b: _email_text(s, cutoff("email_text"), now, b),
        "spent_tokens": lambda s, b: _spent_tokens(s, cutoff("spent_tokens"), b),
        "cancelled_guest_orders": lambda s, b: _cancelled_guest_orders(
            s, cutoff("cancelled_guest_orders"), b
        ),
        "domain_events": lambda s, b: _domain_events(s, cutoff("domain_events"), b),
        "stock_alerts": lambda s, b: _delete_rows(
            s, StockAlert, [StockAlert.created_at < cutoff("stock_alerts")], b
        ),
        "guest_stock_alerts": lambda s, b: _delete_rows(
            s,
            GuestStockAlert,
            [
                GuestStockAlert.confirmed_at.is_not(None),
                GuestStockAlert.created_at < cutoff("guest_stock_alerts"),
            ],
            b,
        ),
        "unconfirmed_stock_alerts": lambda s, b: _delete_rows(
            s,
            GuestStockAlert,
            [
                GuestStockAlert.confirmed_at.is_(None),
                GuestStockAlert.confirm_sent_at < cutoff("unconfirmed_stock_alerts"),
            ],
            b,
        ),
    }
    counts = {kind: _in_batches(transaction, step, batch_size) for kind, step in steps.items()}
    return PruneReport(counts, retention)


def _in_batches(transaction: Transaction, step: Step, size: int) -> int:
    # Each batch starts after the last row the one before handled, so rows that are kept
    # (a shop's purchase history) are read once, not again for every batch.
    done, after = 0, 0
    while True:
        with transaction() as session:
            ids = step(session, Batch(after, size))
        done += len(ids)
        if len(ids) < size:
            return done
        after = ids[-1]


def _oldest_running_experiment(session: Session) -> datetime | None:
    query = select(func.min(Experiment.started_at)).where(Experiment.status == "running")
    return session.scalar(query)


def _ids(session: Session, column: Any, *where: ColumnElement[bool], batch: Batch) -> list[int]:
    query = select(column).where(column > batch.after, *where).order_by(column)
    return list(session.scalars(query.limit(batch.size)))


def _visitor_carts(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    ids = _ids(session, Cart.id, Cart.user_id.is_(None), Cart.updated_at < cutoff, batch=batch)
    if ids:
        session.execute(delete(CartItem).where(CartItem.cart_id.in_(ids)))
        session.execute(delete(Cart).where(Cart.id.in_(ids)))
    return ids


def _delete_rows(
    session: Session, model: Any, where: list[ColumnElement[bool]], batch: Batch
) -> list[int]:
    ids = _ids(session, model.id, *where, batch=batch)
    if ids:
        session.execute(delete(model).where(model.id.in_(ids)))
    return ids


def _visitor_searches(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    where = [Event.kind == "search", Event.user_id.is_(None), Event.created_at < cutoff]
    return _delete_rows(session, Event, where, batch)


def _visitor_events(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    where = [
        Event.user_id.is_(None),
        Event.kind != "purchase",
        Event.order_id.is_(None),
        Event.created_at < cutoff,
    ]
    return _delete_rows(session, Event, where, batch)


def _visitor_impressions(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    where = [Impression.user_id.is_(None), Impression.created_at < cutoff]
    return _delete_rows(session, Impression, where, batch)


def _email_text(session: Session, cutoff: datetime, now: datetime, batch: Batch) -> list[int]:
    where = [
        OutboxEmail.status.in_(FINISHED_EMAILS),
        OutboxEmail.forgotten_at.is_(None),
        OutboxEmail.created_at < cutoff,
    ]
    ids = _ids(session, OutboxEmail.id, *where, batch=batch)
    if ids:
        values = {**forgotten_values(now), "text_body": RETAINED_TEXT, "html_body": RETAINED_TEXT}
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return ids


def _spent_tokens(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    spent = or_(AccountToken.used_at < cutoff, AccountToken.expires_at < cutoff)
    return _delete_rows(session, AccountToken, [spent], batch)


def _never_paid() -> ColumnElement[bool]:
    paid_step = exists().where(
        OrderStatusChange.order_id == Order.id, OrderStatusChange.to_status == states.PAID
    )
    paid_attempt = exists().where(
        PaymentAttempt.order_id == Order.id, PaymentAttempt.status == "succeeded"
    )
    return and_(~paid_step, ~paid_attempt, Order.refunded_pence == 0)


def _cancelled_guest_orders(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    columns = [getattr(Order, name) for name in GUEST_ORDER_DETAILS]
    where = [
        Order.user_id.is_(None),
        Order.status == states.CANCELLED,
        Order.placed_at < cutoff,
        or_(*(column.is_not(None) for column in columns)),
        _never_paid(),
    ]
    ids = _ids(session, Order.id, *where, batch=batch)
    if ids:
        session.execute(
            update(Order)
            .where(Order.id.in_(ids))
            .values(dict.fromkeys(GUEST_ORDER_DETAILS))
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PaymentAttempt)
            .where(PaymentAttempt.order_id.in_(ids), PaymentAttempt.payment_method_id.is_not(None))
            .values(payment_method_id=None)
            .execution_options(synchronize_session=False)
        )
    return ids


def _domain_events(session: Session, cutoff: datetime, batch: Batch) -> list[int]:
    where = [DomainEvent.dispatched_at.is_not(None), DomainEvent.dispatched_at < cutoff]
    return _delete_rows(session, DomainEvent, where, batch)
