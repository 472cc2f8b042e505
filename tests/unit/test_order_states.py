"""The order state machine."""

from __future__ import annotations

import pytest

from shop.orders import states
from shop.orders.models import Order


def _order(status: str) -> Order:
    return Order(number="W1", status=status, history=[])


@pytest.mark.parametrize(
    ("path"),
    [
        ["paid", "shipped", "delivered", "partially_refunded", "refunded"],
        ["cancelled"],
        ["paid", "partially_refunded", "shipped", "delivered"],
        ["paid", "refunded"],
    ],
)
def test_legal_paths_are_recorded_step_by_step(path: list[str]) -> None:
    order = _order("pending_payment")
    states.start(order, "placed")
    for target in path:
        states.transition(order, target, f"to {target}")
    assert order.status == path[-1]
    steps = [(h.from_status, h.to_status) for h in order.history]
    assert steps == list(
        zip([None, "pending_payment", *path[:-1]], ["pending_payment", *path], strict=True)
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending_payment", "shipped"),
        ("pending_payment", "refunded"),
        ("paid", "pending_payment"),
        ("shipped", "cancelled"),
        ("delivered", "shipped"),
        ("refunded", "paid"),
        ("cancelled", "paid"),
        ("paid", "teleported"),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(current: str, target: str) -> None:
    order = _order(current)
    with pytest.raises(states.IllegalTransition):
        states.transition(order, target)
    assert order.status == current
    assert order.history == []


def test_notes_keep_the_status() -> None:
    order = _order("paid")
    states.note(order, "Restocked 1 item(s)")
    assert order.status == "paid"
    assert [(h.from_status, h.to_status, h.note) for h in order.history] == [
        ("paid", "paid", "Restocked 1 item(s)")
    ]


def test_the_shopper_sees_status_changes_and_their_notes_but_not_staff_notes() -> None:
    order = _order("pending_payment")
    states.note(order, "Stock hold expired")
    states.note(order, staff_note="Payment flagged: amount mismatch")
    states.transition(order, "cancelled", "Cancelled", staff_note="suspected fraud")
    assert [(h.note, h.staff_note) for h in order.customer_history] == [
        ("Stock hold expired", ""),
        ("Cancelled", "suspected fraud"),
    ]
    assert len(order.history) == 3
