"""Signed-in browser sessions known to the server.

Flask keeps the session in a signed cookie, so without a record on the server "sign out"
could only ask the browser to forget its cookies: a copy taken before (from a shared
computer, a backup, malware) stayed signed in. Each sign-in gets a random key, kept in the
session and next to the remember-me cookie; only its hash is stored here. A request whose
key is not a live sign-in of its account is signed out.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import SignIn
from shop.db import utcnow

# Ended sign-ins stay in the account's data download for a while, then are forgotten.
KEEP_ENDED = timedelta(days=30)
MAX_KEY_CHARS = 100
PRUNE_BATCH_SIZE = 500

Transaction = Callable[[], AbstractContextManager[Session]]


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


def is_live(session: Session, user_id: int, key: object) -> bool:
    """True when `key` is a sign-in of this account that has not ended."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        return False
    found = session.scalar(
        select(SignIn.id).where(
            SignIn.key_hash == _hash(key), SignIn.user_id == user_id, SignIn.ended_at.is_(None)
        )
    )
    return found is not None


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


def live_sign_ins(session: Session, user_id: int, this_key: object) -> list[tuple[SignIn, bool]]:
    """The account's sign-ins that have not ended, newest first, each with whether it is
    the one with key `this_key` (this browser)."""
    query = select(SignIn).where(SignIn.user_id == user_id, SignIn.ended_at.is_(None))
    this = _hash(this_key) if isinstance(this_key, str) else None
    rows = session.scalars(query.order_by(SignIn.id.desc()))
    return [(row, row.key_hash == this) for row in rows]


def prune_ended(
    transaction: Transaction,
    now: datetime | None = None,
    keep: timedelta = KEEP_ENDED,
    batch_size: int = PRUNE_BATCH_SIZE,
) -> int:
    """Delete every account's sign-ins that ended more than `keep` ago; return how many.

    Each batch of `batch_size` rows is its own short transaction, so SQLite's write lock is
    never held for long. Sign-ins that have not ended are kept however old: nothing records
    when a browser last used one, and deleting it would sign that browser out.
    """
    cutoff = (now or utcnow()) - keep
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
