"""Delivery priced by the address's country: the UK's rates, or Europe's for the others."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import Address
from shop.catalog.models import Product
from shop.orders.models import Order
from tests import factories
from tests.helpers import CHECKOUT_FORM, add_to_cart, csrf_token, sign_in

PARIS = {"line1": "3 Rue de Rivoli", "city": "Paris", "postcode": "75001", "country": "France"}


def _details(client: FlaskClient, **contact: str) -> None:
    token = csrf_token(client, "/checkout")
    response = client.post("/checkout", data={**CHECKOUT_FORM, **contact, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def _choose(client: FlaskClient, method: str) -> str:
    token = csrf_token(client, "/checkout/shipping")
    response = client.post("/checkout/shipping", data={"csrf_token": token, "method": method})
    assert response.status_code == 302
    return client.get("/checkout/review").get_data(as_text=True)


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)
    assert match, page
    return match.group(1)


def _place(client: FlaskClient, review: str) -> str:
    token = csrf_token(client, "/cart")
    fields = {name: _hidden(review, name) for name in ("token", "total", "fingerprint")}
    response = client.post("/checkout/place", data={"csrf_token": token, **fields})
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_cart_is_priced_to_the_uk_until_an_address_says_otherwise(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 2)
    page = client.get("/cart").get_data(as_text=True)
    assert "Shipping (standard delivery to the United Kingdom)" in page
    assert 'data-testid="shipping">£3.95<' in page
    assert "Spend £44.10 more for free standard delivery to the United Kingdom." in page
    assert "to another country in Europe it costs more, and checkout prices it" in page


def test_an_order_to_france_pays_europes_delivery_and_the_cart_says_so(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 2)
    _details(client, **PARIS)
    shipping = client.get("/checkout/shipping").get_data(as_text=True)
    assert "Choose a delivery option to France" in shipping
    assert "Standard delivery</strong> — £9.95" in shipping
    assert "5 to 8 working days, free on orders of £150 or more" in shipping
    assert "Express delivery</strong> — £19.95" in shipping
    assert "2 to 3 working days" in shipping and "Next working day" not in shipping

    review = _choose(client, "express")
    assert 'data-testid="summary-shipping">£19.95<' in review
    assert _hidden(review, "total") == str(590 + 1995)
    assert _place(client, review).startswith("/checkout/pay/")
    session.rollback()
    order = session.scalars(select(Order)).one()
    assert (order.country, order.shipping_method) == ("France", "express")
    assert (order.shipping_pence, order.total_pence) == (1995, 590 + 1995)

    cart = client.get("/cart").get_data(as_text=True)  # the unpaid order holds the cart
    assert "Shipping (standard delivery to France)" in cart
    assert 'data-testid="shipping">£9.95<' in cart
    assert "Spend £144.10 more for free standard delivery to France." in cart
    assert "Delivery is priced to France, the country of your address" in cart


def test_standard_delivery_to_europe_is_free_from_its_own_threshold(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["jumbo"], 30)  # £58.50: free in the UK, charged in France
    assert 'data-testid="shipping">Free<' in client.get("/cart").get_data(as_text=True)
    _details(client, **PARIS)
    assert 'data-testid="summary-shipping">£9.95<' in _choose(client, "standard")
    token = csrf_token(client, "/cart")
    client.post(
        "/cart/update", data={"csrf_token": token, "product_id": items["jumbo"].id, "quantity": 77}
    )  # £150.15
    review = client.get("/checkout/review").get_data(as_text=True)
    assert 'data-testid="summary-shipping">Free<' in review
    assert _hidden(review, "total") == str(77 * 195)


def test_an_address_moved_abroad_after_the_review_is_not_placed_at_the_uk_price(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 2)
    _details(client)
    review = _choose(client, "standard")
    assert 'data-testid="summary-shipping">£3.95<' in review
    _details(client, **PARIS)  # in another tab, say
    location = _place(client, review)
    assert location == "/checkout/review"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    again = client.get("/checkout/review").get_data(as_text=True)
    assert 'data-testid="summary-shipping">£9.95<' in again


def test_a_members_cart_is_priced_to_their_first_saved_address(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    session.add(
        Address(
            user_id=member.id,
            name="Ann",
            line1="Hauptstrasse 1",
            city="Berlin",
            postcode="10115",
            country="Germany",
            is_default=True,
        )
    )
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    page = client.get("/cart").get_data(as_text=True)
    assert "Shipping (standard delivery to Germany)" in page
    assert 'data-testid="shipping">£9.95<' in page
    assert 'data-testid="total">£12.90<' in page
