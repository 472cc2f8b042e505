"""Control characters in form fields are a form error, and a NUL anywhere is a 400, on
SQLite and PostgreSQL alike (PostgreSQL cannot store NUL in text: it was a 500)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import Address, User
from shop.form_fields import control_characters
from tests import factories
from tests.helpers import csrf_token, sign_in


def _register(client: FlaskClient, name: str) -> tuple[int, str]:
    token = csrf_token(client, "/account/register")
    data = {
        "csrf_token": token,
        "name": name,
        "email": "nia@example.com",
        "password": "a-long-password",
        "confirm": "a-long-password",
    }
    response = client.post("/account/register", data=data)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["Del\x00Two", "\x00nul"])
def test_a_nul_in_a_form_is_refused_before_anything_is_stored(
    client: FlaskClient, session: Session, name: str
) -> None:
    status, page = _register(client, name)
    assert status == 400 and "NUL character" in page
    assert session.scalar(select(func.count()).select_from(User)) == 0


@pytest.mark.parametrize("url", ["/search?q=a%00b", "/account/login?next=%00"])
def test_a_nul_in_the_query_string_is_a_400(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name",
    [
        "Nia\x01",
        "Ni\x1ba",
        "Nia\x7fX",
        "Ni\ta",
        "Ni\na",
        "Ann\x85Lee",
        "Ni\x9ba",
        "Ni\u2028a",
        "Zo\u00eb \u202elive",  # right-to-left override: shown as "Zoë evil"
        "Nia \u2067x\u2069",
    ],
)
def test_other_control_characters_are_a_form_error(
    client: FlaskClient, session: Session, name: str
) -> None:
    status, page = _register(client, name)
    assert status == 400 and "Remove the control characters" in page
    assert session.scalar(select(func.count()).select_from(User)) == 0


def test_an_address_name_with_a_control_character_is_not_saved(
    client: FlaskClient, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account/addresses/new")
    response = client.post(
        "/account/addresses/new",
        data={
            "csrf_token": token,
            "name": "Ann\x08",
            "line1": "1 High Street",
            "city": "York",
            "postcode": "YO1 7HH",
            "country": "United Kingdom",
        },
    )
    assert response.status_code == 400
    assert "Remove the control characters" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Address)) == 0


def test_multi_line_text_keeps_line_breaks_and_tabs() -> None:
    assert not control_characters("line one\r\n\tline two", multiline=True)
    assert control_characters("line one\x00", multiline=True)
    assert control_characters("one\ttwo")
    assert not control_characters("Zoë O'Brien 北京")
    assert control_characters("Ann\u2029Lee", multiline=True)
    assert control_characters("Ann\x85Lee", multiline=True)


def test_a_name_of_spaces_only_is_refused_at_registration(
    client: FlaskClient, session: Session
) -> None:
    status, page = _register(client, "   ")
    assert status == 400 and "Please tell us your name." in page
    assert session.scalar(select(func.count()).select_from(User)) == 0
    assert _register(client, "  Nia  ")[0] == 302
    session.rollback()
    assert session.scalar(select(User.name)) == "Nia"
