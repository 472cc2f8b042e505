"""QA of member self-service: the data download and the address book."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.accounts import privacy
from shop.accounts.models import Address, User
from shop.db import db
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import ADDRESS_FORM, csrf_token, sign_in


def test_the_data_download_works_while_another_request_writes(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download is a GET, which reads in a deferred transaction; on SQLite such a
    transaction cannot start writing once another connection has written since it began
    (the background worker and the event writer write all the time), so the e-mail that
    confirms the download used to fail the page with a 500 ("database is locked")."""
    member = factories.user(session, "dora@example.com", "Dora")
    other = factories.user(session, "olaf@example.com", "Olaf")
    session.commit()
    client = app.test_client()
    sign_in(client, "dora@example.com", factories.PASSWORD)
    original = privacy.export_data

    def export_then_someone_writes(read: Session, user_id: int) -> dict[str, Any]:
        data = original(read, user_id)
        with db.transaction() as elsewhere:  # another request commits meanwhile
            elsewhere.execute(update(User).where(User.id == other.id).values(name="Olaf B"))
        return data

    monkeypatch.setattr(privacy, "export_data", export_then_someone_writes)
    response = client.get("/account/privacy/export")
    assert response.status_code == 200
    assert response.get_json()["profile"]["email"] == "dora@example.com"
    session.rollback()
    notices = session.scalars(
        select(OutboxEmail).where(
            OutboxEmail.user_id == member.id, OutboxEmail.kind == "account_profile_changed"
        )
    ).all()
    assert ["A copy of your data was downloaded" in n.text_body for n in notices] == [True]
    reset = "reset your password now (it signs out everyone else):\nhttp://127.0.0.1:5000/account/password/reset\n"
    assert reset in notices[0].text_body
    assert 'href="http://127.0.0.1:5000/account/password/reset">reset your password now</a>' in (
        notices[0].html_body
    )


ADDRESS = ADDRESS_FORM


def _address_book_member(app: Flask, session: Session) -> tuple[FlaskClient, User]:
    user = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    for line1 in ("1 High Street", "2 Low Road"):
        token = csrf_token(client, "/account/addresses/new")
        data = {"csrf_token": token, **ADDRESS, "line1": line1}
        assert client.post("/account/addresses/new", data=data).status_code == 302
    session.rollback()
    return client, user


def _changes(session: Session, user_id: int) -> tuple[int, int]:
    """The account's change e-mails and profile_changed events so far."""
    session.rollback()
    mails = session.scalars(
        select(OutboxEmail).where(
            OutboxEmail.user_id == user_id, OutboxEmail.kind == "account_profile_changed"
        )
    ).all()
    events = session.scalars(select(DomainEvent).where(DomainEvent.name == "profile_changed")).all()
    return len(mails), len(events)


def test_saving_an_address_unchanged_says_so_and_sends_nothing(
    app: Flask, session: Session
) -> None:
    client, user = _address_book_member(app, session)
    before = _changes(session, user.id)
    first, second = session.scalars(
        select(Address).where(Address.user_id == user.id).order_by(Address.id)
    ).all()
    assert first.is_default and not second.is_default
    path = f"/account/addresses/{second.id}/edit"
    for make_default in ({}, {"make_default": ""}):  # as the form shows it, default unticked
        data = {"csrf_token": csrf_token(client, path), **ADDRESS, "line1": "2 Low Road"}
        response = client.post(path, data={**data, **make_default}, follow_redirects=True)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "Nothing changed." in page and "The address was saved." not in page
    assert _changes(session, user.id) == before

    # A real change is still saved and confirmed.
    data = {"csrf_token": csrf_token(client, path), **ADDRESS, "line1": "22 Low Road"}
    response = client.post(path, data=data, follow_redirects=True)
    assert "The address was saved." in response.get_data(as_text=True)
    mails, events = _changes(session, user.id)
    assert (mails, events) == (before[0] + 1, before[1] + 1)


def test_an_address_cannot_be_edited_into_a_copy_of_another(app: Flask, session: Session) -> None:
    client, user = _address_book_member(app, session)
    _, second = session.scalars(
        select(Address).where(Address.user_id == user.id).order_by(Address.id)
    ).all()
    path = f"/account/addresses/{second.id}/edit"
    data = {"csrf_token": csrf_token(client, path), **ADDRESS, "postcode": " yo1 7hh "}
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "That address is already in your address book." in response.get_data(as_text=True)
    session.rollback()
    assert session.get(Address, second.id).line1 == "2 Low Road"


INVISIBLE = "\u200b \ufeff\u2060"  # zero-width space, a space, byte-order mark, word joiner


def test_a_name_or_address_of_invisible_characters_only_is_refused_as_empty(
    app: Flask, session: Session
) -> None:
    """A name of a zero-width space passed the "required" checks and greeted the member
    with "Hello ," in every e-mail; an address of them shipped to nobody."""
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    data = {"csrf_token": csrf_token(client, "/account/profile"), "name": INVISIBLE, "phone": ""}
    response = client.post("/account/profile", data=data)
    assert response.status_code == 400
    assert "Please tell us your name." in response.get_data(as_text=True)

    fields = {**ADDRESS, "name": INVISIBLE, "line1": INVISIBLE, "city": INVISIBLE}
    data = {"csrf_token": csrf_token(client, "/account/addresses/new"), **fields}
    response = client.post("/account/addresses/new", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for message in (
        "Please enter the recipient&#39;s name.",
        "Please enter the first line of the address.",
        "Please enter the town or city.",
    ):
        assert message in page

    # Invisible characters around a real name go; those inside it (an emoji's joiner) stay.
    name = "\ufeffAnn \U0001f469\u200d\U0001f4bb\u200b"
    data = {"csrf_token": csrf_token(client, "/account/profile"), "name": name, "phone": ""}
    assert client.post("/account/profile", data=data).status_code == 302
    session.rollback()
    user = session.scalar(select(User).where(User.email == "ann@example.com"))
    assert user is not None and user.name == "Ann \U0001f469\u200d\U0001f4bb"
    assert session.scalars(select(Address).where(Address.user_id == user.id)).all() == []
