"""Items that came back (returned, or their order cancelled) are taken off the purchase of
the same product on the same order before recommendations learn from it."""

from __future__ import annotations

import math
from typing import Any

from shop.recommendation_data import net_purchases


def _net(rows: list[tuple[str, int, Any, Any]]) -> tuple[list[bool], list[Any]]:
    kinds, items, orders, quantities = (list(column) for column in zip(*rows, strict=True))
    keep = net_purchases(kinds, items, orders, quantities)
    return keep.tolist(), quantities


def test_a_partial_return_lowers_the_quantity_and_a_whole_one_drops_the_purchase() -> None:
    keep, quantities = _net(
        [
            ("purchase", 7, "o1", 4.0),
            ("purchase", 8, "o1", 2.0),
            ("purchase_undone", 7, "o1", 1),
            ("purchase_undone", 7, "o1", 1),  # a second return of the same line
            ("purchase_undone", 8, "o1", 2),
        ]
    )
    assert keep == [True, False, False, False, False]
    assert quantities[0] == 2.0


def test_other_orders_and_other_kinds_are_left_alone() -> None:
    rows = [
        ("purchase", 7, "o2", 3.0),  # bought again on another order: still bought
        ("cart_add", 7, "", math.nan),
        ("product_view", 7, None, None),
        ("purchase_undone", 7, "o1", 5),
        ("purchase", 7, "o1", 5.0),
    ]
    keep, quantities = _net(rows)
    assert keep == [True, True, True, False, False]
    assert quantities[0] == 3.0


def test_a_purchase_of_unknown_quantity_is_dropped_by_any_return() -> None:
    keep, _ = _net([("purchase", 7, "o1", math.nan), ("purchase_undone", 7, "o1", 1)])
    assert keep == [False, False]


def test_without_anything_undone_every_row_counts() -> None:
    keep, quantities = _net([("purchase", 7, "o1", 2.0), ("cart_add", 8, "", math.nan)])
    assert keep == [True, True] and quantities[0] == 2.0
