"""Form routes posted a JSON body, as scripts do: numbers, lists and odd shapes are read as a
browser's form post would be, never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.cart.models import CartItem
from shop.form_fields import json_formdata
from tests import factories
from tests.helpers import csrf_token


def _post(client: FlaskClient, path: str, body: object):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/cart")
    return client.post(path, json=body, headers={"X-CSRFToken": token})


def test_a_json_add_to_cart_with_numbers_works(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    response = _post(client, "/cart/add", {"product_id": items["heart"].id, "quantity": 2})
    assert response.status_code == 302
    session.rollback()
    assert session.scalars(select(CartItem.quantity)).all() == [2]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/cart/add", {"product_id": 10**30}),
        ("/cart/update", {"product_id": 1, "quantity": 1.5}),
        ("/cart/remove", {"product_id": [1, 2]}),
        ("/cart/add", [1, 2, 3]),
        ("/cart/add", 5),
        ("/account/login", {"email": 12, "password": 34}),
        ("/account/register", {"name": 1, "email": True, "password": None}),
        ("/account/password/reset", {"email": {"a": 1}}),
    ],
)
def test_odd_json_bodies_are_handled_like_form_posts(
    client: FlaskClient, session: Session, path: str, body: object
) -> None:
    factories.small_catalogue(session)
    response = _post(client, path, body)
    # The form's own answer (its errors, or a redirect), as for the same values in a form.
    assert response.status_code in (302, 400), response.get_data(as_text=True)[:300]


def test_json_formdata_reads_values_as_text() -> None:
    data = json_formdata({"a": 1, "b": [2, "x"], "c": True, "d": False, "e": None, "f": {"g": 1}})
    assert data.getlist("a") == ["1"] and data.getlist("b") == ["2", "x"]
    assert data.getlist("c") == ["y"] and "d" not in data and "e" not in data and "f" not in data
    assert not json_formdata([1, 2]) and not json_formdata("text")
