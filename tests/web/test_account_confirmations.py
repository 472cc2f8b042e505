"""Every account change is confirmed by e-mail: sign-up, the personalization switch,
signing out other browsers and downloading one's data."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import csrf_token, register, sign_in


def _mails(session: Session, kind: str) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == kind).order_by(OutboxEmail.id)
    return list(session.scalars(query))


def _switch(client: FlaskClient, enabled: bool) -> None:
    token = csrf_token(client, "/account")
    data = {"csrf_token": token, "next": "/account", **({"enabled": "y"} if enabled else {})}
    assert client.post("/account/tracking", data=data).status_code == 302


def test_signing_up_sends_a_welcome_that_says_what_to_do_if_it_was_not_you(
    app: Flask, session: Session
) -> None:
    assert register(app.test_client(), "nia@example.com").status_code == 302
    (welcome,) = _mails(session, "account_welcome")
    assert welcome.to_address == "nia@example.com"
    assert "your account for this e-mail address is ready" in welcome.text_body
    assert "/account/password/reset" in welcome.text_body
    assert "/account/password/reset" in welcome.html_body


def test_the_personalization_switch_is_confirmed_only_when_it_changes(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    _switch(client, enabled=False)
    _switch(client, enabled=False)  # already off: nothing changed, nothing sent
    _switch(client, enabled=True)

    summaries = [mail.text_body for mail in _mails(session, "account_profile_changed")]
    assert len(summaries) == 2
    assert "Personalization is now off" in summaries[0]
    assert "Personalization is now on" in summaries[1]


def test_signing_out_every_other_browser_is_confirmed(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account")
    assert (
        client.post("/account/sessions/end-others", data={"csrf_token": token}).status_code == 302
    )
    (notice,) = _mails(session, "account_profile_changed")
    assert notice.to_address == "ann@example.com"
    assert "Every other browser signed in to your account was signed out." in notice.text_body


def test_one_mailbox_cannot_open_a_second_account_under_its_punycode_name(
    app: Flask, session: Session
) -> None:
    assert register(app.test_client(), "zoë@exämple.com").status_code == 302
    twin = register(app.test_client(), "zoë@xn--exmple-cua.com")
    assert twin.status_code == 400
    assert "already exists" in twin.get_data(as_text=True)
    client = app.test_client()
    sign_in(client, "ZOË@xn--exmple-cua.com", "a-long-password")
    assert client.get("/account").status_code == 200
