"""The checkout benchmark drives the real checkout pages: keep its steps in step with them."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.checkout_bench import FakeGateway, place_and_pay, prepare
from shop.catalog.models import Product
from shop.orders.models import Order
from shop.payments.setup import EXTENSION
from tests.checkout_support import fresh


def test_the_benchmark_places_and_pays_an_order(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    app.extensions[EXTENSION] = FakeGateway()
    checkout = prepare(app, items["heart"].id, 1)
    place_s, pay_s = place_and_pay(checkout, 1)
    assert place_s > 0 and pay_s > 0
    session.rollback()
    order = session.scalar(select(Order))
    assert order is not None and fresh(session, order.id).status == "paid"
