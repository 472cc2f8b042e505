"""Placing orders holds stock with a conditional update: never oversold, released on expiry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.cart.services import CartError, CartOwner, add_item
from shop.catalog.models import Product
from shop.checkout.services import CheckoutError, OutOfStock
from shop.db import db, utcnow
from shop.orders.holds import release_expired
from shop.orders.models import Order
from tests import factories, races
from tests.checkout_support import fresh, place_cart, placed_order, stock


def test_eight_concurrent_checkouts_of_the_last_item_sell_it_once(
    app: Flask, session: Session
) -> None:
    last = factories.product(session, None, sku="LAST1", name="The Last Lantern", stock=1)
    session.commit()
    owners = [CartOwner(visitor_id=uuid.uuid4().hex) for _ in range(8)]
    with app.app_context(), db.transaction() as tx:
        for owner in owners:
            add_item(tx, owner, last.id, 1)

    def checkout(owner: CartOwner) -> Callable[[Session], object]:
        return lambda tx: place_cart(tx, app, owner)

    results = races.race_all(app, [checkout(owner) for owner in owners], (OutOfStock,))
    assert results == sorted(["done"] + ["Sorry, The Last Lantern has just sold out."] * 7)
    assert stock(session, last) == 0
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_an_order_that_cannot_be_filled_changes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = CartOwner(visitor_id="v-1")
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 2)
        add_item(tx, owner, items["lantern"].id, 3)
    placed_order(app, [(items["lantern"], 1)])  # someone else takes one lantern
    sold_out = pytest.raises(OutOfStock, match="only 2 of White Metal Lantern left")
    with app.app_context(), sold_out, db.transaction() as tx:
        place_cart(tx, app, owner, checkout_token="t" * 32)
    assert stock(session, items["heart"]) == 50  # the heart line was rolled back too
    assert stock(session, items["lantern"]) == 2
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_an_empty_cart_or_an_unknown_method_cannot_be_placed(
    app: Flask, items: dict[str, Product]
) -> None:
    with app.app_context(), db.transaction() as tx, pytest.raises(CheckoutError, match="empty"):
        place_cart(tx, app, CartOwner(visitor_id="nobody"), checkout_token="e" * 32)
    with pytest.raises(ValueError, match="unknown shipping method"):
        placed_order(app, [(items["heart"], 1)], method="teleport")


def test_expired_holds_are_released_and_can_be_taken_again(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["lantern"], 3)])
    assert stock(session, items["lantern"]) == 0
    with app.app_context(), db.transaction() as tx:
        assert release_expired(tx, utcnow()) == 0
        assert release_expired(tx, utcnow() + timedelta(minutes=31)) == 1
        assert release_expired(tx, utcnow() + timedelta(minutes=31)) == 0
    assert stock(session, items["lantern"]) == 3
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved
    assert "Stock hold expired" in [h.note for h in order.history]


def test_a_shopper_asking_for_stock_an_expired_hold_keeps_gets_it_before_the_release_job(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern, heart = items["lantern"], items["heart"]
    held_lantern = placed_order(app, [(lantern, 3)])
    held_heart = placed_order(app, [(heart, 1)])
    other = CartOwner(visitor_id=uuid.uuid4().hex)
    with (
        app.app_context(),
        db.transaction() as tx,
        pytest.raises(CartError, match="out of stock"),
    ):
        add_item(tx, other, lantern.id, 1)  # the hold is still running
    assert fresh(session, held_lantern).stock_reserved

    session.execute(update(Order).values(reserved_until=utcnow() - timedelta(minutes=1)))
    session.commit()
    with app.app_context(), db.transaction() as tx:
        line = add_item(tx, other, lantern.id, 2)
    assert line.quantity == 2
    order = fresh(session, held_lantern)
    assert not order.stock_reserved and "Stock hold expired" in [h.note for h in order.history]
    assert stock(session, lantern) == 3
    assert fresh(session, held_heart).stock_reserved  # another product's hold: the job's
