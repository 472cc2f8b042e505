"""Cart through the browser-facing routes: add, update, remove and every bad quantity."""

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.cart.models import CartItem
from tests import factories
from tests.helpers import csrf_token


def _add(client: FlaskClient, product_id: int, quantity: object) -> tuple[int, str]:
    token = csrf_token(client, f"/products/{product_id}")
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": quantity}
    )
    return response.status_code, response.get_data(as_text=True)


def _quantities(session: Session) -> list[int]:
    session.rollback()
    return list(session.scalars(select(CartItem.quantity).order_by(CartItem.id)))


def test_add_update_remove(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    heart = items["heart"].id
    assert _add(client, heart, 2)[0] == 302
    assert _add(client, heart, 1)[0] == 302
    page = client.get("/cart").get_data(as_text=True)
    assert "White Hanging Heart T-Light Holder" in page
    assert "£8.85" in page  # 3 x 2.95, priced from the catalogue
    assert 'data-testid="cart-count" aria-hidden="true">3<' in page
    assert '<span class="visually-hidden">, 3 items</span>' in page
    token = csrf_token(client, "/cart")
    client.post("/cart/update", data={"csrf_token": token, "product_id": heart, "quantity": 5})
    assert _quantities(session) == [5]
    client.post("/cart/remove", data={"csrf_token": token, "product_id": heart})
    assert _quantities(session) == []
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_prices_come_from_the_catalogue_not_the_form(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    token = csrf_token(client, "/")
    client.post(
        "/cart/add",
        data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1, "price": 1},
    )
    assert "£2.95" in client.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "Enter a whole number from 1 to 999"),
        (-4, "Enter a whole number from 1 to 999"),
        (10**20, "Enter a whole number from 1 to 999"),
        ("lots", "Enter a whole number from 1 to 999"),
        ("1.5", "Enter a whole number from 1 to 999"),
        ("", "Enter a whole number from 1 to 999"),
    ],
)
def test_bad_add_quantities_get_a_form_error(
    client: FlaskClient, session: Session, quantity: object, message: str
) -> None:
    items = factories.small_catalogue(session)
    status, html = _add(client, items["heart"].id, quantity)
    assert status == 400
    assert message in html
    assert html.count("Enter a whole number") <= 1 and "Not a valid integer" not in html
    assert _quantities(session) == []


def test_more_than_stock_is_refused(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    status, html = _add(client, items["lantern"].id, 4)
    assert status == 400
    assert "Only 3 of White Metal Lantern left in stock." in html
    status, html = _add(client, items["lunch"].id, 1)
    assert status == 400
    assert "out of stock" in html


def test_adding_more_than_the_stock_says_how_many_are_in_the_cart_already(
    client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    lantern = items["lantern"].id  # three in stock
    assert _add(client, lantern, 2)[0] == 302
    status, html = _add(client, lantern, 2)
    assert status == 400
    assert "You already have 2 in your cart; only 3 are in stock. You can add 1 more." in html
    assert _add(client, lantern, 1)[0] == 302
    status, html = _add(client, lantern, 1)
    assert status == 400
    assert "You already have 3 in your cart; only 3 are in stock." in html
    assert "You can add" not in html and "left in stock" not in html
    assert _quantities(session) == [3]


@pytest.mark.parametrize("quantity", [0, -1, 10**9, "x"])
def test_bad_update_quantities_keep_the_line(
    client: FlaskClient, session: Session, quantity: object
) -> None:
    items = factories.small_catalogue(session)
    _add(client, items["heart"].id, 2)
    token = csrf_token(client, "/cart")
    response = client.post(
        "/cart/update",
        data={"csrf_token": token, "product_id": items["heart"].id, "quantity": quantity},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    heart = items["heart"].id
    # The title says so, and the summary above the cart links to the field.
    assert "<title>Error: Your cart · " in html
    summary = html[html.index('<div class="error-summary"') : html.index("<h1>")]
    assert 'role="alert"' in summary and "Please correct this field:" in summary
    assert f'<a href="#qty-{heart}">Quantity of {items["heart"].name}</a>' in summary
    assert f'aria-describedby="qty-error-{heart}"' in html
    # The field shows what was typed, next to its message, not the old quantity.
    assert f'id="qty-{heart}" type="number" name="quantity" value="{quantity}"' in html
    assert _quantities(session) == [2]


def test_a_quantity_over_the_stock_is_shown_as_typed(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    lantern = items["lantern"].id  # three in stock
    _add(client, lantern, 1)
    token = csrf_token(client, "/cart")
    data = {"csrf_token": token, "product_id": lantern, "quantity": 7}
    response = client.post("/cart/update", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "left in stock" in html
    assert f'id="qty-{lantern}" type="number" name="quantity" value="7"' in html
    assert _quantities(session) == [1]


def test_post_without_csrf_token_is_refused(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    client.get("/")
    response = client.post("/cart/add", data={"product_id": items["heart"].id, "quantity": 1})
    assert response.status_code == 400
    assert "form has expired" in response.get_data(as_text=True)
    assert _quantities(session) == []


def test_bad_product_reference(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    token = csrf_token(client, "/")
    bad = client.post("/cart/add", data={"csrf_token": token, "product_id": "x", "quantity": 1})
    assert bad.status_code == 400
    missing = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": 987654, "quantity": 1}
    )
    assert missing.status_code == 404


def test_a_product_no_longer_sold_is_flagged_in_the_cart_and_at_checkout(
    client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart, lantern = items["heart"], items["lantern"]
    _add(client, heart.id, 1)
    _add(client, lantern.id, 1)
    assert 'data-testid="line-unavailable"' not in client.get("/cart").get_data(as_text=True)
    session.rollback()
    heart.active = False  # the merchandiser stops selling it
    session.commit()

    page = client.get("/cart").get_data(as_text=True)
    assert page.count('data-testid="line-unavailable"') == 1
    assert "No longer sold: remove it to check out." in page
    details = client.get("/checkout")
    assert details.status_code == 200
    summary = details.get_data(as_text=True)
    assert summary.count('data-testid="summary-unavailable"') == 1
    assert "(No longer sold: remove it to check out.)" in summary


def test_a_line_sold_out_or_short_of_stock_is_flagged_in_the_cart_and_at_checkout(
    client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart, lantern = items["heart"], items["lantern"]
    _add(client, heart.id, 2)
    _add(client, lantern.id, 3)
    assert 'data-testid="line-unavailable"' not in client.get("/cart").get_data(as_text=True)
    session.rollback()
    heart.stock_qty = 0  # another shopper bought the last ones
    lantern.stock_qty = 2
    session.commit()

    page = client.get("/cart").get_data(as_text=True)
    assert page.count('data-testid="line-unavailable"') == 2
    assert "Sold out: remove it to check out." in page
    assert "Only 2 left: lower the quantity to check out." in page
    summary = client.get("/checkout").get_data(as_text=True)
    assert summary.count('data-testid="summary-unavailable"') == 2
    assert "(Sold out: remove it to check out.)" in summary
