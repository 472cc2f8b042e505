"""The console's audit log: every change with who, what, when, before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shop.accounts.models import User
from shop.console.models import AuditEntry
from shop.form_fields import DATE_RANGE_MESSAGE, date_in_range
from shop.pagination import Page, check_page

# Entries of the admin-only areas (staff roles, the loyalty programme and its members'
# points, with staff's notes on them) are shown to admins only, like those areas' pages.
ADMIN_ONLY_ACTIONS = ("staff.", "loyalty.")


def _visible_to(admin: bool) -> list[ColumnElement[bool]]:
    if admin:
        return []
    return [~AuditEntry.action.startswith(prefix) for prefix in ADMIN_ONLY_ACTIONS]


@dataclass(frozen=True)
class Actor:
    """Who made a change (a staff user, or a command-line run)."""

    id: int | None
    email: str

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a signed-in staff user."""
        return cls(user.id, user.email or f"user {user.id}")


CLI_ACTOR = Actor(None, "command line")
SINCE_FORMAT_MESSAGE = "The date must look like 2026-11-23."


def parse_since(text: str) -> datetime | None:
    """The audit filter's "since" as naive UTC (the log's time); ValueError with a message."""
    if not text:
        return None
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(SINCE_FORMAT_MESSAGE) from None
    if not date_in_range(since.date()):
        raise ValueError(DATE_RANGE_MESSAGE)
    if since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    return since


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it commits with the change)."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor_email=actor.email,
        action=action,
        target=target[:160],
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def audit_page(
    session: Session,
    *,
    page: int = 1,
    per_page: int = 50,
    action: str | None = None,
    since: datetime | None = None,
    admin: bool = True,
) -> Page[AuditEntry]:
    """The audit log filtered by action prefix and date, newest first (without the
    admin-only areas' entries unless `admin`); PageError(404) for a page past the last."""
    query = select(AuditEntry).where(*_visible_to(admin))
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if total:
        check_page(page, total, per_page)
    entries = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(entries), total, page, per_page)


def entry(session: Session, entry_id: int, *, admin: bool = True) -> AuditEntry | None:
    """One audit entry, or None (also for an admin-only area's entry unless `admin`)."""
    return session.scalar(select(AuditEntry).where(AuditEntry.id == entry_id, *_visible_to(admin)))
