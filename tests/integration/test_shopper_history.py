"""A shopper's history as recommendations read it: the table plus the writer's rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.recommendation_data import Shopper, shopper_interactions
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
