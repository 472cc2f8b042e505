"""Checkout: a saved address picked on the details step that was deleted meanwhile, or
picked while a new one was typed too."""

from __future__ import annotations

from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete
from sqlalchemy.orm import Session

from shop.accounts.models import Address
from shop.catalog.models import Product
from tests import factories
from tests.helpers import CHECKOUT_FORM, csrf_token, sign_in

GONE = (
    "The saved address you picked is no longer in your address book (it may have been "
    "deleted in another window). Choose another address or enter a new one."
)


def _address(session: Session, user_id: int, line1: str, *, default: bool = False) -> Address:
    saved = Address(
        user_id=user_id,
        name="Ann Member",
        line1=line1,
        city="York",
        postcode="YO1 7HH",
        country="United Kingdom",
        is_default=default,
    )
    session.add(saved)
    session.flush()
    return saved


def _cart(client: FlaskClient, product: Product) -> str:
    token = csrf_token(client, f"/products/{product.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": 1})
    return csrf_token(client, "/checkout")


def test_a_deleted_saved_address_is_reported_not_blamed_on_the_fields(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    home = _address(session, member.id, "1 Market Street", default=True)
    work = _address(session, member.id, "2 Office Park")
    home_id, work_id = home.id, work.id
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    token = _cart(client, items["heart"])
    session.rollback()
    session.execute(delete(Address).where(Address.id == home_id))  # "in another tab"
    session.commit()

    data = {"csrf_token": token, "address_id": str(home_id), "email": "ann@example.com"}
    response = client.post("/checkout", data=data)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert GONE in page
    assert "Please enter the recipient's name." not in page
    assert "Please enter the street address." not in page
    # The form stays usable: the remaining address can be picked, and "new" is selected.
    assert f'value="{work_id}"' in page and f'value="{home_id}"' not in page
    assert 'value="new" checked' in page

    again = client.post("/checkout", data={**data, "address_id": str(work_id)})
    assert again.status_code == 302 and again.headers["Location"].endswith("/checkout/shipping")


def test_the_last_saved_address_deleted_leaves_the_new_address_fields(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    home_id = _address(session, member.id, "1 Market Street", default=True).id
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    token = _cart(client, items["heart"])
    session.rollback()
    session.execute(delete(Address).where(Address.id == home_id))
    session.commit()

    data = {"csrf_token": token, "address_id": str(home_id), "email": "ann@example.com"}
    response = client.post("/checkout", data=data)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 400 and GONE in page
    assert "Please enter the recipient's name." not in page
    new = {
        **data,
        "address_id": "new",
        "name": "Ann Member",
        "line1": "3 New Road",
        "city": "York",
        "postcode": "YO1 7HH",
        "country": "United Kingdom",
    }
    assert client.post("/checkout", data=new).status_code == 302


def test_a_guest_posting_a_saved_address_is_asked_to_sign_in(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    token = _cart(client, items["heart"])
    data = {"csrf_token": token, "address_id": "7", "email": "grace@example.com"}
    response = client.post("/checkout", data=data)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Sign in to ship to a saved address, or enter the address below." in page


def test_a_new_address_typed_next_to_a_picked_saved_one_is_not_dropped(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    saved = _address(session, member.id, "5 Former Street", default=True)
    session.commit()
    sign_in(client, member.email or "", factories.PASSWORD)
    token = _cart(client, items["heart"])
    page = client.get("/checkout").get_data(as_text=True)
    assert f'value="{saved.id}" id="address_id" checked' in page  # picked for them
    typed = {**CHECKOUT_FORM, "line1": "99 Moved Avenue", "address_id": str(saved.id)}
    refused = client.post("/checkout", data={**typed, "csrf_token": token})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "You picked a saved address and also typed a new one." in html
    assert 'value="99 Moved Avenue"' in html  # what was typed is still there
    chosen = client.post("/checkout", data={**typed, "address_id": "new", "csrf_token": token})
    assert chosen.status_code == 302
    client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "99 Moved Avenue" in review and "5 Former Street" not in review
