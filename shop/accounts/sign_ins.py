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
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import SignIn
from shop.db import utcnow

KEEP_ENDED = timedelta(days=30)  # ended sign-ins are listed for a while, then forgotten
MAX_KEY_CHARS = 100


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
