"""Domain events (`order_paid`, `order_refunded`, ...) as blinker signals.

A service records an event with `record_event` in the same transaction as the change
that causes it. After that transaction commits, `dispatch_pending` sends each stored event
to its subscribers and marks it dispatched; an event whose subscriber fails stays
pending and is retried, with a growing delay (10 s, 20 s, ... at most an hour) but
without end, so no event is ever given up; `flask events dispatch` retries them at once
and lists those still failing. Subscribers must therefore be idempotent: the loyalty
ledger, for instance, has a unique key per order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from blinker import Namespace
from sqlalchemy import event, inspect, or_, select, update
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.events.models import DomainEvent
from shop.mail.sender import backoff_seconds

log = logging.getLogger(__name__)

signals = Namespace()
order_paid = signals.signal("order_paid")
order_refunded = signals.signal("order_refunded")
customer_registered = signals.signal("customer_registered")
profile_changed = signals.signal("profile_changed")
# An unpaid order's hold ended (cancelled, expired, payment declined): give back what it
# held. Payload: order_id, number, user_id, points_redeemed.
order_released = signals.signal("order_released")

KNOWN = {
    s.name: s
    for s in (order_paid, order_refunded, customer_registered, profile_changed, order_released)
}
RETRY_BASE_S = 10.0
RETRY_CAP_S = 3600.0
PENDING_FLAG = "domain_events_pending"


def record_event(session: Session, name: str, payload: dict[str, Any]) -> DomainEvent:
    """Store an event in the caller's transaction; it is published after the commit."""
    if name not in KNOWN:
        raise ValueError(f"unknown domain event {name!r}")
    event = DomainEvent(name=name, payload=payload)
    session.add(event)
    session.info.setdefault(PENDING_FLAG, []).append(event)
    return event


def dispatch_pending(
    session_factory: Callable[[], Session], *, limit: int = 100, due_only: bool = True
) -> int:
    """Publish stored events in order; return how many were dispatched. With `due_only`,
    events whose subscriber failed wait out their backoff first."""
    query = select(DomainEvent.id).where(DomainEvent.dispatched_at.is_(None))
    if due_only:
        query = query.where(
            or_(DomainEvent.next_attempt_at.is_(None), DomainEvent.next_attempt_at <= utcnow())
        )
    with session_factory() as session:
        ids = list(session.scalars(query.order_by(DomainEvent.id).limit(limit)))
    return dispatch_events(session_factory, ids)


def failing(session_factory: Callable[[], Session], limit: int = 20) -> list[DomainEvent]:
    """Events not dispatched yet whose subscriber failed at least once, oldest first."""
    with session_factory() as session:
        return list(
            session.scalars(
                select(DomainEvent)
                .where(DomainEvent.dispatched_at.is_(None), DomainEvent.last_error.is_not(None))
                .order_by(DomainEvent.id)
                .limit(limit)
            )
        )


def retry_delay_s(attempts: int) -> float:
    """How long an event waits before its next automatic try, after `attempts` tries (the
    outbox's backoff, without its jitter: one dispatcher retries, not a crowd)."""
    return backoff_seconds(max(attempts, 1), RETRY_BASE_S, RETRY_CAP_S, jitter=0.0)


def dispatch_events(session_factory: Callable[[], Session], ids: list[int]) -> int:
    """Publish the given stored events; return how many were dispatched."""
    return sum(_dispatch_one(session_factory, event_id) for event_id in ids)


def _dispatch_one(session_factory: Callable[[], Session], event_id: int) -> int:
    with session_factory() as session, session.begin():
        event = session.get(DomainEvent, event_id)
        if event is None or event.dispatched_at is not None:
            return 0
        # Claim it: another dispatcher that read the same attempts count loses the race.
        claimed = session.execute(
            update(DomainEvent)
            .where(DomainEvent.id == event_id, DomainEvent.attempts == event.attempts)
            .values(attempts=event.attempts + 1)
        )
        if claimed.rowcount != 1:
            return 0
        name, payload, attempts = event.name, dict(event.payload), event.attempts + 1
        if not KNOWN[name].receivers:  # nobody listens: done in this one transaction
            event.dispatched_at = utcnow()
            return 1
    try:
        KNOWN[name].send(name, **payload)
    except Exception as exc:
        delay = retry_delay_s(attempts)
        log.exception(
            "a subscriber of %s #%d failed (try %d); it will be retried in %.0f s",
            name,
            event_id,
            attempts,
            delay,
        )
        with session_factory() as session, session.begin():
            session.execute(
                update(DomainEvent)
                .where(DomainEvent.id == event_id)
                .values(
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                )
            )
        return 0
    with session_factory() as session, session.begin():
        session.execute(
            update(DomainEvent).where(DomainEvent.id == event_id).values(dispatched_at=utcnow())
        )
    return 1


def _after_commit(session: Session) -> None:
    root = session.get_transaction()
    if root is not None and root.is_active:
        # A savepoint was released (begin_nested): the outer transaction, which holds the
        # events and the write lock, has not committed yet.
        return
    recorded = session.info.pop(PENDING_FLAG, None)
    if not recorded:
        return
    from shop.db import db

    if db.write_session_factory is None:
        return
    try:
        # Only this transaction's events: older stragglers are the worker's job.
        ids = [inspect(event).identity[0] for event in recorded if inspect(event).identity]
        dispatch_events(db.write_session_factory, ids)
    except Exception:
        log.exception("dispatching domain events failed; they stay stored for a retry")


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_FLAG, None)


def install() -> None:
    """Publish stored events after every commit that recorded some (idempotent)."""
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
