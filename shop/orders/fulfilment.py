"""Moving paid orders on: shipping (with the shopper's e-mail), delivery, cancelling unpaid."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.mail.outbox import withdraw_pending
from shop.money import format_money
from shop.orders import states
from shop.orders.holds import release_stock
from shop.orders.locking import lock_order
from shop.orders.models import Order
from shop.orders.notifications import queue_order_email
from shop.payments.models import Refund

log = logging.getLogger(__name__)
# The Refund.source of a shopper's own cancellation (see shop.orders.customer_cancel).
CUSTOMER_CANCEL_SOURCE = "customer"


class OrderNotFound(LookupError):
    """No order with that number."""


def order_by_number(session: Session, number: str) -> Order:
    """The order with this number; raise OrderNotFound otherwise."""
    order = session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise OrderNotFound(f"there is no order {number!r}")
    return order


def ship_order(
    session: Session, settings: CheckoutSettings, order: Order, tracking: str = ""
) -> Order:
    """Mark a paid order shipped and queue the shopper's e-mail, in one transaction."""
    lock_order(session, order)
    if not states.can_ship(order):
        raise states.IllegalTransition(f"order {order.number} cannot be shipped (again)")
    cancelling = _customer_refund_under_way(session, order)
    if cancelling is not None:
        money = format_money(cancelling.amount_pence, cancelling.currency)
        raise states.IllegalTransition(
            f"order {order.number} is being cancelled by the customer and its refund of "
            f"{money} is under way"
        )
    if not (order.ship_line1 and order.ship_postcode):
        raise states.IllegalTransition(f"order {order.number} has no delivery address")
    note = f"Shipped{f' ({tracking})' if tracking else ''}"
    states.transition(order, states.SHIPPED, note)
    queue_order_email(session, order, "order_shipped", settings, tracking=tracking)
    return order


def _customer_refund_under_way(session: Session, order: Order) -> Refund | None:
    """The refund of the shopper's own cancellation, started and not booked yet."""
    return session.scalar(
        select(Refund).where(
            Refund.order_id == order.id,
            Refund.status == "pending",
            Refund.source == CUSTOMER_CANCEL_SOURCE,
        )
    )


def deliver_order(session: Session, order: Order) -> Order:
    """Mark a shipped order delivered."""
    lock_order(session, order)
    if not states.can_deliver(order):
        raise states.IllegalTransition(f"order {order.number} cannot be delivered (again)")
    states.transition(order, states.DELIVERED, "Delivered")
    return order


def cancel_unpaid_order(
    session: Session, order: Order, reason: str = "", *, notify: CheckoutSettings | None = None
) -> Order:
    """Cancel an order that was never paid and put its stock back.

    With `notify` (the shop's settings), the shopper is told by e-mail (`order_cancelled`),
    in the same transaction: staff cancelling from the console or the shell. The shopper's
    own cancellations (on the payment page, or to start again) are confirmed on the page
    they land on instead, as are orders cancelled because their account was deleted.
    Either way, a "payment failed, try again" e-mail still waiting to go out is withdrawn:
    its link can no longer pay.

    A payment may still be open at the gateway (a 3-D Secure check the shopper has not
    finished): once this transaction has committed, call `cancel_open_payments_of` so it
    can no longer take the money. That is kept out of this transaction on purpose: the
    cancellation never waits for, or fails with, the payment provider.
    """
    lock_order(session, order)
    if order.status != states.PENDING_PAYMENT:
        raise states.IllegalTransition(
            f"order {order.number} is {order.status}; refund it instead of cancelling"
        )
    released = release_stock(session, order, "")
    states.transition(order, states.CANCELLED, "Cancelled", staff_note=reason)
    withdraw_pending(
        session, ("payment_failed",), "Not sent: the order was cancelled.", order_id=order.id
    )
    if notify is not None:
        queue_order_email(
            session,
            order,
            "order_cancelled",
            notify,
            stock_released=released,
            points_returned=order.points_redeemed or 0,
        )
    return order


def cancel_open_payments_of(settings: CheckoutSettings, order_id: int) -> None:
    """After a cancellation committed: cancel the order's open payment intents at the
    gateway (best effort). What cannot be settled now is left to `flask payments
    reconcile`, which also looks at cancelled orders with open attempts."""
    from shop.db import db
    from shop.payments.services import cancel_open_payments
    from shop.payments.setup import PaymentsNotConfigured, gateway

    try:
        cancel_open_payments(db.transaction, gateway(), settings, order_id)
    except PaymentsNotConfigured:
        return
    except Exception:  # the order is cancelled whatever the gateway does
        log.exception("could not cancel the open payments of order %s", order_id)
