"""What the shopper is told after "Order these again"."""

from __future__ import annotations

from shop.cart.reorder import Reordered, order_again_message


def test_everything_added_is_a_plain_success() -> None:
    assert order_again_message(Reordered(added={1: 2, 2: 1}), "W1") == (
        "Added 3 items from order W1 to your cart.",
        "success",
    )


def test_what_was_left_out_is_named_and_the_message_is_information() -> None:
    result = Reordered(
        added={1: 1},
        fewer=[("Lantern", 5, 1)],
        full=["Heart"],
        unavailable=["Lunch Bag", "Paper Bag"],
    )
    assert order_again_message(result, "W1") == (
        "Added 1 item from order W1 to your cart. "
        "Lantern: 1 of the 5 ordered, as many as we can sell you now. "
        "Already in your cart, as many as we can sell you: Heart. "
        "Not available now: Lunch Bag, Paper Bag.",
        "info",
    )


def test_nothing_added_is_an_error() -> None:
    assert order_again_message(Reordered(unavailable=["Paper Bag"]), "W2") == (
        "Nothing from order W2 could be added to your cart. Not available now: Paper Bag.",
        "error",
    )
