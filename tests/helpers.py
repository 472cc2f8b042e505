"""Helpers shared by web tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from shop.accounts.models import User
from shop.catalog.models import Product
from tests import factories

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')

# The address book's form filled in (see shop.accounts.forms.AddressForm).
# The first step of checkout as a guest posts it, with a new address.
CHECKOUT_FORM = {
    "address_id": "new",
    "email": "grace@example.com",
    "name": "Grace Guest",
    "line1": "1 Market Street",
    "city": "York",
    "postcode": "yo1 7hh",
    "country": "United Kingdom",
}

ADDRESS_FORM = {
    "name": "Ann Example",
    "line1": "1 High Street",
    "line2": "",
    "city": "York",
    "postcode": "YO1 7HH",
    "country": "United Kingdom",
    "phone": "",
}


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """Load a page and return the CSRF token from its layout's meta tag."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {response.status_code})"
    return match.group(1)


def add_to_cart(client: FlaskClient, product: Product, qty: int) -> None:
    """Add `qty` of the product from its page's form; fail the test if it is refused."""
    token = csrf_token(client, f"/products/{product.id}")
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": product.id, "quantity": qty}
    )
    assert response.status_code == 302


def sign_in(client: FlaskClient, email: str, password: str) -> None:
    """Sign the client in through the login form; fail the test if that does not work."""
    token = csrf_token(client, "/account/login")
    response = client.post(
        "/account/login", data={"csrf_token": token, "email": email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def register(
    client: FlaskClient, email: str = "new@example.com", password: str = "a-long-password"
) -> TestResponse:
    """Post the registration form (name "Nia") and return the response."""
    token = csrf_token(client, "/account/register")
    return client.post(
        "/account/register",
        data={
            "csrf_token": token,
            "name": "Nia",
            "email": email,
            "password": password,
            "confirm": password,
        },
    )


def signed_in(app: Flask, session: Session, email: str = "ann@example.com") -> FlaskClient:
    """A browser signed in to a new account with this e-mail address (name from it)."""
    factories.user(session, email, email.split("@")[0].title())
    session.commit()
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    return client


def signed_in_member(app: Flask, session: Session) -> tuple[FlaskClient, int]:
    """A browser signed in as ann@example.com, who joined the programme (default tiers:
    £0 / £100 / £500 / £1,500); returns it and the membership id."""
    client = signed_in(app, session)
    user_id = session.scalar(select(User.id).where(User.email == "ann@example.com"))
    assert user_id is not None
    member_id = factories.joined(app, user_id)
    session.rollback()
    return client, member_id


def sqlite_plans(session: Session, call: Callable[[], object]) -> list[str]:
    """The SQLite query plan of every statement `call` runs."""
    statements: list[tuple[str, Any]] = []
    connection = session.connection()

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", seen)
    try:
        call()
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    raw = connection.connection.driver_connection
    assert raw is not None
    return [
        str(raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall())
        for statement, parameters in statements
    ]


def unsigned(page: str) -> str:
    """The page with each CSRF token cut to the session's own token: the signature that
    follows carries the second it was made, so two requests may differ only there."""
    return re.sub(
        r'((?:csrf-token" content|name="csrf_token" value)="[^".]+)\.[^"]*"', r'\1"', page
    )
