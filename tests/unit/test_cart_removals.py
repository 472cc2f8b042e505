"""A product taken back out of the cart: its cart additions stop counting for recommendations."""

from __future__ import annotations

from shop.recommendation_data import kept_cart_adds


def _kept(rows: list[tuple[str, int, str, float]]) -> list[bool]:
    users, items, kinds, times = (list(column) for column in zip(*rows, strict=True))
    return kept_cart_adds(users, items, kinds, times).tolist()


def test_a_removal_takes_back_the_additions_before_it_but_not_the_view() -> None:
    rows = [
        ("u1", 7, "product_view", 1.0),
        ("u1", 7, "cart_add", 2.0),
        ("u1", 7, "cart_add", 3.0),
        ("u1", 7, "cart_remove", 4.0),
    ]
    assert _kept(rows) == [True, False, False, False]


def test_a_bought_addition_stays_and_only_later_ones_are_taken_back() -> None:
    rows = [
        ("u1", 7, "cart_add", 1.0),
        ("u1", 7, "purchase", 2.0),
        ("u1", 7, "cart_add", 3.0),
        ("u1", 7, "cart_remove", 4.0),
        ("u1", 7, "cart_add", 5.0),  # put back in the cart: counts again
    ]
    assert _kept(rows) == [True, True, False, False, True]


def test_other_shoppers_and_other_products_are_left_alone() -> None:
    rows = [
        ("u2", 7, "cart_add", 1.0),
        ("u1", 8, "cart_add", 1.5),
        ("u1", 7, "cart_add", 2.0),
        ("u1", 7, "cart_remove", 3.0),
    ]
    assert _kept(rows) == [True, True, False, False]


def test_rows_are_taken_in_time_order_whatever_order_they_were_read_in() -> None:
    rows = [
        ("u1", 7, "cart_remove", 3.0),
        ("u1", 7, "cart_add", 5.0),  # after the removal
        ("u1", 7, "cart_add", 1.0),  # before it
    ]
    assert _kept(rows) == [False, True, False]


def test_without_removals_every_row_counts() -> None:
    rows = [("u1", 7, "cart_add", 1.0), ("u1", 7, "purchase", 2.0)]
    assert _kept(rows) == [True, True]
