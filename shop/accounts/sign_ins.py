"""Signed-in browser sessions known to the server.

Flask keeps the session in a signed cookie, so without a record on the server "sign out"
could only ask the browser to forget its cookies: a copy taken before (from a shared
computer, a backup, malware) stayed signed in. Each sign-in gets a random key, kept in the
session and next to the remember-me cookie; only its hash is stored here. A request whose
key is not a live sign-in of its account is signed out, and so is one whose sign-in has not
been used for IDLE_LIMIT (a remembered browser forgotten on a shared computer does not stay
signed in for the cookie's whole year).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shop.accounts.models import SignIn
from shop.db import Transaction, utcnow

log = logging.getLogger(__name__)

# Ended sign-ins stay in the account's data download for a while, then are forgotten.
KEEP_ENDED = timedelta(days=30)
# A sign-in not used for this long has ended (its browser is signed out on its next visit).
IDLE_LIMIT = timedelta(days=30)
# How stale `last_seen_at` may get before a request writes it again: at most one write per
# sign-in and hour, so a browsing shopper does not turn every page into a write.
SEEN_EVERY = timedelta(hours=1)
MAX_KEY_CHARS = 100
PRUNE_BATCH_SIZE = 500


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(session: Session, user_id: int, browser: str, now: datetime | None = None) -> str:
    """Record a new sign-in of the account and return its key (for the session only)."""
    now = now or utcnow()
    session.execute(
        delete(SignIn).where(SignIn.user_id == user_id, SignIn.ended_at < now - KEEP_ENDED)
    )
    key = secrets.token_urlsafe(32)
    session.add(SignIn(user_id=user_id, key_hash=_hash(key), browser=browser[:200], created_at=now))
    session.flush()
    return key


def _last_use() -> ColumnElement[datetime]:
    """SQL: when a sign-in was last used (to the hour), or made if never since."""
    return func.coalesce(SignIn.last_seen_at, SignIn.created_at)


def is_live(
    session: Session,
    user_id: int,
    key: object,
    *,
    record_use: Transaction | None = None,
    now: datetime | None = None,
) -> bool:
    """True when `key` is a sign-in of this account that has not ended and was used within
    IDLE_LIMIT. With `record_use`, a use is written (in that transaction, its own) when the
    last one recorded is more than SEEN_EVERY old."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        return False
    found = session.execute(
        select(SignIn.id, _last_use()).where(
            SignIn.key_hash == _hash(key), SignIn.user_id == user_id, SignIn.ended_at.is_(None)
        )
    ).first()
    if found is None:
        return False
    sign_in_id, seen = found
    now = now or utcnow()
    if seen <= now - IDLE_LIMIT:
        return False
    if record_use is not None and seen <= now - SEEN_EVERY:
        _record_use(record_use, sign_in_id, now)
    return True


def _record_use(transaction: Transaction, sign_in_id: int, now: datetime) -> None:
    try:
        with transaction() as session:
            session.execute(
                update(SignIn)
                .where(SignIn.id == sign_in_id, SignIn.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    except OperationalError:
        # The database busy past its timeout: the page still works, and the next request
        # an hour's worth of staleness later tries again.
        log.warning("could not record the use of sign-in %s", sign_in_id, exc_info=True)


def end(session: Session, user_id: int, key: object) -> None:
    """End one sign-in (signing out in that browser)."""
    if isinstance(key, str) and key and len(key) <= MAX_KEY_CHARS:
        session.execute(
            update(SignIn)
            .where(SignIn.key_hash == _hash(key), SignIn.user_id == user_id)
            .where(SignIn.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_others(session: Session, user_id: int, keep: object) -> int:
    """End every sign-in of the account except `keep`; return how many ended."""
    query = update(SignIn).where(SignIn.user_id == user_id, SignIn.ended_at.is_(None))
    if isinstance(keep, str) and keep:
        query = query.where(SignIn.key_hash != _hash(keep))
    result = session.execute(query.values(ended_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def live_sign_ins(
    session: Session, user_id: int, this_key: object, now: datetime | None = None
) -> list[tuple[SignIn, bool]]:
    """The account's sign-ins that have not ended or gone idle, newest first, each with
    whether it is the one with key `this_key` (this browser)."""
    idle_since = (now or utcnow()) - IDLE_LIMIT
    query = select(SignIn).where(
        SignIn.user_id == user_id,
        SignIn.ended_at.is_(None),
        _last_use() > idle_since,
    )
    this = _hash(this_key) if isinstance(this_key, str) else None
    rows = session.scalars(query.order_by(SignIn.id.desc()))
    return [(row, row.key_hash == this) for row in rows]


def prune_ended(
    transaction: Transaction,
    now: datetime | None = None,
    keep: timedelta = KEEP_ENDED,
    batch_size: int = PRUNE_BATCH_SIZE,
) -> int:
    """End the sign-ins idle for IDLE_LIMIT, then delete every account's sign-ins that
    ended more than `keep` ago; return how many were deleted.

    Each batch of `batch_size` rows is its own short transaction, so SQLite's write lock is
    never held for long. An idle sign-in ends at its last use plus IDLE_LIMIT, the moment
    it stopped working, so it stays in the data download for `keep` from then.
    """
    now = now or utcnow()
    _end_idle(transaction, now, batch_size)
    cutoff = now - keep
    pruned = 0
    while True:
        with transaction() as session:
            ids = list(
                session.scalars(
                    select(SignIn.id)
                    .where(SignIn.ended_at < cutoff)
                    .order_by(SignIn.id)
                    .limit(batch_size)
                )
            )
            if ids:
                session.execute(delete(SignIn).where(SignIn.id.in_(ids)))
        pruned += len(ids)
        if len(ids) < batch_size:
            return pruned


def _end_idle(transaction: Transaction, now: datetime, batch_size: int) -> None:
    seen = _last_use()
    while True:
        with transaction() as session:
            rows = session.execute(
                select(SignIn.id, seen)
                .where(SignIn.ended_at.is_(None), seen <= now - IDLE_LIMIT)
                .order_by(SignIn.id)
                .limit(batch_size)
            ).all()
            for sign_in_id, last in rows:
                session.execute(
                    update(SignIn).where(SignIn.id == sign_in_id).values(ended_at=last + IDLE_LIMIT)
                )
        if len(rows) < batch_size:
            return
