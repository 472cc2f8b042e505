""" "Order these again" on an order page puts its products back in the cart: as many as are
in stock for the shopper and within the line limit, saying what could not be added."""

from __future__ import annotations

from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Product
from shop.orders.models import Order
from shop.tracking.models import Event
from tests import factories
from tests.helpers import add_to_cart, csrf_token, sign_in

SHORT_AND_GONE = (
    "White Metal Lantern: 3 of the 5 ordered, as many as we can sell you now. "
    "Not available now: Lunch Bag Red Retrospot, Retired Paper Bag."
)


def _ann_with_order(session: Session, items: dict[str, Product]) -> tuple[User, Order]:
    """Ann with a delivered order: 3 hearts, 5 lanterns (3 in stock), 2 lunch
    bags (sold out) and a retired bag."""
    ann = factories.user(session, "ann@example.com", "Ann")
    order = factories.order(
        session,
        ann,
        "W1",
        [(items["heart"], 3), (items["lantern"], 5), (items["lunch"], 2), (items["retired"], 1)],
    )
    session.commit()
    return ann, order


def _cart(session: Session, user_id: int) -> dict[str, int]:
    session.rollback()
    rows = session.execute(
        select(Product.name, CartItem.quantity)
        .join(CartItem, CartItem.product_id == Product.id)
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.user_id == user_id)
    )
    return {name: quantity for name, quantity in rows}


def _again(client: FlaskClient, page: str, path: str) -> object:
    return client.post(path, data={"csrf_token": csrf_token(client, page)})


def test_a_member_orders_a_past_order_again(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann, _order = _ann_with_order(session, items)
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    page = client.get("/account/orders/W1").get_data(as_text=True)
    assert 'action="/account/orders/W1/again"' in page and "Order these again" in page

    response = _again(client, "/account/orders/W1", "/account/orders/W1/again")
    assert response.status_code == 302 and response.headers["Location"] == "/cart"
    cart = unescape(client.get("/cart").get_data(as_text=True))
    assert f"Added 6 items from order W1 to your cart. {SHORT_AND_GONE}" in cart
    assert _cart(session, ann.id) == {
        "White Hanging Heart T-Light Holder": 3,
        "White Metal Lantern": 3,
    }
    added = session.execute(
        select(Event.product_id, Event.quantity, Event.user_id).where(Event.kind == "cart_add")
    ).all()
    assert sorted(added) == sorted(
        [(items["heart"].id, 3, ann.id), (items["lantern"].id, 3, ann.id)]
    )

    again = _again(client, "/account/orders/W1", "/account/orders/W1/again")
    assert again.status_code == 302 and again.headers["Location"] == "/cart"
    twice = unescape(client.get("/cart").get_data(as_text=True))
    assert "Added 3 items from order W1 to your cart." in twice  # the lanterns are all in it
    assert (
        "Already in your cart, as many as we can sell you: White Metal Lantern. "
        "Not available now: Lunch Bag Red Retrospot, Retired Paper Bag."
    ) in twice
    assert _cart(session, ann.id)["White Hanging Heart T-Light Holder"] == 6


def test_nothing_left_to_sell_sends_the_shopper_back_to_the_order(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    factories.order(session, ann, "W2", [(items["lunch"], 2), (items["retired"], 1)])
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    response = _again(client, "/account/orders/W2", "/account/orders/W2/again")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/orders/W2"
    page = unescape(client.get("/account/orders/W2").get_data(as_text=True))
    assert (
        "Nothing from order W2 could be added to your cart. "
        "Not available now: Lunch Bag Red Retrospot, Retired Paper Bag."
    ) in page
    assert _cart(session, ann.id) == {}


def test_the_line_limit_caps_a_wholesale_quantity(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    app.config["MAX_CART_LINE_QTY"] = 20
    ann = factories.user(session, "ann@example.com", "Ann")
    factories.order(session, ann, "W3", [(items["jumbo"], 144)])
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    _again(client, "/account/orders/W3", "/account/orders/W3/again")
    cart = unescape(client.get("/cart").get_data(as_text=True))
    assert "Jumbo Bag Red Retrospot: 20 of the 144 ordered" in cart
    assert _cart(session, ann.id) == {"Jumbo Bag Red Retrospot": 20}


def test_a_guest_orders_again_from_the_order_link(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order = factories.order(session, None, "G1", [(items["jumbo"], 2)])
    order.access_token = "guest-link-token"
    session.commit()
    client = app.test_client()
    add_to_cart(client, items["jumbo"], 1)
    page = client.get("/orders/guest-link-token").get_data(as_text=True)
    assert 'action="/orders/guest-link-token/again"' in page
    response = _again(client, "/orders/guest-link-token", "/orders/guest-link-token/again")
    assert response.status_code == 302 and response.headers["Location"] == "/cart"
    cart = unescape(client.get("/cart").get_data(as_text=True))
    assert "Added 2 items from order G1 to your cart." in cart
    session.rollback()
    assert session.scalars(select(CartItem.quantity)).all() == [3]


def test_only_the_owner_can_and_the_form_needs_its_token(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann, _order = _ann_with_order(session, items)
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    bob = app.test_client()
    sign_in(bob, "bob@example.com", factories.PASSWORD)
    assert _again(bob, "/account", "/account/orders/W1/again").status_code == 404
    signed_out = _again(app.test_client(), "/", "/account/orders/W1/again")
    assert signed_out.status_code == 302 and "/account/login" in signed_out.headers["Location"]

    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    assert client.post("/account/orders/W1/again").status_code == 400
    assert client.get("/account/orders/W1/again").status_code == 405
    assert _cart(session, ann.id) == {}
    bob_id = session.scalar(select(User.id).where(User.email == "bob@example.com"))
    assert bob_id is not None and _cart(session, bob_id) == {}


def test_an_unpaid_order_offers_payment_not_a_second_order(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order = factories.order(session, None, "G2", [(items["jumbo"], 2)])
    order.status, order.access_token = "pending_payment", "unpaid-link-token"
    session.commit()
    page = app.test_client().get("/orders/unpaid-link-token").get_data(as_text=True)
    assert "Order these again" not in page
