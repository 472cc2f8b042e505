"""An account's address is not proven when it is registered, so nothing a signed-in browser
can repeat may send that address an unlimited number of e-mails."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.preferences import OPT_IN_EMAILS_PER_HOUR
from shop.accounts import change_digest, privacy
from shop.accounts.models import ChangeNote, User
from shop.accounts.profile import CHANGE_NOTICES_PER_HOUR
from shop.db import utcnow
from shop.mail.models import OutboxEmail
from shop.mail.sender import send_pending
from tests.helpers import csrf_token, signed_in
from tests.mail_smtp import SmtpServer, smtp_server  # noqa: F401

TOPICS = ("weekly_deals", "recommendations", "tier_news")


def _queued(session: Session, kind: str) -> int:
    session.rollback()
    return int(
        session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.kind == kind)) or 0
    )


def _save_topics(client: FlaskClient, *topics: str) -> int:
    token = csrf_token(client, "/account/preferences")
    data = {"csrf_token": token, **dict.fromkeys(topics, "y")}
    return client.post("/account/preferences", data=data).status_code


def test_ticking_and_unticking_topics_stops_sending_opt_in_mail(
    app: Flask, session: Session
) -> None:
    client = signed_in(app, session, "victim@example.com")
    for _ in range(OPT_IN_EMAILS_PER_HOUR // len(TOPICS)):
        assert _save_topics(client, *TOPICS) == 302
        assert _save_topics(client) == 302
    assert _queued(session, "marketing_optin") == OPT_IN_EMAILS_PER_HOUR

    for _ in range(5):
        assert _save_topics(client, *TOPICS) == 400
        assert _save_topics(client) == 302

    assert _queued(session, "marketing_optin") == OPT_IN_EMAILS_PER_HOUR
    page = client.get("/account/preferences").get_data(as_text=True)
    assert "try again later" not in page  # the refusal was on the posted page only
    token = csrf_token(client, "/account/preferences")
    refused = client.post(
        "/account/preferences", data={"csrf_token": token, "weekly_deals": "y"}
    ).get_data(as_text=True)
    assert "several confirmation e-mails in the last hour" in refused


def test_repeated_data_downloads_send_a_few_change_notices_not_one_each(
    app: Flask, session: Session
) -> None:
    client = signed_in(app, session, "victim@example.com")
    for _ in range(CHANGE_NOTICES_PER_HOUR + 10):
        assert client.get("/account/privacy/export").status_code == 200

    assert _queued(session, "account_profile_changed") == CHANGE_NOTICES_PER_HOUR
    assert _queued(session, change_digest.KIND) == 1


def _waiting(session: Session) -> OutboxEmail:
    session.rollback()
    rows = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == change_digest.KIND))
    return [row for row in rows if row.status == "pending"][-1]


def test_changes_past_the_cap_are_told_together_an_hour_later(
    app: Flask,
    session: Session,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_TIMEOUT_S=5)
    client = signed_in(app, session, "victim@example.com")
    for _ in range(CHANGE_NOTICES_PER_HOUR):
        assert client.get("/account/privacy/export").status_code == 200
    for name in ("Eve", "Mallory", "Trent"):
        token = csrf_token(client, "/account/profile")
        form = {"csrf_token": token, "name": name, "phone": ""}
        assert client.post("/account/profile", data=form).status_code == 302

    waiting = _waiting(session)
    assert waiting.to_address == "victim@example.com"
    assert waiting.subject == "More changes to your account"
    assert waiting.next_attempt_at - waiting.created_at == timedelta(hours=1)
    text = waiting.text_body
    assert text.count("Your name changed.") == 3, text
    assert "reset your password now" in text and "/account/password/reset" in text
    assert text.count(": Your name changed.") == 3  # each with its time
    session.rollback()
    assert send_pending(app).sent == CHANGE_NOTICES_PER_HOUR  # the waiting one is not due yet
    smtp_server.wait_for(CHANGE_NOTICES_PER_HOUR)

    later = utcnow() + timedelta(hours=1, minutes=1)
    assert send_pending(app, now=later).sent == 1
    received = smtp_server.wait_for(CHANGE_NOTICES_PER_HOUR + 1)[-1]
    assert "More changes to your account" in received.message["Subject"]
    assert received.message.get_body(("plain",)).get_content().count("Your name changed.") == 3

    # Once it went, the next change past the cap starts another one.
    assert client.get("/account/privacy/export").status_code == 200
    again = _waiting(session)
    assert again.id != waiting.id
    assert "A copy of your data was downloaded" in again.text_body
    assert "Your name changed." not in again.text_body
    assert _queued(session, "account_profile_changed") == CHANGE_NOTICES_PER_HOUR


def test_a_deleted_account_keeps_no_waiting_changes(app: Flask, session: Session) -> None:
    client = signed_in(app, session, "victim@example.com")
    for _ in range(CHANGE_NOTICES_PER_HOUR + 2):
        assert client.get("/account/privacy/export").status_code == 200
    user_id = _waiting(session).user_id
    assert user_id is not None
    user = session.get(User, user_id)
    assert user is not None
    with app.app_context():
        privacy.anonymize(session, user)
    session.commit()
    assert session.scalar(select(func.count(ChangeNote.id))) == 0
