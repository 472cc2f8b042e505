"""A shopper's history as recommendations read it: the table plus the writer's rows, less
cart additions taken back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.recommendation_data import Shopper, load_interactions, shopper_interactions
from shop.tracking.models import Event
from tests import factories


def _view(product_id: int, moment: Any, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "product_view",
        "visitor_id": "v1",
        "user_id": None,
        "product_id": product_id,
        "created_at": moment,
        **fields,
    }


def test_an_event_stored_while_the_history_was_read_counts_once(
    app: Flask, session: Session
) -> None:
    bag = factories.product(session, None, sku="BAG", name="Jumbo Bag").id
    heart = factories.product(session, None, sku="HEART", name="Heart").id
    now = utcnow()
    stored = _view(bag, now - timedelta(seconds=1))
    session.execute(insert(Event), [_view(bag, now - timedelta(hours=1)), stored])
    session.commit()
    # The writer's copy of the stored click, a click on the same bag a moment later and
    # one on another product: only the stored copy is dropped.
    pending = [stored, _view(bag, now), _view(heart, now)]

    history = shopper_interactions(session, Shopper("v1"), pending)

    assert sorted(history.items.tolist()) == [bag, bag, bag, heart]
    assert len(history.timestamps) == 4


def test_without_the_writers_rows_the_table_is_read_as_is(app: Flask, session: Session) -> None:
    bag = factories.product(session, None, sku="BAG", name="Jumbo Bag").id
    session.execute(insert(Event), [_view(bag, utcnow())])
    session.commit()
    assert shopper_interactions(session, Shopper("v1")).items.tolist() == [bag]


def test_a_cart_addition_taken_back_by_a_removal_still_waiting_to_be_stored_is_left_out(
    app: Flask, session: Session
) -> None:
    bag = factories.product(session, None, sku="BAG", name="Jumbo Bag").id
    now = utcnow()
    stored = [
        _view(bag, now - timedelta(minutes=2)),
        _view(bag, now - timedelta(minutes=1), kind="cart_add", quantity=2),
    ]
    session.execute(insert(Event), stored)
    session.commit()
    added = shopper_interactions(session, Shopper("v1"))
    assert sorted(added.kinds.tolist()) == ["cart_add", "view"]

    pending = [_view(bag, now, kind="cart_remove")]
    history = shopper_interactions(session, Shopper("v1"), pending)
    assert history.kinds.tolist() == ["view"]


def test_training_reads_no_cart_addition_that_was_taken_back(app: Flask, session: Session) -> None:
    bag = factories.product(session, None, sku="BAG", name="Jumbo Bag").id
    heart = factories.product(session, None, sku="HEART", name="Heart").id
    now = utcnow()
    session.execute(
        insert(Event),
        [
            _view(bag, now - timedelta(minutes=3), kind="cart_add"),
            _view(heart, now - timedelta(minutes=2), kind="cart_add"),
            _view(bag, now - timedelta(minutes=1), kind="cart_remove"),
        ],
    )
    session.commit()
    read = load_interactions(session)
    assert read.items.tolist() == [heart]
    assert read.kinds.tolist() == ["cart_add"]


def test_purchases_that_came_back_are_taken_off_in_training_and_at_request_time(
    app: Flask, session: Session
) -> None:
    bag = factories.product(session, None, sku="BAG", name="Jumbo Bag").id
    heart = factories.product(session, None, sku="HEART", name="Heart").id
    first = factories.order(session, None, "HP-1", []).id
    second = factories.order(session, None, "HP-2", []).id
    now = utcnow()
    session.execute(
        insert(Event),
        [
            _view(bag, now - timedelta(hours=9), kind="purchase", order_id=first, quantity=4),
            _view(heart, now - timedelta(hours=9), kind="purchase", order_id=first, quantity=1),
            _view(heart, now - timedelta(hours=5), kind="purchase", order_id=second, quantity=2),
            _view(
                bag, now - timedelta(hours=3), kind="purchase_undone", order_id=first, quantity=3
            ),
            _view(
                heart, now - timedelta(hours=2), kind="purchase_undone", order_id=first, quantity=1
            ),
        ],
    )
    session.commit()
    for read in (load_interactions(session), shopper_interactions(session, Shopper("v1"))):
        bought = dict(zip(read.items.tolist(), read.quantities.tolist(), strict=True))
        assert read.kinds.tolist() == ["purchase", "purchase"]
        # One bag of four kept; the heart of the first order came back, not the second's two.
        assert bought == {bag: 1.0, heart: 2.0}
