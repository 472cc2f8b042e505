"""Writing to the e-mail outbox: render a message and add it to the caller's transaction.

A row is added to the session the caller is already using, so it commits (or rolls back)
together with the state change that caused it. `shop.mail.sender` delivers it later.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shop.db import utcnow
from shop.mail.models import OutboxEmail

STATUSES = ("pending", "sending", "sent", "failed", "withdrawn")
DEFAULT_DOMAIN = "shop.local"
# Headers the sender sets itself; a row's extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "auto-submitted",
    }
)
MAX_LIST_LIMIT = 1000
FORGOTTEN_ADDRESS = "removed@forgotten.invalid"  # RFC 2606: can never be delivered
FORGOTTEN_TEXT = "(removed: the recipient's data was deleted)"
DEFAULT_CLAIM_TIMEOUT_S = 600


class OutboxError(ValueError):
    """An e-mail cannot be queued or changed as asked."""


def message_id_domain(base_url: str) -> str:
    """Return the host name of the shop's base URL, or 'shop.local' when it has none."""
    host = urlsplit(base_url).hostname if base_url else None
    return host or DEFAULT_DOMAIN


def new_message_id(domain: str) -> str:
    """Return a new globally unique Message-ID such as '<hex@shop.example>'."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def render_email(template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Render templates/email/{template}.txt and .html; return (text, html).

    Uses the app's Jinja environment (its filters, such as `money`, and its autoescaping
    of .html only) without the storefront's context processors, which need a request.
    """
    env = current_app.jinja_env
    values = {
        "shop_name": current_app.config.get("SHOP_NAME", ""),
        "shop_base_url": current_app.config.get("SHOP_BASE_URL", ""),
        **context,
    }
    text = env.get_template(f"email/{template}.txt").render(values)
    html = env.get_template(f"email/{template}.html").render(values)
    return text, html


def _check_single_line(label: str, value: str, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise OutboxError(f"{label} is empty")
    if "\r" in value or "\n" in value:
        raise OutboxError(f"{label} may not contain a line break")
    if len(value) > max_len:
        raise OutboxError(f"{label} is longer than {max_len} characters")
    return value


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not name or not all(33 <= ord(ch) <= 126 and ch != ":" for ch in name):
            raise OutboxError(f"invalid header name {name!r}")
        if name.lower() in RESERVED_HEADERS:
            raise OutboxError(f"header {name!r} is set by the sender, not by the caller")
        checked[name] = _check_single_line(f"header {name}", str(value), 2000)
    return checked


def enqueue_email(
    session: Session,
    *,
    kind: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    order_id: int | None = None,
    user_id: int | None = None,
    headers: dict[str, str] | None = None,
    forget_after_send: bool = False,
) -> OutboxEmail:
    """Render an e-mail and add it to the session as a pending outbox row (needs an app context).

    With `forget_after_send`, its address and text are removed once it is sent or has
    failed for good.
    """
    to_address = _check_single_line("recipient", to, 254)
    if "@" not in to_address:
        raise OutboxError(f"recipient {to_address!r} is not an e-mail address")
    clean_subject = _check_single_line("subject", subject, 300)
    extra_headers = _check_headers(headers)
    text_body, html_body = render_email(template, context)
    now = utcnow()
    row = OutboxEmail(
        message_id=new_message_id(message_id_domain(current_app.config.get("SHOP_BASE_URL", ""))),
        kind=_check_single_line("kind", kind, 40),
        to_address=to_address,
        subject=clean_subject,
        text_body=text_body,
        html_body=html_body,
        headers=extra_headers,
        order_id=order_id,
        user_id=user_id,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        forget_after_send=forget_after_send,
    )
    session.add(row)
    return row


def withdraw_pending(
    session: Session,
    kinds: Iterable[str],
    reason: str,
    *,
    order_id: int | None = None,
    user_id: int | None = None,
) -> int:
    """Stop the e-mails of these kinds, of one order or one person, still waiting to go out
    or to be retried (status `withdrawn`, never sent or retried); return how many.

    One being delivered at this moment goes; one left `sending` by a sender that died (its
    claim older than MAIL_CLAIM_TIMEOUT_S) is withdrawn too, or the next sender would send it.
    """
    if (order_id is None) == (user_id is None):
        raise ValueError("withdraw the e-mails of one order or of one person")
    whose = (
        OutboxEmail.order_id == order_id if order_id is not None else OutboxEmail.user_id == user_id
    )
    timeout_s = current_app.config.get("MAIL_CLAIM_TIMEOUT_S", DEFAULT_CLAIM_TIMEOUT_S)
    abandoned = and_(
        OutboxEmail.status == "sending",
        OutboxEmail.claimed_at < utcnow() - timedelta(seconds=float(timeout_s)),
    )
    result = session.execute(
        update(OutboxEmail)
        .where(
            whose,
            OutboxEmail.kind.in_(list(kinds)),
            or_(OutboxEmail.status == "pending", abandoned),
        )
        .values(status="withdrawn", last_error=reason, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def readdress_waiting(
    session: Session,
    order_ids: Iterable[int],
    old: str,
    new: str,
    normalise: Callable[[str], str] = str.lower,
) -> int:
    """Send these orders' e-mails still waiting to go out or to be retried, and addressed to
    `old` (compared after `normalise`), to `new` instead; return how many.

    One being delivered at this moment goes to the address it was written with.
    """
    wanted = normalise(old)
    ids = [
        email_id
        for email_id, address in session.execute(
            select(OutboxEmail.id, OutboxEmail.to_address).where(
                OutboxEmail.order_id.in_(list(order_ids)),
                OutboxEmail.status.in_(("pending", "failed")),
            )
        )
        if normalise(address) == wanted
    ]
    if ids:
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(ids), OutboxEmail.status.in_(("pending", "failed")))
            .values(to_address=new)
            .execution_options(synchronize_session=False)
        )
    return len(ids)


# What an error message says instead of the address it named.
RECIPIENT = "the recipient"


def forgotten_values(now: datetime) -> dict[str, Any]:
    """The column values of a row whose address and text have been removed (for an UPDATE:
    the last error keeps its text, with the address taken out)."""
    return {
        "to_address": FORGOTTEN_ADDRESS,
        "last_error": func.replace(OutboxEmail.last_error, OutboxEmail.to_address, RECIPIENT),
        "text_body": FORGOTTEN_TEXT,
        "html_body": FORGOTTEN_TEXT,
        "headers": {},
        "forgotten_at": now,
    }


def forget_if_asked(session: Session, email_id: int, now: datetime) -> None:
    """Remove the address and text of a finished row that asked for it (caller commits)."""
    session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            OutboxEmail.forget_after_send.is_(True),
            OutboxEmail.forgotten_at.is_(None),
        )
        .values(**forgotten_values(now))
        .execution_options(synchronize_session=False)
    )


def retry_email(session: Session, email_id: int) -> OutboxEmail:
    """Put a failed e-mail back in the queue with a fresh set of attempts (caller commits)."""
    result = session.execute(
        update(OutboxEmail)
        .where(
            OutboxEmail.id == email_id,
            OutboxEmail.status == "failed",
            OutboxEmail.forgotten_at.is_(None),
        )
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            claimed_by=None,
            claimed_at=None,
        )
        .execution_options(synchronize_session="fetch")
    )
    row = session.get(OutboxEmail, email_id)
    if row is None:
        raise OutboxError(f"there is no e-mail with id {email_id}")
    if getattr(result, "rowcount", 0) != 1:
        if row.forgotten_at is not None:
            raise OutboxError(
                f"e-mail {email_id}'s address and text were removed; it can't be sent"
            )
        raise OutboxError(f"e-mail {email_id} is {row.status}; only failed e-mails can be retried")
    return row


def outbox_rows(session: Session, status: str | None = None, limit: int = 50) -> list[OutboxEmail]:
    """Return the newest outbox rows first, optionally only those with one status."""
    if status is not None and status not in STATUSES:
        raise OutboxError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
    limit = max(1, min(int(limit), MAX_LIST_LIMIT))
    query = select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxEmail.status == status)
    return list(session.scalars(query))


def recent_count(
    session: Session,
    user_id: int,
    kinds: Iterable[str],
    window: timedelta,
    now: datetime | None = None,
) -> int:
    """How many e-mails of these kinds were queued for the account within the window
    (whatever became of them), for capping what one account can have sent."""
    return _recent(session, OutboxEmail.user_id == user_id, kinds, window, now)


def recent_order_count(
    session: Session,
    order_id: int,
    kinds: Iterable[str],
    window: timedelta,
    now: datetime | None = None,
) -> int:
    """How many e-mails of these kinds were queued about the order within the window."""
    return _recent(session, OutboxEmail.order_id == order_id, kinds, window, now)


def _recent(
    session: Session,
    about: ColumnElement[bool],
    kinds: Iterable[str],
    window: timedelta,
    now: datetime | None,
) -> int:
    since = (now or utcnow()) - window
    query = select(func.count(OutboxEmail.id)).where(
        about, OutboxEmail.kind.in_(tuple(kinds)), OutboxEmail.created_at >= since
    )
    return int(session.scalar(query) or 0)


def outbox_counts(session: Session) -> dict[str, int]:
    """Return how many outbox rows have each status (every status present, zero if none)."""
    query = select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in session.execute(query):
        counts[status] = int(count)
    return counts
