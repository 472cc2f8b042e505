"""Back-in-stock alerts for visitors who are not signed in: they give an e-mail address.

Typing an address proves nothing, so the alert waits unconfirmed until the link e-mailed to
that address is opened (double opt-in: someone else's mailbox can be sent a few
confirmation e-mails, never an alert). What the page says after asking is the same
whether the address was new, waiting or confirmed already, so it tells a stranger nothing
about what that address waits for.

One link per alert confirms it and, later, cancels it. Only a hash of it is stored.
An unconfirmed alert's link lapses after CONFIRM_DAYS; `flask privacy prune` deletes
unconfirmed alerts after a week and confirmed ones after a year by default
(shop.retention). A confirmed alert goes once its e-mail is queued, as an account's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts import tokens
from shop.accounts.services import normalise_email
from shop.catalog.availability import Viewer
from shop.catalog.models import GuestStockAlert, Product
from shop.catalog.services import get_product
from shop.catalog.stock_alerts import (
    BATCH_SIZE,
    MAX_WAITING,
    SendReport,
    StockAlertError,
    Transaction,
    answer_in_batches,
    back_in_stock,
    email_back_in_stock,
)
from shop.db import utcnow
from shop.mail.outbox import enqueue_email

CONFIRM_KIND = "stock_alert_confirm"
CONFIRM_DAYS = 7  # an unconfirmed alert and its link lapse after this
RESEND_AFTER = timedelta(minutes=10)  # asking again sooner sends no second e-mail
MAX_CONFIRM_SENDS = 3  # confirmation e-mails per alert, however often it is asked for


class GuestAlertLinkError(ValueError):
    """A confirm or cancel link that cannot be used; the message is safe to show."""

    status = 404


class GuestAlertLinkExpired(GuestAlertLinkError):
    """An unconfirmed alert's link past CONFIRM_DAYS."""

    status = 410


@dataclass(frozen=True)
class GuestAlert:
    """What a confirm or cancel link refers to."""

    alert: GuestStockAlert
    product: Product

    @property
    def confirmed(self) -> bool:
        """True once the link has been opened and confirmed."""
        return self.alert.confirmed_at is not None


def ask(
    session: Session,
    email: str,
    product_id: int,
    viewer: Viewer,
    base_url: str,
    now: datetime | None = None,
) -> Product:
    """Keep an unconfirmed alert for this address and e-mail it a confirmation link (at
    most MAX_CONFIRM_SENDS, none within RESEND_AFTER of the last); the product. Raise
    NotFoundError for a product not on sale to the viewer, StockAlertError when it is in
    stock. An address that waits for MAX_WAITING products gets no new alert."""
    now = now or utcnow()
    product = get_product(session, product_id, viewer)
    if product.in_stock:
        raise StockAlertError(f"{product.name} is in stock: you can add it to your cart now.")
    email = normalise_email(email)
    alert = session.scalar(
        select(GuestStockAlert).where(
            GuestStockAlert.email == email, GuestStockAlert.product_id == product.id
        )
    )
    token = tokens.new_token()
    if alert is None:
        alert = _new_alert(session, email, product, tokens.hash_token(token), now)
        if alert is None:
            return product
    elif _may_resend(alert, now):
        alert.token_hash = tokens.hash_token(token)  # the earlier link stops working
        alert.confirm_sent_at = now
        alert.confirm_sends += 1
        session.flush()
    else:
        return product
    _send_confirmation(session, alert, product, f"{base_url.rstrip('/')}/stock-alerts/{token}")
    return product


def _new_alert(
    session: Session, email: str, product: Product, token_hash: str, now: datetime
) -> GuestStockAlert | None:
    waiting = select(func.count()).where(GuestStockAlert.email == email)
    if (session.scalar(waiting) or 0) >= MAX_WAITING:
        return None
    alert = GuestStockAlert(
        email=email,
        product_id=product.id,
        token_hash=token_hash,
        created_at=now,
        confirm_sent_at=now,
        confirm_sends=1,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:  # the same request twice at once: the first one sends
        return None
    return alert


def _may_resend(alert: GuestStockAlert, now: datetime) -> bool:
    return (
        alert.confirmed_at is None
        and alert.confirm_sends < MAX_CONFIRM_SENDS
        and now - alert.confirm_sent_at >= RESEND_AFTER
    )


def _send_confirmation(
    session: Session, alert: GuestStockAlert, product: Product, link: str
) -> None:
    enqueue_email(
        session,
        kind=CONFIRM_KIND,
        to=alert.email,
        subject=f"Confirm your back-in-stock alert for {product.name}",
        template=CONFIRM_KIND,
        context={"product_name": product.name, "confirm_url": link, "days": CONFIRM_DAYS},
        forget_after_send=True,
    )


def find(session: Session, token: str, now: datetime | None = None) -> GuestAlert:
    """The alert a link refers to; GuestAlertLinkError when there is none (used, cancelled,
    never issued), GuestAlertLinkExpired for an unconfirmed one past CONFIRM_DAYS."""
    now = now or utcnow()
    if not tokens.looks_like_token(token):
        raise GuestAlertLinkError(_GONE)
    row = session.execute(
        select(GuestStockAlert, Product)
        .join(Product, Product.id == GuestStockAlert.product_id)
        .where(GuestStockAlert.token_hash == tokens.hash_token(token))
    ).first()
    if row is None:
        raise GuestAlertLinkError(_GONE)
    alert, product = row
    if alert.confirmed_at is None and _lapsed(alert, now):
        raise GuestAlertLinkExpired(
            f"This link was valid for {CONFIRM_DAYS} days. Ask again on the product's page."
        )
    return GuestAlert(alert, product)


_GONE = (
    "This link is not valid any more: the alert was cancelled, or the product is back in "
    "stock and we have written to you about it."
)


def _lapsed(alert: GuestStockAlert, now: datetime) -> bool:
    return now - alert.confirm_sent_at > timedelta(days=CONFIRM_DAYS)


def confirm(session: Session, token: str, now: datetime | None = None) -> GuestAlert:
    """Confirm the alert of a link (a second time changes nothing); what was confirmed."""
    now = now or utcnow()
    found = find(session, token, now)
    if found.alert.confirmed_at is None:
        found.alert.confirmed_at = now
    return found


def cancel(session: Session, token: str, now: datetime | None = None) -> GuestAlert:
    """Delete the alert of a link; what was cancelled."""
    found = find(session, token, now)
    session.delete(found.alert)
    session.flush()
    return found


def send_back_in_stock(
    transaction: Transaction,
    base_url: str,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> SendReport:
    """Queue one e-mail per confirmed address whose products are back, deleting those
    alerts in the same transaction (a re-run e-mails nobody twice)."""
    now = now or utcnow()
    base_url = base_url.rstrip("/")

    def waiting(session: Session, size: int) -> list[str]:
        query = (
            select(GuestStockAlert.email)
            .join(Product, Product.id == GuestStockAlert.product_id)
            .where(back_in_stock(now), GuestStockAlert.confirmed_at.is_not(None))
            .group_by(GuestStockAlert.email)
            .order_by(GuestStockAlert.email)
        )
        return list(session.scalars(query.limit(size)))

    return answer_in_batches(
        transaction,
        waiting,
        lambda session, email: _tell(session, email, base_url, now),
        batch_size,
    )


def _tell(session: Session, email: str, base_url: str, now: datetime) -> int:
    taken = session.execute(
        delete(GuestStockAlert)
        .where(
            GuestStockAlert.email == email,
            GuestStockAlert.confirmed_at.is_not(None),
            GuestStockAlert.product_id.in_(select(Product.id).where(back_in_stock(now))),
        )
        .returning(GuestStockAlert.product_id, GuestStockAlert.created_at)
    ).all()
    return email_back_in_stock(session, taken, base_url, email)
