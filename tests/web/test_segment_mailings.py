"""Mailings to an RFM segment: a merchandiser writes a note in the console, previews one
customer's copy and queues it; the job e-mails each customer who confirmed personal
recommendations their own picks under the note, once."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from loyalty import segment_mailings
from loyalty.campaigns import campaign_stats
from loyalty.models import (
    Campaign,
    CampaignSend,
    CommunicationPreference,
    SegmentMailing,
    SegmentMailingRecipient,
)
from loyalty.preferences import links_from_config
from shop.accounts.models import User
from shop.analytics import rfm
from shop.console import audit
from shop.console.models import AuditEntry
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as, console_token
from tests.recommendation_support import trained_buyers

PAGE = "/console/campaigns/segment-mailing"
NOTE = "Our winter range is in.\n\nWe picked a few things <b>for you</b>."


def _opt_in(
    session: Session, user: User, topic: str = "recommendations", status: str = "on"
) -> None:
    session.add(
        CommunicationPreference(user_id=user.id, topic=topic, status=status, updated_at=utcnow())
    )


def _shop(app: Flask, session: Session) -> tuple[list[User], str]:
    """Eight trained buyers with the same paid order (so one segment holds them all), a
    guest with the same order; buyers 0, 1 and 4 confirmed personal recommendations (4 has
    since deleted the account), 2 has not confirmed yet, 3 only wants weekly deals."""
    buyers = trained_buyers(app, session)
    placed = datetime.combine(utcnow().date() - timedelta(days=3), time(12))
    for n, buyer in enumerate(buyers):
        factories.bare_order(session, f"S{n}", placed, 2000, user_id=buyer.id)
    factories.bare_order(session, "G1", placed, 2000, email="guest@example.com")
    _opt_in(session, buyers[0])
    _opt_in(session, buyers[1])
    _opt_in(session, buyers[2], status="pending")
    _opt_in(session, buyers[3], topic="weekly_deals")
    _opt_in(session, buyers[4])
    buyers[4].deleted_at = utcnow()
    session.commit()
    today = utcnow().date()
    slug = next(
        s.slug
        for s in rfm.SEGMENT_LIST
        if segment_mailings.audience(session, s.slug, today).customers == 9
    )
    return buyers, slug


def _staff(app: Flask, session: Session) -> FlaskClient:
    return client_as(app, session, "merchandiser")


def _form(client: FlaskClient, slug: str, action: str, **fields: str) -> dict[str, str]:
    """The form as the page offers it (its one-off token), filled in and sent with `action`."""
    page = client.get(f"{PAGE}?segment={slug}").get_data(as_text=True)
    token = re.search(r'name="form_token" type="hidden" value="([0-9a-f]{32})"', page)
    assert token
    return {
        "csrf_token": console_token(client),
        "form_token": token.group(1),
        "segment": slug,
        "subject": "Winter picks",
        "message": NOTE,
        "action": action,
        **fields,
    }


def _post(client: FlaskClient, slug: str, action: str, **fields: str):
    return client.post(PAGE, data=_form(client, slug, action, **fields))


def _queue(
    session: Session, slug: str, subject: str = "Winter picks", note: str = NOTE
) -> segment_mailings.Queued:
    """Queue a mailing as a merchandiser would, committed."""
    actor = audit.Actor(None, "merchandiser@example.com")
    token = segment_mailings.new_form_token()
    queued = segment_mailings.queue_mailing(
        session, actor, slug, subject, note, token, utcnow().date()
    )
    session.commit()
    return queued


def _send(app: Flask) -> list:
    with app.app_context():
        return segment_mailings.send_queued(db.transaction, links_from_config(app.config))


def _emails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == "segment_mailing")
    return list(session.scalars(query.order_by(OutboxEmail.id)))


def test_the_audience_is_the_segments_accounts_that_confirmed_personal_recommendations(
    app: Flask, session: Session
) -> None:
    buyers, slug = _shop(app, session)
    reach = segment_mailings.audience(session, slug, utcnow().date())
    assert reach.customers == 9  # eight accounts and the guest
    assert reach.accounts == 7  # the deleted account is not one
    # Best spenders first; all spent the same, so by account.
    assert reach.reachable == [buyers[0].id, buyers[1].id]
    assert reach.not_reachable == 7


def test_a_merchandiser_previews_then_queues_a_mailing_once(app: Flask, session: Session) -> None:
    buyers, slug = _shop(app, session)
    name = rfm.SEGMENTS[slug].name
    client = _staff(app, session)

    page = client.get(f"{PAGE}?segment={slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Who it reaches in {name}" in html
    assert re.search(r'data-metric="reachable">2<', html)
    assert re.search(r'data-metric="left-out">7<', html)
    assert "Send to 2 customers" in html

    preview = _post(client, slug, "preview")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    shown = re.search(r'<pre class="mail-preview">(.*?)</pre>', html, re.S)
    assert shown
    text = shown.group(1)
    assert "Winter picks" in text and "Our winter range is in." in text
    assert "&lt;b&gt;for you&lt;/b&gt;" in text  # the note is text, never markup
    assert "Hello Buyer 0," in text  # the best spender who gets it
    assert re.search(r"Because you (bought|viewed)|Often bought with", text)
    assert "buyer0@example.com" in html
    assert "/preferences/unsubscribe/[their own link]" in text  # not a working link
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SegmentMailing)) == 0
    assert session.scalar(select(func.count()).select_from(Impression)) == 0  # not logged

    data = _form(client, slug, "queue", subject="  Winter picks ")
    queued = client.post(PAGE, data=data)
    assert queued.status_code == 302 and queued.headers["Location"].endswith("/console/campaigns/")
    again = client.post(PAGE, data=data)  # the same form again: a double click
    assert again.status_code == 302
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert "That mailing was already queued" in listing

    session.rollback()
    [mailing] = session.scalars(select(SegmentMailing)).all()
    key = f"segment-{slug}-{utcnow().date():%Y%m%d}"
    assert session.scalar(select(Campaign.key).where(Campaign.id == mailing.campaign_id)) == key
    assert (mailing.segment, mailing.subject, mailing.message) == (slug, "Winter picks", NOTE)
    assert (mailing.audience, mailing.status, mailing.created_by_email) == (
        2,
        "queued",
        "merchandiser@example.com",
    )
    recipients = session.scalars(select(SegmentMailingRecipient.user_id)).all()
    assert set(recipients) == {buyers[0].id, buyers[1].id}
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "campaigns.segment_mailing")
    )
    assert entry is not None and entry.target == f"campaign {key}"
    assert entry.after == {"segment": slug, "subject": "Winter picks", "audience": 2}
    row = re.search(rf'data-key="{key}">(.*?)</tr>', listing, re.S)
    assert row and "Winter picks" in row.group(1) and "waiting" in row.group(1)


def test_the_job_sends_each_reachable_customer_their_own_picks_once(
    app: Flask, session: Session
) -> None:
    buyers, slug = _shop(app, session)
    key = _queue(session, slug).key
    # Buyer 1 unsubscribes before the job runs: the queued list does not override that.
    session.execute(
        CommunicationPreference.__table__.update()
        .where(CommunicationPreference.user_id == buyers[1].id)
        .values(status="off")
    )
    session.commit()

    [report] = _send(app)
    assert (report.key, report.queued, report.failed) == (key, 1, 0)
    [email] = _emails(session)
    assert (email.to_address, email.subject, email.user_id) == (
        "buyer0@example.com",
        "Winter picks",
        buyers[0].id,
    )
    assert "Our winter range is in.\n\nWe picked a few things <b>for you</b>." in email.text_body
    assert "We picked a few things &lt;b&gt;for you&lt;/b&gt;." in email.html_body
    assert re.search(r"<title>Winter picks</title>", email.html_body)
    assert re.search(r"<h1[^>]*>Winter picks</h1>", email.html_body)
    assert "<b>for you</b>" not in email.html_body
    links = re.findall(r"/products/(\d+)\?rec=([0-9a-f]{32})&amp;cmp=([\w-]+)", email.html_body)
    assert links and {cmp for _p, _r, cmp in links} == {key}
    assert re.search(r"Because you (bought|viewed)|Often bought with", email.text_body)
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "asked for personal recommendations" in email.text_body
    impression = session.scalar(select(Impression).where(Impression.rec_id == links[0][1]))
    assert impression is not None
    assert (impression.placement, impression.user_id) == ("segment_email", buyers[0].id)

    mailing = session.scalar(select(SegmentMailing))
    assert mailing is not None
    assert (mailing.status, mailing.queued) == ("sent", 1) and mailing.sent_at is not None
    assert session.scalar(select(func.count()).select_from(SegmentMailingRecipient)) == 0
    assert session.scalars(select(CampaignSend.user_id)).all() == [buyers[0].id]
    stats = next(s for s in campaign_stats(session) if s.key == key)
    assert (stats.kind, stats.sends) == ("segment_mailing", 1)

    assert _send(app) == []  # nothing waiting any more
    assert len(_emails(session)) == 1

    # A second mailing to the segment the same day gets a key of its own.
    second = _queue(session, slug, "More picks", "Still here.")
    assert second.key == f"{key}-2"
    [report] = _send(app)
    assert (report.key, report.queued) == (f"{key}-2", 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": ""}, "Write a subject."),
        ({"subject": "x" * 121}, "At most 120 characters."),
        ({"message": "  "}, "Write a note for the customers."),
        ({"message": "x" * 2001}, "At most 2,000 characters."),
        ({"message": "Hello\x07there"}, "Remove the control characters from this field."),
        ({"segment": "nobody"}, "Not a valid choice"),
        ({"form_token": "short"}, "The form has expired; open it again."),
    ],
)
def test_bad_input_gets_a_message_and_stores_nothing(
    app: Flask, session: Session, fields: dict[str, str], message: str
) -> None:
    _buyers, slug = _shop(app, session)
    client = _staff(app, session)
    response = _post(client, slug, "queue", **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SegmentMailing)) == 0
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_segment_nobody_can_be_emailed_in_is_refused(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    session.execute(
        CommunicationPreference.__table__.update()
        .where(CommunicationPreference.topic == "recommendations")
        .values(status="off")
    )
    session.commit()
    client = _staff(app, session)
    page = client.get(f"{PAGE}?segment={slug}").get_data(as_text=True)
    assert "Send to" not in page
    preview = _post(client, slug, "preview")
    assert preview.status_code == 200
    assert "Nobody in this segment would get the e-mail, so there is no copy to preview" in (
        preview.get_data(as_text=True)
    )
    response = _post(client, slug, "queue")
    assert response.status_code == 400
    name = rfm.SEGMENTS[slug].name
    assert f"Nobody in {name} has asked for personal recommendations" in response.get_data(
        as_text=True
    )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_only_staff_reach_it_and_the_form_needs_its_tokens(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    assert client_as(app, session, "shopper").get(f"{PAGE}?segment={slug}").status_code == 404
    assert app.test_client().get(PAGE).status_code == 404
    client = _staff(app, session)
    unknown = client.get(f"{PAGE}?segment=nobody")
    assert unknown.status_code == 404
    assert "There is no segment &#39;nobody&#39;." in unknown.get_data(as_text=True)
    no_csrf = client.post(PAGE, data={"segment": slug, "subject": "Hi", "message": "Hi"})
    assert no_csrf.status_code == 400
    # The segment's page and the campaigns page lead to the form.
    segment_page = client.get(f"/console/customers/segments/{slug}").get_data(as_text=True)
    assert f'href="{PAGE}?segment={slug}"' in segment_page
    assert f'href="{PAGE}"' in client.get("/console/campaigns/").get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SegmentMailing)) == 0


def test_cli_command(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    runner = app.test_cli_runner()
    idle = runner.invoke(args=["loyalty", "send-segment-mailings"])
    assert idle.exit_code == 0 and "No segment mailings waiting." in idle.output
    queued = _queue(session, slug)
    result = runner.invoke(args=["loyalty", "send-segment-mailings"])
    assert result.exit_code == 0, result.output
    assert f"Campaign {queued.key}: 2 e-mails queued, 0 already sent, 0 failed" in result.output
    assert len(_emails(session)) == 2


def test_the_preview_is_of_someone_who_gets_it(app: Flask, session: Session) -> None:
    buyers, slug = _shop(app, session)
    # Buyer 0 switches personalization off: they would get no personal picks, so they are
    # not counted; buyer 1's history goes, so the model has nothing personal for them.
    session.execute(update(User).where(User.id == buyers[0].id).values(tracking_enabled=False))
    session.execute(delete(Event).where(Event.user_id == buyers[1].id))
    _opt_in(session, buyers[6])
    session.commit()
    reach = segment_mailings.audience(session, slug, utcnow().date())
    assert reach.reachable == [buyers[1].id, buyers[6].id]

    client = _staff(app, session)
    html = _post(client, slug, "preview").get_data(as_text=True)
    assert "buyer6@example.com" in html and "Hello Buyer 6," in html
    assert "Popular right now" not in html
    assert "Send to 2 customers" in html  # buyer 1 is counted: known only when sending

    queued = _queue(session, slug)
    [report] = _send(app)
    assert (report.key, report.queued, report.no_picks) == (queued.key, 1, 1)
    assert [e.to_address for e in _emails(session)] == ["buyer6@example.com"]

    session.execute(delete(Event).where(Event.user_id == buyers[6].id))
    session.commit()
    html = _post(client, slug, "preview").get_data(as_text=True)
    assert "None of the customers it reaches first has personal picks yet" in html
    assert "Hello Buyer" not in html
