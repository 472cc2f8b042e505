"""What the browser QA round found on the storefront: the page frame's return links, the
personalization switch at sign-in, forms that report every error at once, error pages,
the order history's item count and UK postcodes."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import Address, User
from shop.catalog.models import Product
from tests import factories
from tests.helpers import csrf_token, sign_in


def _next_of_footer(html: str) -> str:
    match = re.search(r'name="next" value="([^"]*)"', html)
    assert match
    return match.group(1).replace("&amp;", "&")


def test_the_footer_switch_and_sign_in_link_come_back_to_the_same_page(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    page = client.get("/search?q=candle&page=1").get_data(as_text=True)
    assert _next_of_footer(page) == "/search?q=candle&page=1"
    assert 'href="/account/login?next=/search?q%3Dcandle%26page%3D1"' in page
    token = csrf_token(client, "/search?q=candle&page=1")
    back = client.post(
        "/account/tracking", data={"csrf_token": token, "next": _next_of_footer(page)}
    )
    assert back.headers["Location"] == "/search?q=candle&page=1"

    # A page shown in answer to a POST (a cart error) comes back to the page of the form.
    product = items["heart"]
    client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1})
    error = client.post(
        "/cart/update",
        data={"csrf_token": token, "product_id": product.id, "quantity": 0},
        headers={"Referer": "http://localhost/cart"},
    )
    assert error.status_code == 400 and _next_of_footer(error.get_data(as_text=True)) == "/cart"
    foreign = client.post(
        "/cart/update",
        data={"csrf_token": token, "product_id": product.id, "quantity": 0},
        headers={"Referer": "https://evil.example/cart"},
    )
    assert _next_of_footer(foreign.get_data(as_text=True)) == "/"


def test_switched_off_in_the_browser_then_signing_in_switches_the_account_off(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session)
    session.commit()
    client = app.test_client()
    token = csrf_token(client, "/")
    client.post("/account/tracking", data={"csrf_token": token, "next": "/"})
    sign_in(client, ann.email or "", factories.PASSWORD)
    session.rollback()
    assert session.get(User, ann.id).tracking_enabled is False  # type: ignore[union-attr]
    account = client.get("/account").get_data(as_text=True)
    assert "Personalization is off." in account
    checkbox = re.search(r'<input[^>]*name="enabled"[^>]*>', account)
    assert checkbox and "checked" not in checkbox.group(0)


def test_checkout_details_report_every_missing_field_at_once(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    token = csrf_token(client, f"/products/{items['heart'].id}")
    client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1}
    )
    response = client.post("/checkout", data={"csrf_token": token, "address_id": "new"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in (
        "Please enter your e-mail address.",
        "Please enter the recipient&#39;s name.",
        "Please enter the street address.",
        "Please enter the town or city.",
        "Please enter the postcode.",
    ):
        assert message in html, message


def test_a_wrong_current_password_is_reported_with_the_other_errors(
    app: Flask, session: Session
) -> None:
    factories.user(session)
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "wrong",
            "new_password": "x",
            "confirm": "x",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your current password is not correct." in html
    assert "at least" in html  # the new password's own error, in the same answer


def test_the_add_to_cart_error_does_not_mention_a_remove_button(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    token = csrf_token(client, f"/products/{items['heart'].id}")
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 0}
    )
    html = response.get_data(as_text=True)
    assert "Enter a whole number from 1 to 999." in html and "use Remove" not in html
    assert 'class="add-to-cart" novalidate data-once' in html


def test_error_pages_have_a_readable_title_and_a_search_box(client: FlaskClient) -> None:
    html = client.get("/no-such-page").get_data(as_text=True)
    assert "<title>Page not found" in html
    assert 'id="error-search"' in html and 'action="/search"' in html
    html = client.get("/cart/update").get_data(as_text=True)
    assert "<title>That action isn&#39;t available here" in html


def test_order_history_counts_items_not_lines(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session)
    factories.order(session, ann, "536365", [(items["heart"], 5), (items["jumbo"], 12)])
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    row = re.search(
        r'data-testid="order-row">.*?</tr>', client.get("/account").get_data(True), re.S
    )
    assert row and "<td>17</td>" in row.group(0)


def test_a_uk_address_needs_a_uk_postcode(app: Flask, session: Session) -> None:
    factories.user(session)
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account/addresses/new")
    address = {
        "csrf_token": token,
        "name": "Ann",
        "line1": "1 High Street",
        "city": "York",
        "postcode": "ZZZ",
        "country": "United Kingdom",
    }
    refused = client.post("/account/addresses/new", data=address)
    assert refused.status_code == 400
    assert "Enter a UK postcode, such as SW1A 1AA." in refused.get_data(as_text=True)
    # Not a postcode of any shape: one message, not two.
    garbled = client.post("/account/addresses/new", data={**address, "postcode": "!!!"})
    page = garbled.get_data(as_text=True)
    assert garbled.status_code == 400 and "Please check the postcode." in page
    assert "Enter a UK postcode" not in page
    for postcode, country in (("yo1 7hh", "United Kingdom"), ("D02 X285", "Ireland")):
        saved = client.post(
            "/account/addresses/new", data={**address, "postcode": postcode, "country": country}
        )
        assert saved.status_code == 302, postcode
    session.rollback()
    assert sorted(session.scalars(select(Address.postcode))) == ["D02 X285", "YO1 7HH"]
