"""Accounts: registration, sign-in (linking the visitor's history and cart) and demo logins."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from shop.accounts import notices, tokens
from shop.accounts.models import User
from shop.accounts.passwords import password_problem
from shop.cart.services import CartMerge, merge_visitor_cart
from shop.catalog.stock_alerts import adopt_guest_alerts
from shop.db import utcnow
from shop.events.bus import record_event
from shop.orders.models import Order
from shop.orders.services import claim_guest_orders, claim_paid_guest_orders
from shop.tracking.services import link_order_events, link_visitor_events
from shop.tracking.writer import EventWriter

# Compared against when no account matches, so a wrong e-mail costs as much time as a
# wrong password and response times don't reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(ValueError):
    """A sign-up or sign-in problem whose message is safe to show."""


def normalise_email(email: str) -> str:
    """Trim and lower-case an e-mail address for storage and lookup, in one Unicode form
    (NFC), with a punycode domain ("xn--exmple-cua.com") written out ("exämple.com"), so one
    mailbox cannot own two accounts."""
    email = unicodedata.normalize("NFC", email.strip()).lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    return f"{local}@{'.'.join(_unicode_label(label) for label in domain.split('.'))}"


def _unicode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return unicodedata.normalize("NFC", label.encode("ascii").decode("idna")).lower()
    except UnicodeError:
        return label  # not valid punycode: keep it as typed


def register(
    session: Session, name: str, email: str, password: str, base_url: str | None = None
) -> User:
    """Create an account; raise AccountError if the e-mail is taken or the password may not
    be used. With `base_url` (a sign-up on the website) the address gets a welcome e-mail:
    if someone else used it, its owner hears of it."""
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("An account with this e-mail address already exists. Please sign in.")
    problem = password_problem(password, email)
    if problem is not None:
        raise AccountError(problem)
    user = User(name=name.strip(), email=email, password_hash=generate_password_hash(password))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same address
        raise AccountError(
            "An account with this e-mail address already exists. Please sign in."
        ) from exc
    record_event(session, "customer_registered", {"user_id": user.id})
    if base_url is not None:
        notices.send(
            session,
            "account_welcome",
            to=email,
            user_id=user.id,
            name=user.name,
            account_url=f"{base_url}/account",
            reset_url=f"{base_url}/account/password/reset",
            confirm_url=_confirmation_url(session, user, base_url),
            days=tokens.LIFETIMES[tokens.EMAIL_CONFIRM].days,
        )
    return user


# --- confirming the account's e-mail address -------------------------------------------
# Typing an address at sign-up proves nothing; opening a link sent to it while signed in
# to the account does. Only then do orders placed as a guest with that address join it.

CONFIRMATIONS_PER_HOUR = 5


def _confirmation_url(session: Session, user: User, base_url: str) -> str:
    token = tokens.issue(session, user.id, tokens.EMAIL_CONFIRM, new_email=user.email)
    return f"{base_url}/account/email/verify/{token}"


def send_email_confirmation(session: Session, user: User, base_url: str) -> str:
    """E-mail the account's address a link that confirms it (older links stop working);
    return the address. Raise AccountError when it is confirmed already or after
    CONFIRMATIONS_PER_HOUR links in the last hour."""
    if not user.email:
        raise AccountError("Your account has no e-mail address.")
    if user.email_confirmed_at is not None:
        raise AccountError("Your e-mail address is already confirmed.")
    window = timedelta(hours=1)
    if tokens.recent_count(session, user.id, tokens.EMAIL_CONFIRM, window) >= (
        CONFIRMATIONS_PER_HOUR
    ):
        raise AccountError("We have sent you several links in the last hour; please wait a bit.")
    tokens.void_all(session, user.id, tokens.EMAIL_CONFIRM)
    notices.send(
        session,
        "account_email_verify",
        to=user.email,
        user_id=user.id,
        name=user.name,
        confirm_url=_confirmation_url(session, user, base_url),
        days=tokens.LIFETIMES[tokens.EMAIL_CONFIRM].days,
    )
    session.flush()
    return user.email


class AlreadyConfirmed(tokens.TokenUsed):
    """A used confirmation link, opened by an account whose address is confirmed."""


def pending_confirmation(session: Session, token: str, user: User) -> str:
    """The address this account's still-usable confirmation link confirms; raise a
    TokenError for another account's link or one sent to an earlier address, and
    AlreadyConfirmed for a used link when the account's address is confirmed."""
    try:
        row = tokens.find(session, token, tokens.EMAIL_CONFIRM)
    except tokens.TokenUsed as exc:
        if user.email and user.email_confirmed_at is not None:
            raise AlreadyConfirmed(f"{user.email} is already confirmed.") from exc
        raise
    if row.user_id != user.id:
        raise tokens.TokenInvalid(
            "This link confirms the address of another account. Sign out, sign in to that "
            "account, and open the link again."
        )
    if not user.email or row.new_email != user.email:
        raise tokens.TokenUsed("This link was sent to an earlier e-mail address of your account.")
    return user.email


def confirm_email(session: Session, token: str, user: User) -> list[Order]:
    """Open the confirmation link signed in as its account: the address is confirmed and
    the paid orders placed with it as a guest join the account (returned)."""
    pending_confirmation(session, token, user)
    tokens.consume(session, token, tokens.EMAIL_CONFIRM)
    return email_confirmed(session, user)


def email_confirmed(session: Session, user: User) -> list[Order]:
    """Record that the account's owner reads mail at its address; bring in the paid guest
    orders placed with it (returned; none when they were brought in already) and the
    back-in-stock alerts confirmed for it."""
    if not user.email:
        return []
    if user.email_confirmed_at is None:
        user.email_confirmed_at = utcnow()
    tokens.void_all(session, user.id, tokens.EMAIL_CONFIRM)
    adopt_guest_alerts(session, user.id, user.email)
    return _claim_paid_guest_orders(session, user)


def _claim_paid_guest_orders(session: Session, user: User) -> list[Order]:
    """Bring in the paid guest orders placed with the account's address, and their
    purchases into the history recommendations learn from (unless it switched
    personalization off, as for browsing)."""
    assert user.email is not None
    claimed = claim_paid_guest_orders(session, user.id, user.email, normalise_email)
    if claimed and user.tracking_enabled:
        link_order_events(session, [order.id for order in claimed], user.id)
    return claimed


def authenticate(session: Session, email: str, password: str) -> User:
    """Return the account for these credentials; raise AccountError with a generic message."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.password_hash or user.deleted_at is not None:
        check_password_hash(_DUMMY_HASH, password)
        raise AccountError("Incorrect e-mail address or password.")
    if not check_password_hash(user.password_hash, password):
        raise AccountError("Incorrect e-mail address or password.")
    return user


@dataclass(frozen=True)
class Adopted:
    """What signing in brought into the account: paid guest orders, and the cart merge."""

    claimed: list[Order]
    cart: CartMerge


def adopt_visitor(
    session: Session, user: User, visitor_id: str | None, queued: EventWriter | None = None
) -> Adopted:
    """Link a visitor's anonymous events, cart and unpaid orders placed with the account's
    e-mail address to the account they just signed in to. An account with a confirmed
    address also gets the paid orders placed with it as a guest since (returned, with
    what the cart merge did) and the back-in-stock alerts confirmed for it.

    Events still `queued` in the writer (made a moment before signing in) are linked too.
    An account that switched personalization off keeps its history free of browsing done
    elsewhere: the events stay anonymous, only the cart comes along.
    """
    paid: list[Order] = []
    if user.email and user.email_confirmed_at is not None:
        adopt_guest_alerts(session, user.id, user.email)
        paid = _claim_paid_guest_orders(session, user)
    if not visitor_id:
        return Adopted(paid, CartMerge())
    if user.tracking_enabled:
        if queued is not None:
            queued.adopt(visitor_id, user.id)
        link_visitor_events(session, visitor_id, user.id)
    # Before the cart: units the guest's unpaid order holds count as theirs in the merge.
    if user.email:
        claim_guest_orders(session, visitor_id, user.id, user.email, normalise_email)
    return Adopted(paid, merge_visitor_cart(session, visitor_id, user.id))


def claimed_orders_message(count: int) -> str:
    """What the customer is told when earlier guest orders joined their account."""
    if count == 1:
        return "1 earlier order placed with this e-mail address is now in your account."
    return f"{count} earlier orders placed with this e-mail address are now in your account."


@dataclass(frozen=True)
class DemoAccount:
    """A demo login printed by `make run`."""

    email: str
    password: str
    description: str


DEMO_PASSWORD = "demo-shopper-2026"


def create_demo_accounts(session: Session) -> list[DemoAccount]:
    """Give sign-in details to two real imported customers and add one new shopper, all
    with confirmed addresses (the shop's own: there is nobody to prove them to).

    Idempotent: existing demo accounts keep their passwords and names; one made before
    demo addresses were confirmed is confirmed now.
    """
    ranked = session.execute(
        select(User.id, func.count(Order.id).label("orders"))
        .join(Order, Order.user_id == User.id)
        .where(User.external_ref.is_not(None), Order.kind == "sale")
        .group_by(User.id)
        .order_by(func.count(Order.id).desc(), User.id)
    ).all()
    picks = []
    if ranked:
        picks.append(("regular@demo.shop", ranked[0].id, "a frequent real customer"))
        picks.append(
            ("occasional@demo.shop", ranked[len(ranked) // 2].id, "an occasional real customer")
        )
    accounts: list[DemoAccount] = []
    for email, user_id, description in picks:
        existing = session.scalar(select(User).where(User.email == email))
        user = existing or session.get(User, user_id)
        if user is None:
            continue
        if existing is None:
            user.email = email
            user.password_hash = generate_password_hash(DEMO_PASSWORD)
            user.name = user.name or "Demo customer"
        _confirm_demo_address(session, user)
        orders = session.scalar(select(func.count(Order.id)).where(Order.user_id == user.id)) or 0
        accounts.append(
            DemoAccount(
                email, DEMO_PASSWORD, f"{description} ({user.external_ref}, {orders} orders)"
            )
        )
    new_email = "new@demo.shop"
    shopper = session.scalar(select(User).where(User.email == new_email))
    if shopper is None:
        shopper = register(session, "New Shopper", new_email, DEMO_PASSWORD)
    _confirm_demo_address(session, shopper)
    accounts.append(DemoAccount(new_email, DEMO_PASSWORD, "a new shopper with no history"))
    session.flush()
    return accounts


def _confirm_demo_address(session: Session, user: User) -> None:
    """Mark a demo login's address confirmed, as its owner opening the link would."""
    if user.email_confirmed_at is None:
        email_confirmed(session, user)
