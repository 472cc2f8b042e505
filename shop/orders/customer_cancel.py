"""Shoppers cancelling their own paid order before it is dispatched: all of it is refunded to
the card it was paid with, its items go back to stock, and the reason they give is kept for
the shop. The refund's e-mail and domain event follow as for any refund, so the loyalty
programme returns spent points and takes back earned ones; a discount code's use comes
back too."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.db import Transaction
from shop.orders import states
from shop.orders.fulfilment import CUSTOMER_CANCEL_SOURCE
from shop.orders.models import Order
from shop.payments.gateway import GatewayError, PaymentGateway
from shop.payments.models import Refund
from shop.payments.refunds import (
    RefundError,
    RefundMadeElsewhere,
    RefundRequest,
    refund_order,
    refundable_pence,
)
from shop.promotions.codes import give_back

REASONS: dict[str, str] = {
    "mistake": "I ordered it by mistake",
    "changed_mind": "I changed my mind",
    "cheaper": "I found it cheaper elsewhere",
    "too_late": "It would arrive too late",
    "other": "Another reason",
}
NOTE = "Cancelled by the customer"  # the refund's reason starts with it


class CancelNotMade(ValueError):
    """The order was not cancelled and nothing changed; the message tells the shopper why."""


@dataclass(frozen=True)
class CancelTerms:
    """What cancelling the order would do, or `refusal` when it cannot be cancelled."""

    number: str
    refund_pence: int
    currency: str
    points_back: int
    member: bool
    refusal: str | None


def cancel_terms(order: Order) -> CancelTerms:
    """What cancelling this order now would refund and give back, for the page that asks."""
    return CancelTerms(
        number=order.number,
        refund_pence=refundable_pence(order),
        currency=order.currency,
        points_back=order.points_redeemed or 0,
        member=order.user_id is not None,
        refusal=states.customer_cancel_refusal(order),
    )


def reason_note(reason: str) -> str:
    """The note staff read on the refund and the order's timeline."""
    label = REASONS.get(reason)
    return f"{NOTE}: {label}" if label else NOTE


def reason_given(note: str) -> str | None:
    """The reason a `reason_note` names, or None when the shopper gave none."""
    return note.removeprefix(NOTE).removeprefix(": ") or None


def _give_code_back(session: Session, order: Order, _refund: Refund, _before: str) -> None:
    """A cancelled order never happened for its discount code: its use goes back, and a
    once-per-customer code may be used again (the order keeps the code's text)."""
    if order.promo_code_id is None:
        return
    give_back(session, [order])
    order.promo_code_id = None
    states.note(order, staff_note=f"Discount code {order.promo_code}: its use given back")


def cancel_order(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    order_id: int,
    reason: str = "",
) -> int:
    """Cancel the shopper's paid order before dispatch and refund all of it; return the
    amount refunded. Raise CancelNotMade (nothing changed) when the order may not be
    cancelled any more (checked again with the order locked, so a parcel marked shipped at
    the same moment wins) or the payment provider refused the refund."""
    with transaction() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise CancelNotMade("There is no such order.")
        refused = states.customer_cancel_refusal(order)
        if refused:
            raise CancelNotMade(refused)
        reserved = order.stock_reserved
        every_line = {line.id: line.quantity for line in order.lines}
    request = RefundRequest(
        restock_all=reserved,
        reason=reason_note(reason),
        source=CUSTOMER_CANCEL_SOURCE,
        cancel=True,
        undone=every_line,  # a cancelled order never happened for the recommendations
    )
    try:
        made: Refund = refund_order(
            transaction, gateway, settings, order_id, request, on_booked=_give_code_back
        )
    except RefundMadeElsewhere as exc:  # a double submit: the other request cancelled it
        return exc.amount_pence
    except RefundError as exc:
        if isinstance(exc.__cause__, GatewayError):
            raise CancelNotMade(
                "We could not refund your card just now, so the order is still on. "
                "Please try again in a few minutes."
            ) from exc
        raise CancelNotMade(str(exc)) from exc
    return made.amount_pence
