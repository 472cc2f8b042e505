"""Password and e-mail changes, and password reset by e-mail link.

Changing the password or the e-mail address needs the current password. A new e-mail
address takes effect only when the link sent to it is opened; the old address is told
at once. Password-reset requests answer the same way whether or not an account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from shop.accounts import notices, profile, sign_ins, tokens
from shop.accounts.models import User
from shop.accounts.services import AccountError, email_confirmed, normalise_email
from shop.db import utcnow
from shop.mail.outbox import render_email
from shop.orders.models import Order
from shop.orders.services import follow_address_change

# At most this many reset e-mails per account per hour; more requests get the same answer
# but send nothing (no mail-bombing an address through the form).
RESET_EMAILS_PER_HOUR = 3
EMAIL_CHANGES_PER_HOUR = 5
TAKEN = "That e-mail address is already used by another account."


class WrongPassword(AccountError):
    """The current password did not match."""


class EmailTaken(AccountError):
    """The new e-mail address belongs to another account."""


class Throttled(AccountError):
    """Too many requests of this kind for the account in the last hour."""


def verify_password(user: User, password: str) -> None:
    """Raise WrongPassword unless this is the account's current password."""
    if not user.password_hash or not check_password_hash(user.password_hash, password or ""):
        raise WrongPassword("Your current password is not correct.")


def session_fingerprint(user: User, secret: str) -> str:
    """A short keyed digest of the password hash and session generation: sessions made
    before a password change, or before "sign out everywhere else", stop matching."""
    message = f"{user.id}:{user.password_hash or ''}"
    if user.session_generation:  # generation 0 keeps the sessions made before it existed
        message += f":{user.session_generation}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:24]


def end_other_sessions(
    session: Session, user: User, keep_key: object = None, base_url: str = ""
) -> None:
    """Sign out every browser signed in to the account but the one whose sign-in key is
    `keep_key` (the caller re-pins its own session), and confirm it by e-mail."""
    _end_sessions(session, user, keep_key)
    notices.profile_changed(session, user.id, "sessions", ["sessions"])
    summary = "Every other browser signed in to your account was signed out."
    profile.confirm_change(session, user, summary, base_url)
    session.flush()


def _end_sessions(session: Session, user: User, keep_key: object) -> None:
    """Sign out every browser of the account but the sign-in with key `keep_key`: older
    session fingerprints stop matching, and the server ends their sign-ins."""
    user.session_generation = (user.session_generation or 0) + 1
    sign_ins.end_others(session, user.id, keep_key)


def _email_taken(session: Session, email: str, user_id: int) -> bool:
    return (
        session.scalar(select(User.id).where(User.email == email, User.id != user_id)) is not None
    )


def change_password(
    session: Session, user: User, current: str, new: str, base_url: str, keep_key: object = None
) -> None:
    """Set a new password after checking the current one; e-mail the account's address.
    Every other browser is signed out; the sign-in with key `keep_key` stays."""
    verify_password(user, current)
    # Any reset link still in an inbox must not undo this change.
    tokens.void_all(session, user.id, tokens.PASSWORD_RESET)
    _set_password(session, user, new, "password", base_url, keep_key)


def _set_password(
    session: Session, user: User, new: str, change: str, base_url: str, keep_key: object = None
) -> None:
    """Store the new hash, end the other sign-ins, record the change and e-mail the
    account's address. A pending e-mail change is cancelled: its notice to the old address
    promises that a password reset stops it, and the new password's owner decides again."""
    user.password_hash = generate_password_hash(new)
    sign_ins.end_others(session, user.id, keep_key)
    tokens.void_all(session, user.id, tokens.EMAIL_CHANGE)
    notices.profile_changed(session, user.id, change, ["password"])
    if user.email:
        notices.send(
            session,
            "account_password_changed",
            to=user.email,
            user_id=user.id,
            name=user.name,
            reset_url=f"{base_url}/account/password/reset",
        )
    session.flush()


def request_email_change(
    session: Session, user: User, current: str, new_email: str, base_url: str
) -> str:
    """Check the password, then send a link to the new address and a notice to the old one.

    Return the new address. Nothing changes on the account until the link is opened.
    """
    verify_password(user, current)
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("That is already your e-mail address.")
    if _email_taken(session, new_email, user.id):
        raise EmailTaken(TAKEN)
    window = timedelta(hours=1)
    if tokens.recent_count(session, user.id, tokens.EMAIL_CHANGE, window) >= EMAIL_CHANGES_PER_HOUR:
        raise Throttled("You have asked for several changes in the last hour; please wait a bit.")
    # Only the newest request counts.
    tokens.void_all(session, user.id, tokens.EMAIL_CHANGE)
    token = tokens.issue(session, user.id, tokens.EMAIL_CHANGE, new_email=new_email)
    hours = int(tokens.LIFETIMES[tokens.EMAIL_CHANGE].total_seconds() // 3600)
    if user.email:
        notices.send(
            session,
            "account_email_change_requested",
            to=user.email,
            user_id=user.id,
            name=user.name,
            new_email=new_email,
            reset_url=f"{base_url}/account/password/reset",
        )
    notices.send(
        session,
        "account_email_confirm",
        to=new_email,
        user_id=user.id,
        name=user.name,
        confirm_url=f"{base_url}/account/email/confirm/{token}",
        hours=hours,
    )
    session.flush()
    return new_email


def pending_email_change(session: Session, token: str) -> str:
    """The new address a still-usable e-mail-change link would set (raise a TokenError)."""
    row = tokens.find(session, token, tokens.EMAIL_CHANGE)
    return row.new_email or ""


@dataclass(frozen=True)
class EmailChanged:
    """The account whose address changed, and the guest orders that joined it."""

    user: User
    claimed: list[Order]


def confirm_email_change(
    session: Session, token: str, base_url: str, signed_in_user_id: int | None = None
) -> EmailChanged:
    """Open the link: the account's address becomes the new one, once. Opened while signed
    in to the account (`signed_in_user_id`), it also confirms the new address for the
    account's owner, and the paid guest orders placed with it join the account."""
    row = tokens.find(session, token, tokens.EMAIL_CHANGE)
    user = session.get(User, row.user_id)
    if user is None or user.deleted_at is not None or not row.new_email:
        raise tokens.TokenInvalid("This link is not valid.")
    if _email_taken(session, row.new_email, user.id):
        raise EmailTaken(TAKEN)
    tokens.consume(session, token, tokens.EMAIL_CHANGE)
    tokens.void_all(session, user.id, tokens.EMAIL_CHANGE)
    # A reset link sent to the old address must not give the account back to it.
    tokens.void_all(session, user.id, tokens.PASSWORD_RESET)
    old_email, user.email = user.email, row.new_email
    user.email_confirmed_at = None
    try:
        session.flush()
    except IntegrityError as exc:  # someone registered the address a moment ago
        raise EmailTaken(TAKEN) from exc
    claimed = email_confirmed(session, user) if signed_in_user_id == user.id else []
    notices.profile_changed(session, user.id, "email", ["email"])
    if old_email:
        follow_address_change(session, user.id, old_email, row.new_email, normalise_email)
        # Not voided by later password or address changes: whoever changed the address
        # may know the password, and the old address's owner must still get the account back.
        undo = tokens.issue(session, user.id, tokens.EMAIL_REVERT, new_email=old_email)
        notices.send(
            session,
            "account_email_changed",
            to=old_email,
            user_id=user.id,
            name=user.name,
            old_email=old_email,
            new_email=user.email,
            undo_url=f"{base_url}/account/email/undo/{undo}",
            days=tokens.LIFETIMES[tokens.EMAIL_REVERT].days,
        )
    session.flush()
    return EmailChanged(user, claimed)


def pending_email_revert(session: Session, token: str) -> str:
    """The address a still-usable undo link would give back (raise a TokenError)."""
    row = tokens.find(session, token, tokens.EMAIL_REVERT)
    return row.new_email or ""


def revert_email_change(session: Session, token: str, base_url: str) -> User:
    """Open the undo link sent to the old address: the account gets that address back and
    is locked until a new password is chosen through the reset link sent there, and every
    browser is signed out. Whoever changed the address may know the password."""
    row = tokens.consume(session, token, tokens.EMAIL_REVERT)
    user = session.get(User, row.user_id)
    if user is None or user.deleted_at is not None or not row.new_email:
        raise tokens.TokenInvalid("This link is not valid.")
    if _email_taken(session, row.new_email, user.id):
        raise EmailTaken(
            f"{row.new_email} now belongs to another account, so it cannot be given back "
            "to this one. Please contact us."
        )
    for purpose in tokens.PURPOSES:
        tokens.void_all(session, user.id, purpose)
    taken_from = user.email
    user.email = row.new_email
    user.email_confirmed_at = None  # confirmed again by the reset link sent there
    user.password_hash = generate_password_hash(secrets.token_urlsafe(32))  # nobody knows it
    _end_sessions(session, user, keep_key=None)
    try:
        session.flush()
    except IntegrityError as exc:
        raise EmailTaken(TAKEN) from exc
    if taken_from:
        follow_address_change(session, user.id, taken_from, row.new_email, normalise_email)
    notices.profile_changed(session, user.id, "email_revert", ["email", "password"])
    _send_reset_link(session, user, base_url, locked=True)
    return user


def request_password_reset(session: Session, email: str, base_url: str) -> None:
    """Send a reset link if an account has this address; behave the same way if not."""
    user = session.scalar(
        select(User).where(User.email == normalise_email(email), User.deleted_at.is_(None))
    )
    window = timedelta(hours=1)
    if (
        user is None
        or tokens.recent_count(session, user.id, tokens.PASSWORD_RESET, window)
        >= RESET_EMAILS_PER_HOUR
    ):
        # Do comparable work (a token, a hash, a rendered e-mail) so that timing does not
        # tell an existing address from an unknown one.
        token = tokens.hash_token(tokens.new_token())
        render_email(
            "account_password_reset",
            {"name": "", "reset_url": f"{base_url}/account/password/reset/{token}", "minutes": 60},
        )
        return
    _send_reset_link(session, user, base_url)


def _send_reset_link(session: Session, user: User, base_url: str, locked: bool = False) -> None:
    """E-mail a reset link; `locked` when the account's password was just replaced by one
    nobody knows (an undone e-mail change), so that the e-mail does not say that ignoring
    it keeps the password."""
    token = tokens.issue(session, user.id, tokens.PASSWORD_RESET)
    notices.send(
        session,
        "account_password_reset",
        to=user.email or "",
        user_id=user.id,
        name=user.name,
        reset_url=f"{base_url}/account/password/reset/{token}",
        minutes=int(tokens.LIFETIMES[tokens.PASSWORD_RESET].total_seconds() // 60),
        locked=locked,
        request_url=f"{base_url}/account/password/reset",
    )
    session.flush()


def check_reset_token(session: Session, token: str) -> None:
    """Raise a TokenError unless the reset link can still be used."""
    tokens.find(session, token, tokens.PASSWORD_RESET)


def reset_password(session: Session, token: str, new: str, base_url: str) -> User:
    """Set a new password through a reset link; that link and every older one become void."""
    row = tokens.consume(session, token, tokens.PASSWORD_RESET)
    user = session.get(User, row.user_id)
    if user is None or user.deleted_at is not None:
        raise tokens.TokenInvalid("This link is not valid.")
    tokens.void_all(session, user.id, tokens.PASSWORD_RESET, row.used_at or utcnow())
    _set_password(session, user, new, "password_reset", base_url)
    # The link reached the account's address, and every other browser is now signed out:
    # the address is the new password's owner's. Guest orders join at their next sign-in.
    if user.email and user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    return user
