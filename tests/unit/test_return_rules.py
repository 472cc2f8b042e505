"""The rules of returns: the window, what may still come back, and the refund it is due."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shop.orders.models import Order, OrderLine, OrderStatusChange
from shop.returns import rules
from shop.returns.models import ReturnLine, ReturnRequest

SHIPPED = datetime(2026, 11, 1, 9, 0)
DELIVERED = datetime(2026, 11, 3, 14, 0)


def _order(
    status: str = "delivered",
    *,
    shipped: bool = True,
    delivered: bool = True,
    discount: int = 0,
    shipping: int = 395,
    refunded: int = 0,
    restocked: int = 0,
) -> Order:
    """4 hearts at £2.95 (line 1) and 2 bags at £1.95 (line 2)."""
    lines = [
        OrderLine(id=1, name="Heart", sku="H", quantity=4, unit_price_pence=295,
                  line_total_pence=1180, restocked_qty=restocked),
        OrderLine(id=2, name="Bag", sku="B", quantity=2, unit_price_pence=195,
                  line_total_pence=390, restocked_qty=0),
    ]  # fmt: skip
    subtotal = 1570
    order = Order(
        number="HP-1",
        kind="sale",
        source="web",
        status=status,
        subtotal_pence=subtotal,
        discount_pence=discount,
        shipping_pence=shipping,
        total_pence=subtotal - discount + shipping,
        refunded_pence=refunded,
    )
    order.lines = lines
    history = []
    if shipped:
        history.append(OrderStatusChange(to_status="shipped", created_at=SHIPPED))
    if delivered:
        history.append(OrderStatusChange(to_status="delivered", created_at=DELIVERED))
    order.history = history
    return order


def _imported() -> Order:
    order = _order()
    order.source = "import"  # the Online Retail history: delivered, never paid here
    return order


def _return(status: str, quantities: dict[int, int], restocked: bool = False) -> ReturnRequest:
    ret = ReturnRequest(number="HP-1-R1", status=status, restocked=restocked)
    ret.lines = [ReturnLine(order_line_id=i, quantity=q) for i, q in quantities.items()]
    return ret


def test_the_window_runs_from_delivery_or_else_from_dispatch() -> None:
    assert rules.window_end(_order(), 30) == DELIVERED + timedelta(days=30)
    assert rules.window_end(_order("shipped", delivered=False), 30) == SHIPPED + timedelta(30)
    assert rules.window_end(_order("paid", shipped=False, delivered=False), 30) is None


def test_what_may_still_come_back_leaves_out_open_returns_and_restocked_items() -> None:
    order = _order(restocked=1)  # a refund put one heart back in stock
    returns = [
        _return("requested", {1: 1}),
        _return("refunded", {2: 1}, restocked=False),  # counted: its item stayed out of stock
        _return("refunded", {1: 1}, restocked=True),  # counted in restocked_qty instead
        _return("withdrawn", {2: 1}),
        _return("rejected", {1: 2}),
    ]
    assert rules.returnable(order, returns) == {1: 4 - 1 - 1, 2: 2 - 1}


def test_the_refund_is_the_goods_less_their_share_of_the_discount() -> None:
    order = _order(discount=157)  # 10% off the goods
    both = {1: 4, 2: 2}
    assert rules.goods_value(order, {1: 1}) == 266  # 295 less 29.5, rounded half up
    assert rules.refund_due(order, {1: 1}, both) == 266
    # Everything still with the shopper comes back: the delivery charge too.
    assert rules.refund_due(order, both, both) == 1570 - 157 + 395 == order.total_pence
    assert rules.refund_due(order, {2: 2}, {1: 0, 2: 2}) == 351 + 395


def test_the_refund_is_never_more_than_is_left_to_refund() -> None:
    order = _order(refunded=1800)  # a goodwill refund of £18 was made
    assert rules.refund_due(order, {1: 4, 2: 2}, {1: 4, 2: 2}) == 1965 - 1800


@pytest.mark.parametrize(
    ("order", "now", "why"),
    [
        (_order("paid", shipped=False, delivered=False), DELIVERED, "has not been dispatched"),
        (_order("pending_payment", shipped=False, delivered=False), DELIVERED, "not been"),
        (_order("refunded", refunded=1965), DELIVERED, "has been refunded in full"),
        (_order(), DELIVERED + timedelta(days=30, seconds=1), "ended on 03 December 2026"),
        (_imported(), DELIVERED, "was not placed in this online shop"),
    ],
)
def test_orders_that_may_not_be_returned_say_why(order: Order, now: datetime, why: str) -> None:
    refusal = rules.refusal(order, [], 30, now)
    assert refusal is not None and why in refusal


def test_a_delivered_or_partly_refunded_order_may_be_returned_within_the_window() -> None:
    last_moment = DELIVERED + timedelta(days=30)
    assert rules.refusal(_order(), [], 30, last_moment) is None
    assert rules.refusal(_order("partially_refunded", refunded=100), [], 30, DELIVERED) is None
    everything = [_return("requested", {1: 4, 2: 2})]
    refusal = rules.refusal(_order(), everything, 30, DELIVERED)
    assert refusal == "Every item of order HP-1 is on a return already."
