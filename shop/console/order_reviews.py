"""What a refund or a cancellation will do, shown to staff before they confirm it."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from shop.console.order_admin import (
    OrderAdminError,
    OrderDetail,
    cancel_refusal,
    check_refund_amount,
)
from shop.console.reviews import ActionReview
from shop.money import format_money
from shop.orders.models import Order


def _items(order: Order, quantities: Mapping[int, int]) -> str:
    lines = {line.id: line for line in order.lines}
    return ", ".join(
        f"{qty} \N{MULTIPLICATION SIGN} {lines[line_id].name} ({lines[line_id].sku})"
        for line_id, qty in quantities.items()
        if qty > 0 and line_id in lines
    )


def _member(order: Order) -> bool:
    return order.user_id is not None and (
        order.points_to_earn is not None or bool(order.points_redeemed)
    )


def refund_review(
    detail: OrderDetail, amount_pence: int, restock: Mapping[int, int], reason: str
) -> ActionReview:
    """What refunding `amount_pence` (putting `restock` back) will do; OrderAdminError
    when the order cannot be refunded that much."""
    order, left = detail.order, detail.refundable_pence

    def money(pence: int) -> str:
        return format_money(pence, order.currency)

    if not detail.can_refund:
        raise OrderAdminError(f"Order {order.number} has nothing left to refund to a card.")
    check_refund_amount(order, amount_pence)
    paid = f"It was paid {money(order.total_pence)}"
    if order.refunded_pence:
        paid += f", and {money(order.refunded_pence)} of it was refunded before"
    lines = [
        f"{money(amount_pence)} goes back to the card order {order.number} was paid with.",
        paid + ".",
        "The order is then fully refunded."
        if amount_pence == left
        else f"The order is then partly refunded: {money(left - amount_pence)} left to refund.",
    ]
    items = _items(order, restock)
    lines.append(f"Back in stock: {items}." if items else "Nothing goes back in stock.")
    if reason:
        lines.append(f"Reason, noted for staff only: {reason}")
    if order.email:
        lines.append(f"The customer is e-mailed at {order.email}.")
    if _member(order):
        lines.append(
            "Loyalty points: those earned on the refunded amount are taken back, and points "
            "spent on it are returned."
        )
    return ActionReview(
        heading=f"Refund {money(amount_pence)} of order {order.number}?",
        lines=lines,
        confirm_label=f"Refund {money(amount_pence)}",
        back_label="Change the refund",
    )


def cancel_review(session: Session, detail: OrderDetail, reason: str) -> ActionReview:
    """What cancelling the unpaid order will do; OrderAdminError when it cannot be."""
    order = detail.order
    refused = cancel_refusal(session, order)
    if refused:
        raise OrderAdminError(refused)
    lines = [
        f"Order {order.number} ({format_money(order.total_pence, order.currency)}, not paid) "
        "is cancelled, and its payment link stops working.",
    ]
    held = _items(order, {line.id: line.quantity for line in order.lines})
    if order.stock_reserved and held:
        lines.append(f"Back in stock: {held}.")
    if order.points_redeemed and order.user_id is not None:
        lines.append(f"The {order.points_redeemed:,} points it used go back to the member.")
    if reason:
        lines.append(f"Reason, noted for staff only: {reason}")
    if order.email:
        lines.append(f"The customer is e-mailed at {order.email}.")
    return ActionReview(
        heading=f"Cancel order {order.number}?",
        lines=lines,
        confirm_label="Cancel the order",
        back_label="Keep the order",
    )
