"""QA of e-mail preferences: a confirmation link that went astray can be sent again."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty.models import CommunicationPreference
from shop.db import utcnow
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import csrf_token, sign_in

CONFIRM_RE = re.compile(r"https?://[^/\s]+(/preferences/confirm/[A-Za-z0-9_-]+)")


def _optins(session: Session) -> list[OutboxEmail]:
    session.rollback()
    return list(
        session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.kind == "marketing_optin")
            .order_by(OutboxEmail.id)
        )
    )


def _status(session: Session, user_id: int) -> str:
    session.rollback()
    row = session.scalar(
        select(CommunicationPreference).where(CommunicationPreference.user_id == user_id)
    )
    return row.status if row else "off"


def _link(email: OutboxEmail) -> str:
    match = CONFIRM_RE.search(email.text_body)
    assert match
    return match.group(1)


def _resend(client: FlaskClient, topic: str = "weekly_deals") -> str:
    token = csrf_token(client, "/account/preferences")
    response = client.post(
        "/account/preferences/resend",
        data={"csrf_token": token, "topic": topic},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _an_hour_later(session: Session, user_id: int) -> None:
    """As if the first link had gone out an hour ago."""
    session.execute(
        update(CommunicationPreference)
        .where(CommunicationPreference.user_id == user_id)
        .values(requested_at=utcnow() - timedelta(hours=1))
    )
    session.commit()


def test_a_confirmation_link_that_went_astray_can_be_sent_again(
    client: FlaskClient, session: Session
) -> None:
    """Saving the page again with the topic ticked sends nothing (a double submit must not
    send two e-mails), so a member whose e-mail never came had no way to get the link but
    to untick, save, tick and save again."""
    user = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account/preferences")
    client.post("/account/preferences", data={"csrf_token": token, "weekly_deals": "y"})
    (first,) = _optins(session)
    page = client.get("/account/preferences").get_data(as_text=True)
    assert 'data-testid="resend-weekly_deals"' in page
    assert 'data-testid="resend-tier_news"' not in page  # only topics waiting for a link

    # Straight after the first e-mail (a double click), nothing more is sent.
    page = _resend(client)
    assert "less than a minute ago" in page
    assert len(_optins(session)) == 1

    _an_hour_later(session, user.id)
    page = _resend(client)
    assert "We&#39;ve sent a new link to confirm weekly deals" in page
    first, second = _optins(session)
    assert second.to_address == "ann@example.com"
    assert _link(second) != _link(first)
    assert _status(session, user.id) == "pending"

    # The old link no longer works and says why; the new one confirms.
    old = client.get(_link(first))
    assert old.status_code == 410
    assert "replaced by a newer one we sent you" in old.get_data(as_text=True)
    path = _link(second)
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 200 and "You're subscribed" in response.get_data(True)
    assert _status(session, user.id) == "on"

    # A topic that is on (or off) is not waiting for a link: nothing is sent.
    _an_hour_later(session, user.id)
    assert "is not waiting for confirmation" in _resend(client)
    assert "is not waiting for confirmation" in _resend(client, "tier_news")
    assert len(_optins(session)) == 2


def test_resending_needs_a_known_topic_and_the_form_token(
    client: FlaskClient, session: Session
) -> None:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    token = csrf_token(client, "/account/preferences")
    for data in ({"csrf_token": token, "topic": "everything"}, {"topic": "weekly_deals"}):
        assert client.post("/account/preferences/resend", data=data).status_code == 400
    assert _optins(session) == []
    signed_out = client.application.test_client()
    response = signed_out.post("/account/preferences/resend", data={"topic": "weekly_deals"})
    assert response.status_code in (302, 400)
