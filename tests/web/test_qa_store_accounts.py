"""Storefront QA of the account forms: passwords anyone could guess are refused wherever a
password is chosen (sign-up, change, reset)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import AccountToken, User
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import csrf_token, register, signed_in

GUESSABLE = [
    " " * 12,  # only spaces
    "\t" * 10,
    "aaaaaaaaaa",
    "x" * 12,  # one character repeated
    "7777777777777",
    "1234567890",
    "Password123",
    "qwertyuiop",
]
TOO_EASY = "too easy to guess"


def _users(session: Session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(User.email)))


@pytest.mark.parametrize("password", GUESSABLE)
def test_sign_up_refuses_a_guessable_password(
    client: FlaskClient, session: Session, password: str
) -> None:
    response = register(client, "nia@example.com", password)
    assert response.status_code == 400
    assert TOO_EASY in response.get_data(as_text=True)
    assert _users(session) == []


def test_sign_up_refuses_the_email_address_as_password(
    client: FlaskClient, session: Session
) -> None:
    response = register(client, "nia.example@example.com", "nia.example@example.com")
    assert response.status_code == 400
    assert TOO_EASY in response.get_data(as_text=True)
    assert _users(session) == []


def test_sign_up_still_takes_an_ordinary_passphrase(client: FlaskClient, session: Session) -> None:
    assert register(client, "nia@example.com", "tea kettle on the hob").status_code == 302
    assert _users(session) == ["nia@example.com"]


def test_password_change_refuses_a_guessable_password(app: Flask, session: Session) -> None:
    client = signed_in(app, session)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "current_password": factories.PASSWORD,
            "new_password": "qwertyuiop",
            "confirm": "qwertyuiop",
        },
    )
    assert response.status_code == 400
    assert TOO_EASY in response.get_data(as_text=True)


def test_reset_refuses_a_guessable_password(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    client.post(
        "/account/password/reset",
        data={
            "csrf_token": csrf_token(client, "/account/password/reset"),
            "email": "ann@example.com",
        },
    )
    session.rollback()
    (mail,) = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "account_password_reset")
    )
    match = re.search(r"https?://\S+(/account/password/reset/[A-Za-z0-9_\-]+)", mail.text_body)
    assert match
    path = match.group(1)
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "password": "1234567890",
            "confirm": "1234567890",
        },
    )
    assert response.status_code == 400
    assert TOO_EASY in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(AccountToken.used_at)) is None  # the link still works


def test_a_bad_confirmation_link_offers_a_new_one_not_an_email_change(
    app: Flask, session: Session
) -> None:
    client = signed_in(app, session)
    response = client.get("/account/email/verify/not-a-real-token")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Change your e-mail address again" not in page
    assert "password-reset link" not in page
    assert 'href="/account">ask for a new confirmation link' in page


def test_a_bad_reset_link_opened_signed_in_offers_no_email_change(
    app: Flask, session: Session
) -> None:
    client = signed_in(app, session)
    page = client.get("/account/password/reset/not-a-real-token").get_data(as_text=True)
    assert "Ask for a new password-reset link" in page
    assert "Change your e-mail address again" not in page
