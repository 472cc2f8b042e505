"""An account's address is not proven when it is registered, so nothing a signed-in browser
can repeat may send that address an unlimited number of e-mails."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.preferences import OPT_IN_EMAILS_PER_HOUR
from shop.accounts.profile import CHANGE_NOTICES_PER_HOUR
from shop.mail.models import OutboxEmail
from tests.helpers import csrf_token, signed_in

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
