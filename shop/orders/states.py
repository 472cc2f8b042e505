"""The order state machine: which status may follow which, and a record of every step."""

from __future__ import annotations

from shop.orders.models import Order, OrderStatusChange

PENDING_PAYMENT = "pending_payment"
PAID = "paid"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
REFUNDED = "refunded"
PARTIALLY_REFUNDED = "partially_refunded"
# Paid and not wholly refunded: what a customer bought and kept (at least in part).
KEPT = (PAID, SHIPPED, DELIVERED, PARTIALLY_REFUNDED)
# Paid, whatever happened since (a refund lowers what the sale brought in).
WERE_PAID = (*KEPT, REFUNDED)

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_PAYMENT: frozenset({PAID, CANCELLED}),
    PAID: frozenset({SHIPPED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({SHIPPED, DELIVERED, CANCELLED, REFUNDED, PARTIALLY_REFUNDED}),
    SHIPPED: frozenset({DELIVERED, REFUNDED, PARTIALLY_REFUNDED}),
    DELIVERED: frozenset({REFUNDED, PARTIALLY_REFUNDED}),
    CANCELLED: frozenset({REFUNDED}),
    REFUNDED: frozenset(),
}

LABELS = {
    PENDING_PAYMENT: "Awaiting payment",
    PAID: "Paid",
    SHIPPED: "Shipped",
    DELIVERED: "Delivered",
    CANCELLED: "Cancelled",
    REFUNDED: "Refunded",
    PARTIALLY_REFUNDED: "Partly refunded",
}


class IllegalTransition(ValueError):
    """An order cannot move from its status to the one asked for."""


def can_transition(current: str, target: str) -> bool:
    """True when an order in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def reached(order: Order, status: str) -> bool:
    """True when the order's timeline ever moved it to `status`."""
    return any(change.to_status == status for change in order.history)


def can_ship(order: Order) -> bool:
    """True for a paid order not shipped yet (a partial refund before shipping allows it;
    one after shipping must not send the parcel, and its e-mail, a second time)."""
    return can_transition(order.status, SHIPPED) and not reached(order, SHIPPED)


def can_deliver(order: Order) -> bool:
    """True for a shipped order not delivered yet, even if partly refunded since."""
    return (
        can_transition(order.status, DELIVERED)
        and reached(order, SHIPPED)
        and not reached(order, DELIVERED)
    )


def transition(
    order: Order, target: str, note: str = "", staff_note: str = ""
) -> OrderStatusChange:
    """Move the order to `target` and record the step; raise IllegalTransition otherwise.

    `note` is shown to the shopper too; `staff_note` only in the console.
    """
    if not can_transition(order.status, target):
        raise IllegalTransition(f"order {order.number} cannot go from {order.status} to {target}")
    change = OrderStatusChange(
        from_status=order.status, to_status=target, note=note[:300], staff_note=staff_note[:300]
    )
    order.history.append(change)
    order.status = target
    return change


def start(order: Order, note: str = "") -> OrderStatusChange:
    """Record the first status of a new order."""
    change = OrderStatusChange(from_status=None, to_status=order.status, note=note[:300])
    order.history.append(change)
    return change


def note(order: Order, text: str = "", staff_note: str = "") -> OrderStatusChange:
    """Record an event on the timeline that does not change the status.

    `text` is shown to the shopper too; a step with only a `staff_note` is not.
    """
    change = OrderStatusChange(
        from_status=order.status,
        to_status=order.status,
        note=text[:300],
        staff_note=staff_note[:300],
    )
    order.history.append(change)
    return change


def customer_cancel_refusal(order: Order) -> str | None:
    """Why the shopper cannot cancel this order themselves, or None when they can: only a
    paid order that has not been dispatched or refunded in part (the refund is then all of
    it, and the parcel never leaves)."""
    number = order.number
    if order.kind != "sale":
        return f"{number} is a return, not an order."
    if order.status == PAID and not reached(order, SHIPPED) and not order.refunded_pence:
        return None
    if order.status == PENDING_PAYMENT:
        return f"Order {number} has not been paid yet, so there is nothing to refund."
    if reached(order, SHIPPED):
        return (
            f"Order {number} has been dispatched, so it can no longer be cancelled. "
            "Please contact us if you no longer want it."
        )
    if order.status in (CANCELLED, REFUNDED):
        return f"Order {number} is {LABELS[order.status].lower()} already."
    return (
        f"Part of order {number} has been refunded already, so it cannot be cancelled "
        "here. Please contact us about the rest."
    )
