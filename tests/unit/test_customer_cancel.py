"""Which orders a shopper may cancel themselves, and the note staff read."""

from __future__ import annotations

import pytest

from shop.orders import states
from shop.orders.customer_cancel import reason_given, reason_note
from shop.orders.models import Order, OrderStatusChange


def _order(status: str, *, shipped: bool = False, refunded: int = 0, kind: str = "sale") -> Order:
    order = Order(number="HP-1", kind=kind, status=status, refunded_pence=refunded)
    order.history = [OrderStatusChange(from_status="paid", to_status="shipped")] if shipped else []
    return order


def test_a_paid_order_not_dispatched_may_be_cancelled() -> None:
    assert states.customer_cancel_refusal(_order("paid")) is None


@pytest.mark.parametrize(
    ("order", "why"),
    [
        (_order("pending_payment"), "has not been paid yet, so there is nothing to refund"),
        (_order("shipped", shipped=True), "has been dispatched, so it can no longer be"),
        (_order("delivered", shipped=True), "has been dispatched"),
        # Partly refunded after shipping: still a dispatched parcel.
        (_order("partially_refunded", shipped=True, refunded=100), "has been dispatched"),
        (_order("partially_refunded", refunded=100), "Part of order HP-1 has been refunded"),
        (_order("paid", refunded=100), "Part of order HP-1 has been refunded"),
        (_order("cancelled"), "Order HP-1 is cancelled already."),
        (_order("refunded"), "Order HP-1 is refunded already."),
        (_order("refunded", kind="return"), "HP-1 is a return, not an order."),
    ],
)
def test_other_orders_say_why_not(order: Order, why: str) -> None:
    refusal = states.customer_cancel_refusal(order)
    assert refusal is not None and why in refusal


def test_the_reason_is_kept_in_words_and_an_unknown_one_is_left_out() -> None:
    assert reason_note("too_late") == "Cancelled by the customer: It would arrive too late"
    assert reason_note("") == reason_note("made-up") == "Cancelled by the customer"


def test_the_reason_is_read_back_from_the_note() -> None:
    assert reason_given(reason_note("cheaper")) == "I found it cheaper elsewhere"
    assert reason_given(reason_note("")) is None
