"""The rules of returns, as plain functions of an order and its returns: until when items
may be sent back, how many of each line still may, and how much their refund is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from shop.orders import states
from shop.orders.models import Order
from shop.returns.models import ReturnRequest

REQUESTED, REFUNDED, REJECTED, WITHDRAWN = "requested", "refunded", "rejected", "withdrawn"
LAPSED = "lapsed"  # its parcel did not arrive in time; staff can still refund it if it does
LABELS = {
    REQUESTED: "Waiting for your parcel",
    REFUNDED: "Received and refunded",
    REJECTED: "Not accepted",
    WITHDRAWN: "Withdrawn",
    LAPSED: "Closed: the parcel did not arrive",
}
STAFF_LABELS = {**LABELS, REQUESTED: "Awaiting the parcel", LAPSED: "Lapsed: no parcel"}
# Returns staff can still refund when the parcel arrives.
RECEIVABLE = (REQUESTED, LAPSED)
REASONS: dict[str, str] = {
    "changed_mind": "I changed my mind",
    "damaged": "It arrived damaged or faulty",
    "wrong_item": "I was sent the wrong item",
    "not_as_described": "It is not as described",
    "too_late": "It arrived too late",
    "other": "Another reason",
}
# Reasons that put the fault on the shop: the shopper's return postage is refunded too.
AT_FAULT = ("damaged", "wrong_item", "not_as_described")
SEND_WITHIN_DAYS = 14  # the law gives the shopper 14 days from asking to send the goods
# A return whose parcel has not arrived this long after it was asked for is closed as lapsed
# (the 14 days to send it, and two weeks in the post).
LAPSE_DAYS = 28


def label(status: str, staff: bool = False) -> str:
    """A return's status as the shopper (or, with `staff`, the console) reads it."""
    return (STAFF_LABELS if staff else LABELS).get(status, status)


def window_start(order: Order) -> datetime | None:
    """When the return period began: delivery, or dispatch when delivery was not recorded;
    None for an order never dispatched."""
    for status in (states.DELIVERED, states.SHIPPED):
        steps = [step.created_at for step in order.history if step.to_status == status]
        if steps:
            return min(steps)
    return None


def window_end(order: Order, days: int) -> datetime | None:
    """The last moment items of the order may be asked back, or None if never dispatched."""
    start = window_start(order)
    return None if start is None else start + timedelta(days=days)


def returnable(order: Order, returns: Iterable[ReturnRequest]) -> dict[int, int]:
    """How many of each order line (by id) may still be sent back: what was bought, less
    what was put back in stock (by a return or a refund) and what other returns are
    sending back or sent back without restocking."""
    pending: dict[int, int] = {}
    for ret in returns:
        if ret.status == REQUESTED or (ret.status == REFUNDED and not ret.restocked):
            for line in ret.lines:
                pending[line.order_line_id] = pending.get(line.order_line_id, 0) + line.quantity
    return {
        line.id: max(line.quantity - line.restocked_qty - pending.get(line.id, 0), 0)
        for line in order.lines
    }


def refusal(order: Order, returns: Iterable[ReturnRequest], days: int, now: datetime) -> str | None:
    """Why the shopper cannot ask to return items of this order now, or None when they can."""
    number = order.number
    if order.kind != "sale":
        return f"{number} is a return, not an order."
    if order.source != "web":
        return (
            f"Order {number} was not placed in this online shop, so it cannot be returned "
            "here. Please contact us about it."
        )
    if order.status in (states.PENDING_PAYMENT, states.PAID, states.CANCELLED) or (
        window_start(order) is None
    ):
        return (
            f"Order {number} has not been dispatched yet. Until it is, you can cancel it "
            "instead, and we refund all of it."
        )
    if order.status == states.REFUNDED:
        return f"Order {number} has been refunded in full."
    end = window_end(order, days)
    if end is not None and now > end:
        return (
            f"The {days} days to return items of order {number} ended on "
            f"{end:%d %B %Y}. Please contact us if something is wrong with it."
        )
    if not any(returnable(order, returns).values()):
        return f"Every item of order {number} is on a return already."
    return None


def goods_value(order: Order, quantities: Mapping[int, int]) -> int:
    """What the shopper paid for these quantities of the order's lines (by id): their share
    of the lines' totals, less their share of the order's discounts."""
    lines = {line.id: line for line in order.lines}
    paid = sum(
        lines[line_id].line_total_pence * qty / lines[line_id].quantity
        for line_id, qty in quantities.items()
        if qty > 0 and lines[line_id].quantity
    )
    if order.subtotal_pence > 0 and order.discount_pence:
        paid -= paid * min(order.discount_pence, order.subtotal_pence) / order.subtotal_pence
    return int(paid + 0.5)


def refund_due(
    order: Order, quantities: Mapping[int, int], returnable_before: Mapping[int, int]
) -> int:
    """The refund for sending these quantities back: the goods, plus the delivery charge
    when they are everything still with the shopper (the rest of the order came back
    before), at most what has not been refunded yet."""
    goods = goods_value(order, quantities)
    whole_order_back = all(
        quantities.get(line_id, 0) >= left for line_id, left in returnable_before.items()
    )
    delivery = order.shipping_pence if whole_order_back else 0
    return max(min(goods + delivery, order.total_pence - order.refunded_pence), 0)
