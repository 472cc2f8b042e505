"""Brute-force protection: the POSTs of sign-in, registration, password reset and the forms
that check the current password are limited per client address; GETs never are."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.test import TestResponse

from shop import create_app
from shop.accounts.models import User
from shop.catalog.models import GuestStockAlert
from shop.config import TestConfig
from shop.db import db
from tests import factories
from tests.helpers import csrf_token, register

MINUTE_MESSAGE = "Too many attempts. Please wait a minute and try again."
ATTACKER = "203.0.113.5"
NEIGHBOUR = "198.51.100.7"


@pytest.fixture
def app(config: TestConfig, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The shop with rate limiting on (the suite's other tests run with it off); an indirect
    parameter sets how many reverse proxies it trusts."""
    config.RATELIMIT_ENABLED = True
    config.TRUSTED_PROXIES = getattr(request, "param", 0)
    application = create_app(config)
    application.config["PASSWORD_RESET_MIN_SECONDS"] = 0.0
    yield application
    db.session.remove()
    db.dispose()


@pytest.fixture
def ann(session: Session) -> User:
    """A customer who signs in with factories.PASSWORD."""
    user = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    return user


def _client(app: Flask, address: str = ATTACKER) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _sign_in(
    client: FlaskClient, password: str, email: str = "ann@example.com", **kwargs: object
) -> TestResponse:
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login",
        data={"csrf_token": token, "email": email, "password": password},
        **kwargs,
    )


def _request_reset(client: FlaskClient, email: str = "ann@example.com") -> TestResponse:
    token = csrf_token(client, "/account/password/reset")
    return client.post("/account/password/reset", data={"csrf_token": token, "email": email})


def _exhaust_sign_in(client: FlaskClient) -> None:
    for attempt in range(10):
        response = _sign_in(client, f"guess number {attempt}")
        assert response.status_code == 400, attempt
        assert "Incorrect e-mail address or password." in response.get_data(as_text=True)


def _assert_limited(response: TestResponse) -> None:
    """A 429 on the shop's error page, saying (and telling clients) to wait up to a minute."""
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Please slow down" in html and MINUTE_MESSAGE in html
    assert 0 < int(response.headers["Retry-After"]) <= 61


def test_eleventh_failed_sign_in_within_a_minute_gets_429(app: Flask, ann: User) -> None:
    client = _client(app)
    _exhaust_sign_in(client)

    _assert_limited(_sign_in(client, "guess number 10"))
    # Even the right password is refused now, and nobody gets signed in.
    _assert_limited(_sign_in(client, factories.PASSWORD))
    assert client.get("/account").status_code == 302


def test_json_clients_get_a_json_429(app: Flask, ann: User) -> None:
    client = _client(app)
    _exhaust_sign_in(client)

    response = _sign_in(client, "guess", headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response.get_json() == {"error": MINUTE_MESSAGE}
    assert int(response.headers["Retry-After"]) > 0


def test_the_hourly_limit_says_how_long_to_wait(app: Flask, ann: User) -> None:
    app.config["SIGN_IN_RATE_LIMIT"] = "100 per minute;3 per hour"
    client = _client(app)
    for attempt in range(3):
        assert _sign_in(client, f"guess number {attempt}").status_code == 400

    response = _sign_in(client, factories.PASSWORD)
    assert response.status_code == 429
    assert "Please wait 60 minutes and try again." in response.get_data(as_text=True)
    assert 3500 < int(response.headers["Retry-After"]) <= 3601


def test_getting_the_sign_in_page_is_not_limited(app: Flask, ann: User) -> None:
    client = _client(app)
    for _ in range(30):
        response = client.get("/account/login")
        assert response.status_code == 200
        assert "Retry-After" not in response.headers
    assert _sign_in(client, factories.PASSWORD).status_code == 302

    # Once the POSTs are limited, the page itself still loads.
    limited = _client(app, NEIGHBOUR)
    _exhaust_sign_in(limited)
    assert _sign_in(limited, "guess").status_code == 429
    assert limited.get("/account/login").status_code == 200


def test_the_limit_is_per_client_address(app: Flask, session: Session, ann: User) -> None:
    attacker = _client(app, ATTACKER)
    _exhaust_sign_in(attacker)
    _assert_limited(_sign_in(attacker, factories.PASSWORD))

    neighbour = _client(app, NEIGHBOUR)
    assert _sign_in(neighbour, factories.PASSWORD).status_code == 302
    assert "ann@example.com" in neighbour.get("/account").get_data(as_text=True)

    # Being limited stored nothing and lost nothing: Ann's account and password stand.
    session.rollback()
    stored = session.scalar(select(User).where(User.email == "ann@example.com"))
    assert stored is not None and stored.id == ann.id
    assert check_password_hash(stored.password_hash or "", factories.PASSWORD)


def test_registration_is_limited(app: Flask, session: Session) -> None:
    for number in range(5):
        assert register(_client(app), f"shopper{number}@example.com").status_code == 302

    response = register(_client(app), "shopper5@example.com")
    _assert_limited(response)

    session.rollback()
    emails = set(session.scalars(select(User.email)))
    assert emails == {f"shopper{number}@example.com" for number in range(5)}
    assert register(_client(app, NEIGHBOUR), "shopper5@example.com").status_code == 302


def test_password_reset_requests_are_limited(app: Flask, ann: User) -> None:
    client = _client(app)
    for _ in range(5):
        assert _request_reset(client).status_code == 302
    _assert_limited(_request_reset(client))
    assert client.get("/account/password/reset").status_code == 200
    # Each form has its own budget: signing in from the same address still works.
    assert _sign_in(client, factories.PASSWORD).status_code == 302


def test_back_in_stock_alerts_by_e_mail_are_limited(app: Flask, session: Session) -> None:
    lamps = factories.category(session, "lamps", "Lamps")
    lantern = factories.product(session, lamps, sku="L1", name="Lantern", stock=0)
    session.commit()
    path = f"/products/{lantern.id}/stock-alert/email"
    client = _client(app)

    def ask(number: int) -> TestResponse:
        data = {"csrf_token": csrf_token(client, path), "email": f"v{number}@example.com"}
        return client.post(path, data=data)

    for number in range(5):
        assert ask(number).status_code == 302
    _assert_limited(ask(5))
    assert client.get(path).status_code == 200
    session.rollback()
    assert len(session.scalars(select(GuestStockAlert.id)).all()) == 5


def test_guessing_discount_codes_is_limited(app: Flask, session: Session) -> None:
    candles = factories.category(session, "candles", "Candles")
    heart = factories.product(session, candles, sku="H1", name="Heart", stock=5)
    session.commit()
    client = _client(app)
    token = csrf_token(client, f"/products/{heart.id}")
    client.post("/cart/add", data={"csrf_token": token, "product_id": heart.id, "quantity": 1})

    def guess(number: int) -> TestResponse:
        return client.post("/cart/promo", data={"csrf_token": token, "code": f"GUESS{number}"})

    for number in range(10):
        assert guess(number).status_code == 400  # unknown codes
    _assert_limited(guess(10))
    assert client.get("/cart").status_code == 200
    assert _client(app, NEIGHBOUR).post("/cart/promo", data={}).status_code == 400


def test_forms_that_check_the_password_share_one_budget(
    app: Flask, session: Session, ann: User
) -> None:
    client = _client(app)
    assert _sign_in(client, factories.PASSWORD).status_code == 302

    def post(path: str, data: dict[str, str]) -> TestResponse:
        return client.post(path, data={"csrf_token": csrf_token(client, path), **data})

    wrong = "not my password"
    new = "a brand new passphrase"
    change = {"current_password": wrong, "new_password": new, "confirm": new}
    attempts = [
        ("/account/password", change),
        ("/account/password", change),
        ("/account/email", {"new_email": "ann.new@example.com", "current_password": wrong}),
        ("/account/email", {"new_email": "ann.new@example.com", "current_password": wrong}),
        ("/account/delete", {"password": wrong, "confirm": "y"}),
    ]
    for path, data in attempts:
        assert post(path, data).status_code == 400, path

    right = {**change, "current_password": factories.PASSWORD}
    _assert_limited(post("/account/password", right))
    _assert_limited(post("/account/delete", {"password": factories.PASSWORD, "confirm": "y"}))
    assert client.get("/account/password").status_code == 200

    session.rollback()
    stored = session.get(User, ann.id)
    assert stored is not None and stored.deleted_at is None
    session.refresh(stored)
    assert check_password_hash(stored.password_hash or "", factories.PASSWORD)


def test_limits_are_off_in_the_test_config(config: TestConfig) -> None:
    assert TestConfig().RATELIMIT_ENABLED is False
    app = create_app(config)
    try:
        client = app.test_client()
        statuses = {_sign_in(client, "guess").status_code for _ in range(15)}
        assert statuses == {400}
        assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    finally:
        db.session.remove()
        db.dispose()


@pytest.mark.parametrize(
    ("env_name", "enabled", "warned"),
    [("production", True, True), ("production", False, False), ("development", True, False)],
)
def test_production_warns_that_memory_storage_counts_per_process(
    config: TestConfig,
    caplog: pytest.LogCaptureFixture,
    env_name: str,
    enabled: bool,
    warned: bool,
) -> None:
    """Several gunicorn workers each keep their own memory:// counts: with 3 workers, 10
    sign-ins a minute become 30."""
    config.ENV_NAME = env_name
    config.RATELIMIT_ENABLED = enabled
    try:
        with caplog.at_level("WARNING", logger="shop.rate_limits"):
            create_app(config)
    finally:
        db.session.remove()
        db.dispose()
    messages = [r.getMessage() for r in caplog.records if r.name == "shop.rate_limits"]
    assert bool(messages) is warned
    if warned:
        assert "each server process counts on its own" in messages[0]
        assert "RATELIMIT_STORAGE_URI=redis://" in messages[0]


def test_a_malformed_limit_stops_the_app_from_starting(config: TestConfig) -> None:
    config.SIGN_IN_RATE_LIMIT = "ten per minute"
    try:
        with pytest.raises(ValueError, match="SIGN_IN_RATE_LIMIT is not a rate limit"):
            create_app(config)
    finally:
        db.session.remove()
        db.dispose()


@pytest.mark.parametrize("app", [1], indirect=True)
def test_behind_trusted_proxies_the_forwarded_client_address_counts(app: Flask, ann: User) -> None:
    proxy = "10.0.0.2"  # every request arrives from the proxy
    attacker = _client(app, proxy)
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = ATTACKER
    _exhaust_sign_in(attacker)
    _assert_limited(_sign_in(attacker, factories.PASSWORD))

    neighbour = _client(app, proxy)
    neighbour.environ_base["HTTP_X_FORWARDED_FOR"] = NEIGHBOUR
    assert _sign_in(neighbour, factories.PASSWORD).status_code == 302


def test_without_trusted_proxies_a_forwarded_address_is_ignored(app: Flask, ann: User) -> None:
    client = _client(app)
    _exhaust_sign_in(client)
    client.environ_base["HTTP_X_FORWARDED_FOR"] = NEIGHBOUR  # a spoofed header changes nothing
    _assert_limited(_sign_in(client, factories.PASSWORD))


def test_card_payments_are_limited_per_address_and_answered_in_json(app: Flask) -> None:
    attacker, neighbour = _client(app), _client(app, NEIGHBOUR)

    def pay(client: FlaskClient) -> TestResponse:
        headers = {"X-CSRFToken": csrf_token(client, "/cart")}
        return client.post(
            "/checkout/pay/no-such-order", json={"payment_method": "pm_x"}, headers=headers
        )

    for attempt in range(10):
        assert pay(attacker).status_code == 404, attempt
    limited = pay(attacker)
    assert limited.status_code == 429
    assert limited.get_json() == {"error": MINUTE_MESSAGE}
    assert pay(neighbour).status_code == 404
