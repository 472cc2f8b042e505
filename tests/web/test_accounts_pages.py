"""Register, sign in and out, the account page, order visibility and cart merging."""

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from shop.accounts.models import User
from shop.cart.models import Cart
from tests import factories
from tests.helpers import csrf_token, register


def _login(client: FlaskClient, email: str, password: str) -> TestResponse:
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login", data={"csrf_token": token, "email": email, "password": password}
    )


def test_register_signs_in_with_a_strong_hash(client: FlaskClient, session: Session) -> None:
    response = register(client, "Nia@Example.com ")
    assert response.status_code == 302
    user = session.scalar(select(User).where(User.email == "nia@example.com"))
    assert user is not None
    assert user.password_hash and user.password_hash.startswith("scrypt:")
    assert "a-long-password" not in user.password_hash
    assert "nia@example.com" in client.get("/account").get_data(as_text=True)


def test_duplicate_registration_email(client: FlaskClient, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    response = register(client, "ANN@example.com")
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert session.scalar(select(User).where(User.name == "Nia")) is None


def test_register_validation_messages(client: FlaskClient) -> None:
    token = csrf_token(client, "/account/register")
    response = client.post(
        "/account/register",
        data={
            "csrf_token": token,
            "name": "",
            "email": "nope",
            "password": "short",
            "confirm": "x",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in (
        "Please tell us your name.",
        "doesn&#39;t look like an e-mail",
        "at least 10 characters",
    ):
        assert message in html


def test_wrong_password_and_unknown_email_get_the_same_message(
    client: FlaskClient, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    wrong = _login(client, "ann@example.com", "nope nope nope")
    unknown = _login(client, "who@example.com", "nope nope nope")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert "Incorrect e-mail address or password." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_imported_customers_cannot_sign_in(client: FlaskClient, session: Session) -> None:
    session.add(User(name="Customer 17850", external_ref="17850"))
    session.commit()
    assert _login(client, "", "").status_code == 400


def test_login_logout_and_account_page_lists_orders(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com")
    factories.order(session, ann, "536365", [(items["heart"], 6), (items["lantern"], 2)])
    session.commit()
    assert _login(client, "ann@example.com", factories.PASSWORD).status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert "536365" in page and "£24.48" in page
    detail = client.get("/account/orders/536365").get_data(as_text=True)
    assert "White Metal Lantern" in detail and "£6.78" in detail
    token = csrf_token(client, "/account")
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account").status_code == 302


def test_orders_of_other_customers_are_404(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com")
    bob = factories.user(session, "bob@example.com", "Bob")
    factories.order(session, bob, "536999", [(items["heart"], 1)])
    factories.order(session, ann, "536365", [(items["heart"], 1)])
    session.commit()
    _login(client, "ann@example.com", factories.PASSWORD)
    assert client.get("/account/orders/536999").status_code == 404
    assert client.get("/account/orders/nope").status_code == 404
    assert "536999" not in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "/%09/evil.example/phish", "/%0a/evil"])
def test_next_parameter_cannot_redirect_off_site(
    client: FlaskClient, session: Session, target: str
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    token = csrf_token(client, "/account/login")
    response = client.post(
        f"/account/login?next={target}",
        data={"csrf_token": token, "email": "ann@example.com", "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_cart_merges_into_the_account_at_login(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com")
    session.commit()
    token = csrf_token(client, "/")
    client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 2}
    )
    _login(client, "ann@example.com", factories.PASSWORD)
    session.rollback()
    carts = list(session.scalars(select(Cart)))
    assert [(c.user_id, c.visitor_id) for c in carts] == [(ann.id, None)]
    assert [(i.product_id, i.quantity) for i in carts[0].items] == [(items["heart"].id, 2)]
    assert 'data-testid="cart-count" aria-hidden="true">2<' in client.get("/cart").get_data(
        as_text=True
    )
