"""Linking a visitor's anonymous events to an account."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.tracking.models import Event

SIGN_IN_KINDS = ("login", "register")
# How long a row may wait in another server process's writer (or for a database that was
# down) and still be linked to the sign-in that followed it.
LATE_ROW_WINDOW = timedelta(minutes=10)


def link_visitor_events(session: Session, visitor_id: str, user_id: int) -> int:
    """Attach a visitor's earlier anonymous events to an account; return how many moved."""
    result = session.execute(
        update(Event)
        .where(Event.visitor_id == visitor_id, Event.user_id.is_(None))
        .values(user_id=user_id)
    )
    return int(result.rowcount or 0)


def link_order_events(session: Session, order_ids: Sequence[int], user_id: int) -> int:
    """Attach the anonymous events of these orders (their purchases) to an account; return
    how many moved."""
    if not order_ids:
        return 0
    result = session.execute(
        update(Event)
        .where(Event.order_id.in_(order_ids), Event.user_id.is_(None))
        .values(user_id=user_id)
    )
    return int(result.rowcount or 0)


def anonymous_visitor_id() -> str:
    """The visitor id that rows of a deleted account are left with (nobody's browser)."""
    return f"deleted-{uuid.uuid4().hex[:16]}"


def forget_deleted_accounts(
    conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Unlink stored rows (events, impressions) of accounts deleted while they were queued.

    Deleting an account unlinks what is stored; a page viewed just before is stored up to a
    batch later, by this process's writer or another's, and would stay linked to the account
    and the browser. Returns how many rows were unlinked (almost always none).
    """
    user_ids = {row["user_id"] for row in rows if row.get("user_id") is not None}
    if not user_ids:
        return 0
    users = User.__table__
    deleted = list(
        conn.scalars(
            select(users.c.id).where(users.c.id.in_(user_ids), users.c.deleted_at.is_not(None))
        )
    )
    if not deleted:
        return 0
    result = conn.execute(
        update(table)
        .where(table.c.user_id.in_(deleted))
        .values(user_id=None, visitor_id=anonymous_visitor_id())
    )
    return int(result.rowcount or 0)


def after_events_stored(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """The follow-up of every stored batch of events: unlink those of deleted accounts, then
    link late anonymous ones to the sign-in that followed them."""
    rows = list(rows)
    forget_deleted_accounts(conn, Event.__table__, rows)  # type: ignore[arg-type]
    link_late_events(conn, rows)


def link_late_events(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Attach anonymous events stored after their visitor's sign-in to that account.

    Signing in links the events already stored, and those queued in the same process. A
    row queued in another server process is stored later, and so may be the sign-in event
    itself: whichever of the two is stored last links them here. An event goes to the first
    sign-in at or after it, of an account that still allows personalization.
    """
    rows = list(rows)
    visitors = {r["visitor_id"] for r in rows if r["user_id"] is None or r["kind"] in SIGN_IN_KINDS}
    if not visitors:
        return 0
    since = min(r["created_at"] for r in rows) - LATE_ROW_WINDOW
    events = Event.__table__
    # Recent sign-ins first (a short scan of the kind/time index), so that a busy anonymous
    # visitor costs one cheap query and no per-row subquery.
    signed_in = set(
        conn.scalars(
            select(events.c.visitor_id)
            .where(
                events.c.kind.in_(SIGN_IN_KINDS),
                events.c.created_at >= since,
                events.c.user_id.is_not(None),
                events.c.visitor_id.in_(visitors),
            )
            .distinct()
        )
    )
    if not signed_in:
        return 0
    sign_in = events.alias("sign_in")
    account = (
        select(sign_in.c.user_id)
        .join(User.__table__, User.__table__.c.id == sign_in.c.user_id)
        .where(
            sign_in.c.visitor_id == events.c.visitor_id,
            sign_in.c.kind.in_(SIGN_IN_KINDS),
            sign_in.c.created_at >= events.c.created_at,
            User.__table__.c.tracking_enabled.is_(True),
            User.__table__.c.deleted_at.is_(None),
        )
        .order_by(sign_in.c.created_at, sign_in.c.id)
        .limit(1)
        .scalar_subquery()
    )
    result = conn.execute(
        update(events)
        .where(
            events.c.visitor_id.in_(signed_in),
            events.c.user_id.is_(None),
            events.c.created_at >= since,
            account.is_not(None),
        )
        .values(user_id=account)
    )
    return int(result.rowcount or 0)
