"""How an order's status reads where a partial refund is not part of it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shop.templating import order_state


@pytest.mark.parametrize(
    ("status", "refunded", "shown"),
    [
        ("paid", 0, "Paid"),
        ("paid", 500, "Paid, partly refunded"),
        ("shipped", 500, "Shipped, partly refunded"),
        ("delivered", 500, "Delivered, partly refunded"),
        ("partially_refunded", 500, "Partly refunded"),
        ("refunded", 1000, "Refunded"),
        ("shipped", 1000, "Shipped"),  # a whole refund turns the status to refunded itself
    ],
)
def test_a_partial_refund_is_added_to_statuses_that_do_not_say_it(
    status: str, refunded: int, shown: str
) -> None:
    order = SimpleNamespace(status=status, refunded_pence=refunded, total_pence=1000)
    assert order_state(order) == shown
