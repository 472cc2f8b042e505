"""Profile self-service: name and phone, the address book (one default), confirmations,
the account overview links, and that one account can never touch another's addresses."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import Address, User
from shop.accounts.profile import addresses as saved_addresses
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import ADDRESS_FORM, csrf_token, sign_in

ADDRESS = ADDRESS_FORM


def _member(app: Flask, session: Session, email: str = "ann@example.com") -> FlaskClient:
    factories.user(session, email, email.split("@")[0].capitalize())
    session.commit()
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    session.rollback()
    return client


def _user(session: Session, email: str) -> User:
    session.rollback()
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def _addresses(session: Session, user_id: int) -> list[Address]:
    session.rollback()
    return list(
        session.scalars(select(Address).where(Address.user_id == user_id).order_by(Address.id))
    )


def _outbox(session: Session, kind: str) -> list[OutboxEmail]:
    session.rollback()
    return list(
        session.scalars(
            select(OutboxEmail).where(OutboxEmail.kind == kind).order_by(OutboxEmail.id)
        )
    )


def _events(session: Session) -> list[dict[str, object]]:
    session.rollback()
    rows = session.scalars(
        select(DomainEvent).where(DomainEvent.name == "profile_changed").order_by(DomainEvent.id)
    )
    return [dict(row.payload) for row in rows]


def _add(client: FlaskClient, **fields: str) -> int:
    token = csrf_token(client, "/account/addresses/new")
    response = client.post(
        "/account/addresses/new", data={"csrf_token": token, **ADDRESS, **fields}
    )
    return response.status_code


def test_pages_need_a_sign_in(client: FlaskClient) -> None:
    for path in ("/account/profile", "/account/addresses", "/account/addresses/new"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/account/login" in response.headers["Location"]


def test_edit_name_and_phone_records_event_and_confirms(app: Flask, session: Session) -> None:
    client = _member(app, session)
    page = client.get("/account/profile")
    assert page.status_code == 200 and 'value="Ann"' in page.get_data(as_text=True)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile",
        data={"csrf_token": token, "name": " Ann Smith ", "phone": "+44 7700 900123"},
    )
    assert response.status_code == 302
    user = _user(session, "ann@example.com")
    assert (user.name, user.phone) == ("Ann Smith", "+44 7700 900123")
    assert _events(session) == [
        {"user_id": user.id, "change": "details", "fields": ["name", "phone"]}
    ]
    (mail,) = _outbox(session, "account_profile_changed")
    assert mail.to_address == "ann@example.com" and mail.user_id == user.id
    assert "name and phone changed" in mail.text_body
    assert "+44" not in str(_events(session))  # events carry no personal values

    # Saving the same values again changes nothing and sends nothing.
    client.post(
        "/account/profile",
        data={"csrf_token": token, "name": "Ann Smith", "phone": "+44 7700 900123"},
    )
    assert len(_outbox(session, "account_profile_changed")) == 1


def test_profile_form_errors_are_400s(app: Flask, session: Session) -> None:
    client = _member(app, session)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile", data={"csrf_token": token, "name": "", "phone": "call me<script>"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please tell us your name." in html
    assert "Use digits, spaces and + ( ) - . only." in html
    assert _user(session, "ann@example.com").name == "Ann"
    assert _outbox(session, "account_profile_changed") == []


def test_address_book_keeps_exactly_one_default(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _user(session, "ann@example.com").id
    assert _add(client) == 302
    assert _add(client, line1="2 Low Road", postcode="YO2 2AA") == 302
    first, second = _addresses(session, user_id)
    assert (first.is_default, second.is_default) == (True, False)  # the first one is default

    assert _add(client, line1="3 New Street", make_default="y") == 302
    book = _addresses(session, user_id)
    assert [a.is_default for a in book] == [False, False, True]

    token = csrf_token(client, "/account/addresses")
    assert (
        client.post(
            f"/account/addresses/{second.id}/default", data={"csrf_token": token}
        ).status_code
        == 302
    )
    book = _addresses(session, user_id)
    assert [a.line1 for a in book if a.is_default] == ["2 Low Road"]

    # Checkout offers the default first.
    session.rollback()
    assert saved_addresses(session, user_id)[0].id == second.id
    page = client.get("/account/addresses").get_data(as_text=True)
    assert page.index("2 Low Road") < page.index("1 High Street")

    # Deleting the default promotes the newest remaining address.
    client.post(f"/account/addresses/{second.id}/delete", data={"csrf_token": token})
    book = _addresses(session, user_id)
    assert [(a.line1, a.is_default) for a in book] == [
        ("1 High Street", False),
        ("3 New Street", True),
    ]
    changes = [event["change"] for event in _events(session)]
    assert changes == [
        "address_added",
        "address_added",
        "address_added",
        "default_address",
        "address_deleted",
    ]
    mails = [m.text_body for m in _outbox(session, "account_profile_changed")]
    assert len(mails) == 5  # one per change
    assert "It is now your default address: " in mails[0]  # the first one
    assert "It is now your default address" not in mails[1]
    assert "It is now your default address: " in mails[2] and "3 New Street" in mails[2]
    assert "Your default address changed." in mails[3]
    assert "Your default address is now " in mails[4] and "3 New Street" in mails[4]


def test_edit_an_address(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _user(session, "ann@example.com").id
    _add(client)
    _add(client, line1="2 Low Road")
    _, second = _addresses(session, user_id)
    page = client.get(f"/account/addresses/{second.id}/edit")
    assert page.status_code == 200 and "2 Low Road" in page.get_data(as_text=True)
    token = csrf_token(client, f"/account/addresses/{second.id}/edit")
    response = client.post(
        f"/account/addresses/{second.id}/edit",
        data={
            "csrf_token": token,
            **ADDRESS,
            "line1": "22 Low Road",
            "postcode": " yo1 7hh ",
            "make_default": "y",
        },
    )
    assert response.status_code == 302
    first, second = _addresses(session, user_id)
    assert second.line1 == "22 Low Road"
    assert second.postcode == "YO1 7HH"  # as the checkout's own address form writes it
    assert (first.is_default, second.is_default) == (False, True)


def test_address_form_errors_are_400s(app: Flask, session: Session) -> None:
    client = _member(app, session)
    token = csrf_token(client, "/account/addresses/new")
    response = client.post(
        "/account/addresses/new",
        data={"csrf_token": token, **ADDRESS, "line1": "", "postcode": "x" * 30},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please enter the first line of the address." in html
    blank = client.post(
        "/account/addresses/new", data={"csrf_token": token, **ADDRESS, "name": "   "}
    )
    assert blank.status_code == 400
    assert "Please enter the recipient&#39;s name." in blank.get_data(as_text=True)
    narnia = client.post(
        "/account/addresses/new", data={"csrf_token": token, **ADDRESS, "country": "Narnia"}
    )
    assert narnia.status_code == 400
    assert "Choose one of the countries we deliver to." in narnia.get_data(as_text=True)
    assert _addresses(session, _user(session, "ann@example.com").id) == []
    assert client.get("/account/addresses/999999/edit").status_code == 404


def test_nobody_can_read_or_change_another_members_addresses(app: Flask, session: Session) -> None:
    bob = _member(app, session, "bob@example.com")
    _add(bob, line1="9 Bob Lane", name="Bob Private")
    bob_id = _user(session, "bob@example.com").id
    (bobs,) = _addresses(session, bob_id)

    ann = _member(app, session, "ann@example.com")
    ann_id = _user(session, "ann@example.com").id
    _add(ann)
    token = csrf_token(ann, "/account/addresses")
    assert "9 Bob Lane" not in ann.get("/account/addresses").get_data(as_text=True)
    assert ann.get(f"/account/addresses/{bobs.id}/edit").status_code == 404
    edit = ann.post(
        f"/account/addresses/{bobs.id}/edit",
        data={"csrf_token": token, **ADDRESS, "line1": "Stolen"},
    )
    assert edit.status_code == 404
    assert "9 Bob Lane" not in edit.get_data(as_text=True)
    assert (
        ann.post(f"/account/addresses/{bobs.id}/default", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        ann.post(f"/account/addresses/{bobs.id}/delete", data={"csrf_token": token}).status_code
        == 404
    )

    (still,) = _addresses(session, bob_id)
    assert (still.id, still.line1, still.name, still.is_default) == (
        bobs.id,
        "9 Bob Lane",
        "Bob Private",
        True,
    )
    (anns,) = _addresses(session, ann_id)
    assert anns.is_default  # Ann's default untouched by her attempt on Bob's
    assert not any(
        e["user_id"] == bob_id and e["change"] != "address_added" for e in _events(session)
    )


def test_address_actions_need_the_csrf_token(app: Flask, session: Session) -> None:
    client = _member(app, session)
    _add(client)
    (address,) = _addresses(session, _user(session, "ann@example.com").id)
    assert client.post(f"/account/addresses/{address.id}/delete").status_code == 400
    assert len(_addresses(session, address.user_id)) == 1


def test_overview_links_to_every_setting(app: Flask, session: Session) -> None:
    client = _member(app, session)
    html = client.get("/account").get_data(as_text=True)
    for path in (
        "/account/profile",
        "/account/addresses",
        "/account/cards",
        "/account/email",
        "/account/password",
        "/account/privacy",
    ):
        assert f'href="{path}"' in html, path
    with app.test_request_context():
        from flask import url_for

        loyalty = [e for e in ("loyalty.member", "loyalty.index") if e in app.view_functions]
        if loyalty:
            assert f'href="{url_for(loyalty[0])}"' in html
        if "preferences.index" in app.view_functions:
            assert f'href="{url_for("preferences.index")}"' in html


def test_the_same_address_sent_twice_is_added_once(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user = _user(session, "ann@example.com")
    token = csrf_token(client, "/account/addresses/new")
    first = client.post("/account/addresses/new", data={"csrf_token": token, **ADDRESS})
    again = client.post(
        "/account/addresses/new", data={"csrf_token": token, **ADDRESS, "city": " York "}
    )
    assert first.status_code == 302
    assert again.status_code == 400
    assert "That address is already in your address book." in again.get_data(as_text=True)
    assert len(_addresses(session, user.id)) == 1
    assert len(_outbox(session, "account_profile_changed")) == 1
    assert _add(client, line1="2 High Street") == 302  # another address is still welcome
    assert len(_addresses(session, user.id)) == 2
