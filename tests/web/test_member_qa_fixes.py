"""QA fixes for members: what the checkout and the address book tell them."""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import Address
from shop.catalog.models import Product
from shop.checkout.services import remember_address
from shop.orders.models import Order
from tests import factories
from tests.checkout_support import CONTACT, emails
from tests.helpers import CHECKOUT_FORM, csrf_token, sign_in

ADDRESS = {**CHECKOUT_FORM, "email": "ann@example.com", "name": "Ann Member"}


def _order_with_saved_address(client: FlaskClient, product: Product) -> None:
    token = csrf_token(client, f"/products/{product.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1})
    token = csrf_token(client, "/checkout")
    data = {**ADDRESS, "save_address": "y", "csrf_token": token}
    assert client.post("/checkout", data=data).status_code == 302
    client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    review = client.get("/checkout/review").get_data(as_text=True)
    fields = dict(
        re.findall(r'name="(token|total|fingerprint)" type="hidden" value="([^"]*)"', review)
    )
    response = client.post("/checkout/place", data={"csrf_token": token, **fields})
    assert response.headers["Location"].startswith("/checkout/pay/")


def test_an_address_saved_at_checkout_says_when_it_became_the_default(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    _order_with_saved_address(client, items["heart"])
    session.rollback()
    (saved,) = session.scalars(select(Address).where(Address.user_id == member.id))
    assert saved.is_default
    (notice,) = emails(session, "account_profile_changed")
    assert "An address was added to your address book." in notice.text_body
    assert (
        "It is now your default address: Ann Member, 1 Market Street, York, YO1 7HH, "
        "United Kingdom." in notice.text_body
    )

    # A second, different address is added but does not become the default.
    other = replace(CONTACT, line1="2 Market Street")
    with app.app_context():
        remember_address(session, member.id, other, app.config["SHOP_BASE_URL"])
        session.commit()
    second = [e for e in emails(session, "account_profile_changed") if e.id != notice.id]
    assert len(second) == 1
    assert "An address was added to your address book." in second[0].text_body
    assert "default" not in second[0].text_body


def test_free_delivery_is_advertised_as_free_standard_delivery(
    app: Flask, session: Session
) -> None:
    gold = factories.member(session, free_shipping=True, tier="Gold")
    factories.user(session, "ned@example.com", "Ned")
    session.commit()
    member_client, visitor = app.test_client(), app.test_client()
    sign_in(member_client, gold.email or "", factories.PASSWORD)
    sign_in(visitor, "ned@example.com", factories.PASSWORD)
    member_page = member_client.get("/account/loyalty").get_data(as_text=True)
    join_page = visitor.get("/account/loyalty").get_data(as_text=True)
    assert "Free standard delivery" in member_page
    assert "free standard delivery" in join_page
    for page in (member_page, join_page):
        assert "free shipping" not in page.lower()


def test_a_member_with_free_delivery_can_still_buy_a_tiny_basket(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.member(
        session, "plat@example.com", discount_bp=800, free_shipping=True, tier="Platinum"
    )
    tiny = items["heart"]
    tiny.price_pence = 4
    session.commit()
    sign_in(client, "plat@example.com", factories.PASSWORD)
    token = csrf_token(client, f"/products/{tiny.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": tiny.id, "quantity": 1})
    cart = client.get("/cart").get_data(as_text=True)
    assert "Free delivery applies from £0.30." in cart
    token = csrf_token(client, "/checkout")
    data = {**ADDRESS, "email": "plat@example.com", "csrf_token": token}
    assert client.post("/checkout", data=data).status_code == 302
    client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "Card payments start at" not in review
    assert "Free delivery applies from £0.30." in review
    # 4p of goods (8% off rounds to nothing) plus standard delivery at £3.95.
    assert "Place order and pay £3.99" in review
    fields = dict(
        re.findall(r'name="(token|total|fingerprint)" type="hidden" value="([^"]*)"', review)
    )
    response = client.post("/checkout/place", data={"csrf_token": token, **fields})
    assert response.headers["Location"].startswith("/checkout/pay/")
    session.rollback()
    order = session.scalars(select(Order)).one()
    assert (order.shipping_pence, order.total_pence) == (395, 399)
