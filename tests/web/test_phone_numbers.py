"""One rule for phone numbers in the profile, the address book and the checkout, so a
number saved in one is accepted in the others."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from tests import factories
from tests.helpers import csrf_token, sign_in

DOTTED = "01904.123.456"
CHECKOUT = {
    "address_id": "new",
    "email": "grace@example.com",
    "name": "Grace Guest",
    "line1": "1 Market Street",
    "city": "York",
    "postcode": "YO1 7HH",
    "country": "United Kingdom",
}


def _checkout_details(client: FlaskClient, product: Product, phone: str) -> tuple[int, str]:
    token = csrf_token(client, f"/products/{product.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1})
    token = csrf_token(client, "/checkout")
    response = client.post("/checkout", data={**CHECKOUT, "phone": phone, "csrf_token": token})
    return response.status_code, response.get_data(as_text=True)


def _profile_phone(app: Flask, phone: str) -> tuple[int, str]:
    """Ann (already stored) signs in and saves `phone` in her profile."""
    member = app.test_client()
    sign_in(member, "ann@example.com", factories.PASSWORD)
    token = csrf_token(member, "/account/profile")
    response = member.post(
        "/account/profile", data={"csrf_token": token, "name": "Ann", "phone": phone}
    )
    return response.status_code, response.get_data(as_text=True)


def test_a_number_the_profile_accepts_is_accepted_at_checkout(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    assert _profile_phone(app, DOTTED)[0] == 302
    session.rollback()
    assert session.scalar(select(User.phone).where(User.email == "ann@example.com")) == DOTTED

    status, page = _checkout_details(client, items["heart"], DOTTED)

    assert status == 302, page


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("123", "Enter the whole number, with at least 6 digits."),
        ("+44 (0)", "Enter the whole number, with at least 6 digits."),
        ("call me", "Use digits, spaces and + ( ) - . only."),
    ],
)
def test_checkout_and_profile_refuse_the_same_numbers_with_the_same_words(
    app: Flask, session: Session, items: dict[str, Product], phone: str, message: str
) -> None:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    status, page = _checkout_details(app.test_client(), items["heart"], phone)
    assert status == 400
    assert message in page

    status, html = _profile_phone(app, phone)
    assert status == 400
    assert message in html
    assert html.count("only.") + html.count("6 digits.") == 1  # one message per field
