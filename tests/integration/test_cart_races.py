"""Changes to one cart take turns: simultaneous additions from one shopper (a double
click, two tabs) are all counted, and the first ones never fail on the cart or its line
being created by the other request a moment earlier."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.cart import services as cart
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Product
from shop.checkout.services import CheckoutError
from shop.db import db
from shop.orders.models import Order
from tests import races
from tests.checkout_support import place_cart, stock


def lines(session: Session, owner: cart.CartOwner) -> list[tuple[int, int]]:
    """(product id, quantity) of each line of the owner's cart, as stored now."""
    session.rollback()
    return [
        (row.product_id, row.quantity)
        for row in session.execute(
            select(CartItem.product_id, CartItem.quantity)
            .join(Cart)
            .where(owner.clause())
            .order_by(CartItem.product_id)
        )
    ]


def test_a_new_visitors_simultaneous_first_additions_make_one_cart_and_count_them_all(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = cart.CartOwner(visitor_id="double-clicker")
    product_id = items["heart"].id
    results = races.race(app, lambda tx: cart.add_item(tx, owner, product_id, 1), (cart.CartError,))
    assert results == ["done"] * races.RACERS
    assert lines(session, owner) == [(product_id, races.RACERS)]
    assert session.scalar(select(func.count()).where(owner.clause()).select_from(Cart)) == 1


def test_simultaneous_additions_to_an_existing_cart_are_all_counted_within_the_stock(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = cart.CartOwner(visitor_id="two-tabs")
    with app.app_context(), db.transaction() as tx:
        cart.add_item(tx, owner, items["heart"].id, 1)
    lantern = items["lantern"].id  # 3 in stock
    results = races.race(app, lambda tx: cart.add_item(tx, owner, lantern, 1), (cart.CartError,))
    assert results.count("done") == 3
    assert all(r.startswith("You already have 3 in your cart") for r in results if r != "done")
    assert lines(session, owner) == sorted([(items["heart"].id, 1), (lantern, 3)])


def test_the_same_order_submitted_several_times_at_once_is_placed_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = cart.CartOwner(visitor_id="impatient")
    with app.app_context(), db.transaction() as tx:
        cart.add_item(tx, owner, items["lantern"].id, 2)

    def place(tx: Session) -> None:
        place_cart(tx, app, owner, checkout_token="one-review-page", visitor_id=owner.visitor_id)

    results = races.race(app, place, (CheckoutError,))
    assert results == ["done"] * races.RACERS
    session.rollback()
    orders = session.scalars(select(Order).where(Order.visitor_id == "impatient")).all()
    assert [(o.checkout_token, o.status) for o in orders] == [
        ("one-review-page", "pending_payment")
    ]
    assert stock(session, items["lantern"]) == 1
