"""Order history for the account pages, and guest orders joining an account at sign-in."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from shop.mail.outbox import readdress_waiting
from shop.orders import states
from shop.orders.models import Order, OrderStatusChange
from shop.pagination import Page, check_page
from shop.payments.models import PaymentAttempt


class OrderNotFound(LookupError):
    """No such order for this customer."""


def order_history(session: Session, user_id: int, *, page: int = 1, size: int = 20) -> Page[Order]:
    """A customer's orders and returns, newest first."""
    where = Order.user_id == user_id
    total = session.scalar(select(func.count(Order.id)).where(where)) or 0
    check_page(page, total, size)
    orders = session.scalars(
        select(Order)
        .options(selectinload(Order.lines))
        .where(where)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return Page(list(orders), total, page, size)


def customer_order(session: Session, user_id: int, number: str) -> Order:
    """One of the customer's own orders; raise OrderNotFound for anyone else's."""
    order = session.scalar(
        select(Order)
        .options(selectinload(Order.lines))
        .where(Order.number == number, Order.user_id == user_id)
    )
    if order is None:
        raise OrderNotFound(number)
    return order


def claim_guest_orders(
    session: Session,
    visitor_id: str,
    user_id: int,
    email: str,
    normalise: Callable[[str], str] = str.lower,
) -> list[Order]:
    """Move this browser's unpaid guest orders placed with the account's e-mail address
    (`email`, compared after `normalise`) into the account at sign-in: the stock they hold
    is then the customer's own to the cart and checkout, and the order shows in their
    history. Returns them."""
    candidates = session.scalars(
        select(Order).where(
            Order.visitor_id == visitor_id,
            Order.user_id.is_(None),
            Order.status == states.PENDING_PAYMENT,
        )
    )
    claimed = [o for o in candidates if o.email and normalise(o.email) == normalise(email)]
    for order in claimed:
        order.user_id = user_id
        states.note(order, "Placed as a guest; linked to the account when its owner signed in")
    session.flush()
    return claimed


def follow_address_change(
    session: Session,
    user_id: int,
    old: str,
    new: str,
    normalise: Callable[[str], str] = str.lower,
) -> int:
    """Give the account's orders placed with its `old` address (compared after
    `normalise`) the `new` one, so their e-mails (shipped, refunded, ...) reach the
    customer where they now read mail, and so do those orders' e-mails still waiting to go
    out; an order sent to another address typed at checkout keeps it. Returns how many
    orders changed."""
    wanted = normalise(old)
    ids = [
        order_id
        for order_id, address in session.execute(
            select(Order.id, Order.email).where(Order.user_id == user_id, Order.email.is_not(None))
        )
        if normalise(address) == wanted
    ]
    if ids:
        session.execute(
            update(Order)
            .where(Order.id.in_(ids))
            .values(email=new)
            .execution_options(synchronize_session="fetch")
        )
        readdress_waiting(session, ids, old, new, normalise)
    return len(ids)


# A guest order whose payment went through: it belongs in its buyer's history. So does a
# cancelled one that was paid (`_was_paid`); one cancelled unpaid never bought anything.
PAID_GUEST_STATUSES = (
    states.PAID,
    states.SHIPPED,
    states.DELIVERED,
    states.PARTIALLY_REFUNDED,
    states.REFUNDED,
)


TO_SHIP = "to_ship"  # the order list's filter of `awaiting_shipment`


def awaiting_shipment() -> ColumnElement[bool]:
    """SQL: a paid sale not shipped yet, also one partly refunded before shipping (what
    `states.can_ship` allows)."""
    shipped = (
        select(OrderStatusChange.id)
        .where(
            OrderStatusChange.order_id == Order.id, OrderStatusChange.to_status == states.SHIPPED
        )
        .exists()
    )
    return and_(
        Order.kind == "sale",
        Order.status.in_((states.PAID, states.PARTIALLY_REFUNDED)),
        ~shipped,
    )


def _was_paid() -> ColumnElement[bool]:
    """SQL: the order was paid at some point: its timeline reached `paid`, or a payment
    went through (one that arrived after the order was cancelled is flagged for a refund
    and leaves the status as it was)."""
    reached_paid = (
        select(OrderStatusChange.id)
        .where(OrderStatusChange.order_id == Order.id, OrderStatusChange.to_status == states.PAID)
        .exists()
    )
    took_money = (
        select(PaymentAttempt.id)
        .where(PaymentAttempt.order_id == Order.id, PaymentAttempt.status == "succeeded")
        .exists()
    )
    return or_(reached_paid, took_money)


def claim_paid_guest_orders(
    session: Session, user_id: int, email: str, normalise: Callable[[str], str] = str.lower
) -> list[Order]:
    """Move the guest orders placed with `email` (compared after `normalise`) that were
    ever paid, from any browser, into the account that proved it owns the address: refunded
    and cancelled ones too, as they are part of what the customer bought. Returns them,
    oldest first; a second call finds none. Joining records no event, so it earns no points."""
    wanted = normalise(email)
    # Runs at every sign-in of a confirmed account: read only ids and addresses (stored as
    # typed, so compared after `normalise` here), and load just the orders that match.
    addresses = session.execute(
        select(Order.id, Order.email).where(
            Order.user_id.is_(None),
            Order.kind == "sale",
            Order.email.is_not(None),
            or_(
                Order.status.in_(PAID_GUEST_STATUSES),
                and_(Order.status == states.CANCELLED, _was_paid()),
            ),
        )
    )
    ids = [order_id for order_id, address in addresses if normalise(address) == wanted]
    if not ids:
        return []
    claimed = list(
        session.scalars(select(Order).where(Order.id.in_(ids)).order_by(Order.placed_at, Order.id))
    )
    for order in claimed:
        order.user_id = user_id
        states.note(order, "Placed as a guest; joined the account when its e-mail was confirmed")
    session.flush()
    return claimed
