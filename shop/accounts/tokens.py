"""Single-use, time-limited link tokens (password reset, e-mail change and its undoing).

The link carries a random token; only its SHA-256 is stored, so a copy of the database
cannot be turned into working links. A token is spent with a conditional update
(`used_at IS NULL`), so two clicks racing on the same link cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import AccountToken
from shop.db import utcnow

PASSWORD_RESET = "password_reset"
EMAIL_CHANGE = "email_change"
EMAIL_REVERT = "email_revert"  # sent to the old address: undo an e-mail change
EMAIL_CONFIRM = "email_confirm"  # confirm the account's own address
PURPOSES = (PASSWORD_RESET, EMAIL_CHANGE, EMAIL_REVERT, EMAIL_CONFIRM)
LIFETIMES = {
    PASSWORD_RESET: timedelta(hours=1),
    EMAIL_CHANGE: timedelta(hours=24),
    EMAIL_REVERT: timedelta(days=14),
    EMAIL_CONFIRM: timedelta(days=7),
}
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


class TokenError(ValueError):
    """A link that cannot be used; `status` is the HTTP status to answer with."""

    status = 400


class TokenInvalid(TokenError):
    """No such token (mistyped, forged, or for another purpose)."""

    status = 400


class TokenUsed(TokenError):
    """The link was already used, or a later action made it void."""

    status = 410


class TokenExpired(TokenError):
    """The link is older than its lifetime."""

    status = 410


def new_token() -> str:
    """Return a fresh URL-safe random token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token: what the database stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str) -> bool:
    """True when the text could be a token we issued (cheap check before any lookup)."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and token.isascii()


USED_MESSAGE = (
    "This link has already been used or was replaced "
    "(a newer request or a password change makes older links void)."
)


def check_usable(used_at: datetime | None, expires_at: datetime, now: datetime) -> None:
    """Raise TokenUsed or TokenExpired unless a token with these times may still be used."""
    if used_at is not None:
        raise TokenUsed(USED_MESSAGE)
    if now >= expires_at:
        raise TokenExpired("This link has expired.")


def issue(
    session: Session,
    user_id: int,
    purpose: str,
    *,
    new_email: str | None = None,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
) -> str:
    """Store the hash of a new token for the account; return the token for the link."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    now = now or utcnow()
    token = new_token()
    session.add(
        AccountToken(
            user_id=user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            new_email=new_email,
            expires_at=now + (lifetime or LIFETIMES[purpose]),
            created_at=now,
        )
    )
    session.flush()
    return token


def find(session: Session, token: str, purpose: str, now: datetime | None = None) -> AccountToken:
    """Return the usable token row for this link; raise a TokenError if it is not usable."""
    if not looks_like_token(token):
        raise TokenInvalid("This link is not valid. Please check that you copied all of it.")
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == hash_token(token), AccountToken.purpose == purpose
        )
    )
    if row is None:
        raise TokenInvalid("This link is not valid. Please check that you copied all of it.")
    check_usable(row.used_at, row.expires_at, now or utcnow())
    return row


def consume(
    session: Session, token: str, purpose: str, now: datetime | None = None
) -> AccountToken:
    """Spend a token once; raise a TokenError if it is unknown, used or expired."""
    now = now or utcnow()
    row = find(session, token, purpose, now)
    spent = session.execute(
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise TokenUsed(USED_MESSAGE)
    row.used_at = now
    return row


def void_all(session: Session, user_id: int, purpose: str, now: datetime | None = None) -> int:
    """Make every unused token of this purpose for the account unusable; return how many."""
    result = session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def recent_count(
    session: Session, user_id: int, purpose: str, window: timedelta, now: datetime | None = None
) -> int:
    """How many tokens of this purpose the account was sent within the window."""
    since = (now or utcnow()) - window
    return int(
        session.scalar(
            select(func.count(AccountToken.id)).where(
                AccountToken.user_id == user_id,
                AccountToken.purpose == purpose,
                AccountToken.created_at >= since,
            )
        )
        or 0
    )
