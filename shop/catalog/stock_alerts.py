"""Back-in-stock alerts: a signed-in shopper asks to be e-mailed when a product that is out
of stock can be bought again.

The alert waits as a row until the product is on sale to everyone with stock again, however
that happened (an edit in the console, an import, a refund put back in stock, an unpaid
order's hold released). `send_back_in_stock`, run every few minutes, then queues one e-mail
per shopper naming every product of theirs that is back, and deletes those rows in the same
transaction: a re-run, or two runs at once, e-mails nobody twice. A shopper asks again after
the next sell-out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.availability import Viewer, on_sale_to, public_viewer
from shop.catalog.models import GuestStockAlert, Product, StockAlert
from shop.catalog.services import get_product
from shop.db import Transaction, utcnow
from shop.mail.outbox import enqueue_email
from shop.money import format_money
from shop.wording import counted

K = TypeVar("K")  # whom an alert e-mail goes to: an account id, or a visitor's address

MAX_WAITING = 50  # open alerts per account: enough for a real wish list, not for a flood
BATCH_SIZE = 200  # shoppers per transaction when sending
KIND = "stock_back"


class StockAlertError(ValueError):
    """An alert that cannot be set; the message is safe to show."""


@dataclass(frozen=True)
class Waiting:
    """A product the shopper is waiting for, and since when."""

    product: Product
    since: datetime


@dataclass(frozen=True)
class SendReport:
    """What a run of `send_back_in_stock` queued."""

    emails: int
    products: int

    def summary(self) -> str:
        """One line for logs and the command's output."""
        return (
            f"{counted(self.emails, 'back-in-stock e-mail')} queued for "
            f"{counted(self.products, 'alert')}"
        )


def is_waiting(session: Session, user_id: int, product_id: int) -> bool:
    """True when the shopper asked to hear when this product is back."""
    found = select(StockAlert.id).where(
        StockAlert.user_id == user_id, StockAlert.product_id == product_id
    )
    return session.scalar(found) is not None


def ask(session: Session, user_id: int, product_id: int, viewer: Viewer) -> Product:
    """Keep an alert for an out-of-stock product the viewer may buy (kept once however often
    asked); the product. Raise NotFoundError for a product not on sale to them, and
    StockAlertError when it is in stock or the account waits for too many."""
    product = get_product(session, product_id, viewer)
    _keep(session, user_id, product)
    return product


def _keep(session: Session, user_id: int, product: Product) -> bool:
    """True when a new alert was kept, False when there was one already."""
    if product.in_stock:
        raise StockAlertError(f"{product.name} is in stock: you can add it to your cart now.")
    if is_waiting(session, user_id, product.id):
        return False
    open_alerts = select(func.count()).where(StockAlert.user_id == user_id)
    if (session.scalar(open_alerts) or 0) >= MAX_WAITING:
        raise StockAlertError(
            f"You are waiting for {MAX_WAITING} products already. Remove some under "
            "Back-in-stock alerts in your account first."
        )
    try:
        with session.begin_nested():
            session.add(StockAlert(user_id=user_id, product_id=product.id))
    except IntegrityError:  # the same request twice at once
        return False
    return True


def cancel(session: Session, user_id: int, product_id: int) -> bool:
    """Stop waiting for a product; False when there was no alert."""
    gone = session.execute(
        delete(StockAlert)
        .where(StockAlert.user_id == user_id, StockAlert.product_id == product_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(gone, "rowcount", 0))


def adopt_guest_alerts(session: Session, user_id: int, email: str) -> int:
    """Move the confirmed alerts a visitor set with the account's confirmed address into the
    account (both links proved the same mailbox); return how many moved. Products the
    account waits for already just lose the visitor's copy; over MAX_WAITING the rest stay
    as they were and are still answered by e-mail."""
    guests = session.scalars(
        select(GuestStockAlert)
        .where(GuestStockAlert.email == email, GuestStockAlert.confirmed_at.is_not(None))
        .order_by(GuestStockAlert.created_at, GuestStockAlert.id)
    ).all()
    if not guests:
        return 0
    waiting = set(
        session.scalars(select(StockAlert.product_id).where(StockAlert.user_id == user_id))
    )
    moved = 0
    for guest in guests:
        if guest.product_id not in waiting:
            if len(waiting) >= MAX_WAITING:
                continue
            session.add(
                StockAlert(
                    user_id=user_id, product_id=guest.product_id, created_at=guest.created_at
                )
            )
            waiting.add(guest.product_id)
            moved += 1
        session.delete(guest)
    session.flush()
    return moved


def waiting_list(session: Session, user_id: int) -> list[Waiting]:
    """The shopper's alerts, newest first."""
    rows = session.execute(
        select(Product, StockAlert.created_at)
        .join(StockAlert, StockAlert.product_id == Product.id)
        .where(StockAlert.user_id == user_id)
        .order_by(StockAlert.created_at.desc(), StockAlert.id.desc())
    )
    return [Waiting(product, since) for product, since in rows]


def waiting_count(session: Session, product_id: int) -> int:
    """How many shoppers wait for this product to be back in stock."""
    return waiting_counts(session, [product_id]).get(product_id, 0)


def waiting_counts(session: Session, product_ids: list[int]) -> dict[int, int]:
    """How many shoppers wait for each of these products: accounts, and visitors who
    confirmed their address (those nobody waits for left out)."""
    if not product_ids:
        return {}
    counts: dict[int, int] = {}
    for alerts, *where in (
        (StockAlert,),
        (GuestStockAlert, GuestStockAlert.confirmed_at.is_not(None)),
    ):
        rows = session.execute(
            select(alerts.product_id, func.count(alerts.id))
            .where(alerts.product_id.in_(product_ids), *where)
            .group_by(alerts.product_id)
        )
        for product_id, count in rows:
            counts[product_id] = counts.get(product_id, 0) + int(count)
    return counts


def back_in_stock(now: datetime) -> ColumnElement[bool]:
    """SQL: the product can be bought by everyone again."""
    return and_(on_sale_to(public_viewer(now)), Product.stock_qty > 0)


def send_back_in_stock(
    transaction: Transaction,
    base_url: str,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> SendReport:
    """Queue one e-mail per shopper whose products are back, and delete those alerts (see
    the module docstring); links start with `base_url` (the shop's SHOP_BASE_URL)."""
    now = now or utcnow()
    base_url = base_url.rstrip("/")

    def waiting(session: Session, size: int) -> list[int]:
        query = (
            select(StockAlert.user_id)
            .join(Product, Product.id == StockAlert.product_id)
            .join(User, User.id == StockAlert.user_id)
            .where(back_in_stock(now), User.deleted_at.is_(None), User.email.is_not(None))
            .group_by(StockAlert.user_id)
            .order_by(StockAlert.user_id)
        )
        return list(session.scalars(query.limit(size)))

    def tell(session: Session, user_id: int) -> int:
        return _tell(session, session.get_one(User, user_id), base_url, now)

    return answer_in_batches(transaction, waiting, tell, batch_size)


def answer_in_batches(
    transaction: Transaction,
    waiting: Callable[[Session, int], list[K]],
    tell: Callable[[Session, K], int],
    batch_size: int,
) -> SendReport:
    """E-mail each recipient `waiting` finds (up to `batch_size` per transaction) with
    `tell`, which answers and deletes their alerts, until none are left; what was queued."""
    emails = products = 0
    while True:
        with transaction() as session:
            batch = waiting(session, batch_size)
            for recipient in batch:
                sent = tell(session, recipient)
                emails += bool(sent)
                products += sent
        if len(batch) < batch_size:
            return SendReport(emails, products)


def _tell(session: Session, user: User, base_url: str, now: datetime) -> int:
    """Delete the shopper's alerts for products that are back and queue the e-mail naming
    them; how many there were (0 when another run took them first)."""
    taken = session.execute(
        delete(StockAlert)
        .where(
            StockAlert.user_id == user.id,
            StockAlert.product_id.in_(select(Product.id).where(back_in_stock(now))),
        )
        .returning(StockAlert.product_id, StockAlert.created_at)
    ).all()
    return email_back_in_stock(
        session,
        taken,
        base_url,
        user.email or "",
        name=user.name,
        alerts_url=f"{base_url}/account/stock-alerts",
        user_id=user.id,
    )


def email_back_in_stock(
    session: Session,
    taken: Sequence[tuple[int, datetime]],
    base_url: str,
    to: str,
    *,
    name: str | None = None,
    alerts_url: str | None = None,
    user_id: int | None = None,
) -> int:
    """Queue the back-in-stock e-mail naming the products of the alerts just taken (product
    id, asked at); how many (0 when another run took them first). An e-mail to an address
    without an account forgets the address once sent."""
    if not taken:
        return 0
    lines, subject = _product_lines(session, dict(taken), base_url)
    enqueue_email(
        session,
        kind=KIND,
        to=to,
        subject=subject,
        template=KIND,
        context={"name": name, "items": lines, "alerts_url": alerts_url},
        user_id=user_id,
        forget_after_send=user_id is None,
    )
    return len(lines)


def _product_lines(
    session: Session, asked: dict[int, datetime], base_url: str
) -> tuple[list[dict[str, str]], str]:
    """The back-in-stock e-mail's product lines (by name) and subject, for the products
    asked about and when."""
    items = session.scalars(select(Product).where(Product.id.in_(asked)).order_by(Product.name))
    lines = [
        {
            "name": product.name,
            "price": format_money(product.price_pence, product.currency),
            "url": f"{base_url}/products/{product.id}",
            "reason": f"You asked on {asked[product.id].day} {asked[product.id]:%B %Y}",
        }
        for product in items
    ]
    subject = (
        f"Back in stock: {lines[0]['name']}"
        if len(lines) == 1
        else f"{len(lines)} products you asked about are back in stock"
    )
    return lines, subject
