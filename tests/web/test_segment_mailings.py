"""Mailings to an RFM segment: a merchandiser writes a note in the console, previews one
customer's copy and queues it; the job e-mails each customer who confirmed personal
recommendations their own picks under the note, once."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta, timezone

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
    session: Session,
    slug: str,
    subject: str = "Winter picks",
    note: str = NOTE,
    send_at: datetime | None = None,
) -> segment_mailings.Queued:
    """Queue a mailing as a merchandiser would (for `send_at`, when given), committed."""
    actor = audit.Actor(None, "merchandiser@example.com")
    token = segment_mailings.new_form_token()
    queued = segment_mailings.queue_mailing(
        session, actor, slug, subject, note, token, utcnow().date(), send_at=send_at
    )
    session.commit()
    return queued


def _send(app: Flask, now: datetime | None = None) -> list:
    with app.app_context():
        return segment_mailings.send_queued(db.transaction, links_from_config(app.config), now=now)


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
    assert entry.after == {
        "segment": slug,
        "subject": "Winter picks",
        "audience": 2,
        "send_after": None,
    }
    assert mailing.send_after is None
    row = re.search(rf'data-key="{key}">(.*?)</tr>', listing, re.S)
    assert row and "Winter picks" in row.group(1)
    assert re.search(r"waiting</span> to send, within a minute", row.group(1))
    assert f"/console/campaigns/segment-mailings/{mailing.id}/cancel" in row.group(1)


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
        ({"send_at": "tomorrow at ten"}, "Enter a date and time as YYYY-MM-DD HH:MM"),
        ({"send_at": "2030-02-30T10:00"}, "Enter a date and time as YYYY-MM-DD HH:MM"),
        ({"send_at": "2030-01-01T25:00"}, "Enter a date and time as YYYY-MM-DD HH:MM"),
        ({"send_at": "2000-01-01T10:00"}, "That time has passed"),
        ({"send_at": "9999-12-31T23:59"}, "at most 90 days ahead"),
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


@pytest.mark.parametrize(
    ("send_at", "message"),
    [
        ("2000-01-01T10:00", "That time has passed: choose a later one"),
        ("9999-12-31T23:59", "A mailing can be scheduled at most 90 days ahead."),
    ],
)
def test_the_preview_already_says_what_is_wrong_with_the_time(
    app: Flask, session: Session, send_at: str, message: str
) -> None:
    _buyers, slug = _shop(app, session)
    client = _staff(app, session)
    response = _post(client, slug, "preview", send_at=send_at)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<p class="field-error" id="send_at-error">{message}' in page
    assert 'data-testid="mail-preview"' in page  # the copy is still shown
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SegmentMailing)) == 0


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


# --- sending later, and cancelling --------------------------------------------------------

ACTOR = audit.Actor(None, "merchandiser@example.com")


def _mailing(session: Session, key: str) -> SegmentMailing:
    session.rollback()
    mailing = session.scalar(
        select(SegmentMailing)
        .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
        .where(Campaign.key == key)
    )
    assert mailing is not None
    return mailing


def _recipients(session: Session, mailing_id: int) -> set[int]:
    session.rollback()
    query = select(SegmentMailingRecipient.user_id).where(
        SegmentMailingRecipient.mailing_id == mailing_id
    )
    return set(session.scalars(query))


def _cancel_url(mailing_id: int) -> str:
    return f"/console/campaigns/segment-mailings/{mailing_id}/cancel"


def _cancel(client: FlaskClient, mailing_id: int):
    return client.post(_cancel_url(mailing_id), data={"csrf_token": console_token(client)})


def _status_cell(listing: str, key: str) -> str:
    row = re.search(rf'data-key="{key}">(.*?)</tr>', listing, re.S)
    assert row, listing
    cell = re.search(r'data-col="status">(.*?)</td>', row.group(1), re.S)
    assert cell
    return re.sub(r"<[^>]+>", "", cell.group(1)).strip()


def test_the_time_to_send_at_is_checked_against_now() -> None:
    now = datetime(2026, 11, 24, 10, 0)
    check = segment_mailings.check_send_after
    assert check(None, now) is None
    assert check(now - timedelta(seconds=59), now) == now - timedelta(seconds=59)  # slack
    assert check(now + timedelta(days=90), now) == now + timedelta(days=90)
    aware = datetime(2026, 11, 24, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    assert check(aware, now) == datetime(2026, 11, 24, 10, 30)
    with pytest.raises(segment_mailings.MailingError, match="That time has passed") as past:
        check(now - timedelta(minutes=2), now)
    assert past.value.field == "send_at"
    with pytest.raises(segment_mailings.MailingError, match="at most 90 days ahead"):
        check(now + timedelta(days=90, minutes=1), now)


def test_a_scheduled_mailing_waits_for_its_time_then_goes_once(
    app: Flask, session: Session
) -> None:
    buyers, slug = _shop(app, session)
    now = utcnow().replace(second=0, microsecond=0)
    send_at = now + timedelta(hours=3)
    queued = _queue(session, slug, send_at=send_at)
    mailing_id = queued.mailing.id
    assert _mailing(session, queued.key).send_after == send_at
    # Counted when it was scheduled: someone who opts in later is not added...
    _opt_in(session, buyers[6])
    session.commit()
    assert _recipients(session, mailing_id) == {buyers[0].id, buyers[1].id}

    assert _send(app, now) == []
    assert _send(app, send_at - timedelta(seconds=1)) == []
    assert _emails(session) == []
    idle = app.test_cli_runner().invoke(args=["loyalty", "send-segment-mailings"])
    assert idle.exit_code == 0, idle.output
    assert idle.output == (
        "No segment mailings due now; 1 mailing scheduled for later, the next at "
        f"{send_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    assert _mailing(session, queued.key).status == "queued"
    [row] = segment_mailings.recent_mailings(session, now)
    assert (row.state, row.send_after, row.cancellable) == ("scheduled", send_at, True)
    [row] = segment_mailings.recent_mailings(session, send_at)
    assert row.state == "waiting"  # its time has come; the job's next run sends it

    # ...and whoever unsubscribes before it goes out is left out.
    session.execute(
        update(CommunicationPreference)
        .where(CommunicationPreference.user_id == buyers[1].id)
        .values(status="off")
    )
    session.commit()
    [report] = _send(app, send_at)
    assert (report.key, report.queued) == (queued.key, 1)
    assert [e.to_address for e in _emails(session)] == ["buyer0@example.com"]
    sent = _mailing(session, queued.key)
    assert (sent.status, sent.queued) == ("sent", 1)
    assert _recipients(session, mailing_id) == set()
    assert _send(app, send_at + timedelta(days=1)) == []
    assert len(_emails(session)) == 1
    [row] = segment_mailings.recent_mailings(session)
    assert (row.state, row.cancellable) == ("sent", False)


def test_a_merchandiser_schedules_a_mailing_from_the_form(app: Flask, session: Session) -> None:
    buyers, slug = _shop(app, session)
    client = _staff(app, session)
    page = client.get(f"{PAGE}?segment={slug}").get_data(as_text=True)
    assert '<label for="send_at">Send at (UTC, optional)</label>' in page
    assert 'type="datetime-local"' in page
    assert "Leave it empty to send within a minute" in page
    assert "counted here who still want personal recommendations when it goes out" in page

    send_at = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    typed = f"{send_at:%Y-%m-%dT%H:%M}"
    response = _post(client, slug, "queue", send_at=typed)
    assert response.status_code == 302
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    when = f"{send_at:%d %b %Y %H:%M} UTC"
    name = rfm.SEGMENTS[slug].name
    assert f"Scheduled “Winter picks” for 2 customers in {name}" in listing
    assert f"to go out at {when}." in listing

    session.rollback()
    [mailing] = session.scalars(select(SegmentMailing)).all()
    assert (mailing.status, mailing.send_after, mailing.audience) == ("queued", send_at, 2)
    assert _recipients(session, mailing.id) == {buyers[0].id, buyers[1].id}
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "campaigns.segment_mailing")
    )
    assert entry is not None and entry.after["send_after"] == f"{send_at:%Y-%m-%d %H:%M}"
    key = f"segment-{slug}-{utcnow().date():%Y%m%d}"
    assert _status_cell(listing, key) == f"scheduled for {when}"
    assert _cancel_url(mailing.id) in listing
    assert _send(app) == []  # not yet
    assert _emails(session) == []


def test_a_time_already_gone_or_too_far_ahead_is_refused(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    client = _staff(app, session)
    now = utcnow()
    for send_at, message in [
        (now - timedelta(minutes=5), "That time has passed: choose a later one"),
        (now + timedelta(days=91), "A mailing can be scheduled at most 90 days ahead."),
    ]:
        response = _post(client, slug, "queue", send_at=f"{send_at:%Y-%m-%dT%H:%M}")
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert message in html
        assert 'id="send_at-error"' in html and 'aria-invalid="true"' in html
        assert f'value="{send_at:%Y-%m-%dT%H:%M}"' in html  # kept to correct
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SegmentMailing)) == 0
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_merchandiser_cancels_a_scheduled_mailing(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    send_at = utcnow() + timedelta(hours=1)
    queued = _queue(session, slug, send_at=send_at)
    mailing_id = queued.mailing.id
    client = _staff(app, session)

    # The list's Cancel asks first, saying what would not go out; asking changes nothing.
    asked = client.get(_cancel_url(mailing_id))
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "<h1>Cancel “Winter picks”?</h1>" in page
    assert f"<dd>{queued.key}</dd>" in page and f"{send_at:%d %b %Y %H:%M} UTC" in page
    assert f'<form method="post" action="{_cancel_url(mailing_id)}"' in page
    assert _mailing(session, queued.key).status == "queued"
    assert client.get(_cancel_url(999_999)).status_code == 404

    response = _cancel(client, mailing_id)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/console/campaigns/"
    )
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert f"Cancelled “Winter picks” (campaign {queued.key}); nobody gets it." in listing
    mailing = _mailing(session, queued.key)
    assert (mailing.status, mailing.cancelled_by_email) == ("cancelled", "merchandiser@example.com")
    assert mailing.cancelled_at is not None
    assert _recipients(session, mailing_id) == set()
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "campaigns.segment_mailing_cancel")
    )
    assert entry is not None and entry.target == f"campaign {queued.key}"
    assert entry.actor_email == "merchandiser@example.com"
    assert entry.before == {"status": "queued", "send_after": f"{send_at:%Y-%m-%d %H:%M}"}
    assert entry.after == {"status": "cancelled"}
    cell = _status_cell(listing, queued.key)
    assert cell == (
        f"cancelled by merchandiser@example.com on {mailing.cancelled_at:%d %b %Y %H:%M} UTC"
    )
    assert _cancel_url(mailing_id) not in listing

    # The job never sends it, however late it runs.
    assert _send(app, send_at + timedelta(days=1)) == []
    assert _emails(session) == []
    assert _mailing(session, queued.key).status == "cancelled"

    late = client.get(_cancel_url(mailing_id))  # a confirm page opened from an old list
    assert late.status_code == 302 and late.headers["Location"].endswith("/console/campaigns/")
    assert "“Winter picks” cannot be cancelled: it is cancelled." in client.get(
        "/console/campaigns/"
    ).get_data(as_text=True)
    again = _cancel(client, mailing_id)
    assert again.status_code == 302
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert "“Winter picks” was cancelled already." in listing
    session.rollback()
    cancels = select(func.count()).where(AuditEntry.action == "campaigns.segment_mailing_cancel")
    assert session.scalar(cancels) == 1


def test_a_mailing_waiting_to_send_now_can_be_cancelled_too(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    client = _staff(app, session)
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert _status_cell(listing, queued.key) == "waiting to send, within a minute"
    assert _cancel(client, queued.mailing.id).status_code == 302
    assert _send(app) == []
    assert _emails(session) == []
    assert _mailing(session, queued.key).status == "cancelled"


def test_cancelling_a_mailing_that_went_out_says_so(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    client = _staff(app, session)
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert _cancel_url(queued.mailing.id) in listing  # the page was opened before the job ran
    [report] = _send(app)
    assert report.queued == 2

    response = _cancel(client, queued.mailing.id)
    assert response.status_code == 302
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert "“Winter picks” has been sent already, so it can no longer be cancelled." in listing
    assert _status_cell(listing, queued.key).startswith("sent 2 e-mails, ")
    assert _cancel_url(queued.mailing.id) not in listing
    mailing = _mailing(session, queued.key)
    assert (mailing.status, mailing.cancelled_at, mailing.cancelled_by_email) == (
        "sent",
        None,
        None,
    )
    assert len(_emails(session)) == 2
    cancels = select(func.count()).where(AuditEntry.action == "campaigns.segment_mailing_cancel")
    assert session.scalar(cancels) == 0
    assert _cancel(client, 999_999).status_code == 404


def test_a_cancel_after_the_job_listed_the_mailing_wins(app: Flask, session: Session) -> None:
    """The job has read the mailing as due; a cancel commits before the job claims it: the
    claim finds it gone, and nothing is sent."""
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    now = utcnow()
    with app.app_context():
        with db.transaction() as tx:
            assert segment_mailings.due_mailings(tx, now) == [queued.mailing.id]
        with db.transaction() as tx:
            segment_mailings.cancel_mailing(tx, ACTOR, queued.mailing.id, now)
        with db.transaction() as tx:
            assert segment_mailings.claim(tx, queued.mailing.id, now) is False
    assert _send(app, now) == []
    assert _emails(session) == []
    assert _mailing(session, queued.key).status == "cancelled"


def test_a_job_that_claimed_the_mailing_first_wins(app: Flask, session: Session) -> None:
    """The job claims the mailing; a cancel that comes before it has finished sending is
    refused, and the job (or the next run, if this one stopped) sends it."""
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    now = utcnow()
    with app.app_context():
        with db.transaction() as tx:
            assert segment_mailings.claim(tx, queued.mailing.id, now) is True
        with db.transaction() as tx:
            assert segment_mailings.claim(tx, queued.mailing.id, now) is False  # claimed once
        with (
            pytest.raises(segment_mailings.MailingError, match="is being sent right now"),
            db.transaction() as tx,
        ):
            segment_mailings.cancel_mailing(tx, ACTOR, queued.mailing.id, now)
    mailing = _mailing(session, queued.key)
    assert (mailing.status, mailing.cancelled_at) == ("sending", None)
    assert len(_recipients(session, mailing.id)) == 2
    client = _staff(app, session)
    listing = client.get("/console/campaigns/").get_data(as_text=True)
    assert _status_cell(listing, queued.key) == "sending now"
    assert _cancel_url(mailing.id) not in listing

    [report] = _send(app, now)
    assert (report.key, report.queued) == (queued.key, 2)
    assert _mailing(session, queued.key).status == "sent"
    assert len(_emails(session)) == 2


def test_only_staff_cancel_and_only_with_the_csrf_token(app: Flask, session: Session) -> None:
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    url = _cancel_url(queued.mailing.id)
    session.rollback()  # end the snapshot that read the id: the requests below write
    for role in ("anonymous", "shopper"):
        client = client_as(app, session, role)
        token = console_token(client, "/")
        assert client.post(url, data={"csrf_token": token}).status_code == 404
        assert client.get(url).status_code == 404
    staff = _staff(app, session)
    assert staff.post(url).status_code == 400
    assert staff.post(url, data={"csrf_token": "forged"}).status_code == 400
    assert staff.get(url).status_code == 200  # only asks
    mailing = _mailing(session, queued.key)
    assert (mailing.status, mailing.cancelled_at) == ("queued", None)
    assert len(_recipients(session, mailing.id)) == 2


def _claim_alone(mailing_id: int, now: datetime) -> bool:
    with db.transaction() as tx:
        return segment_mailings.claim(tx, mailing_id, now)


def _cancel_alone(mailing_id: int, now: datetime) -> str:
    try:
        with db.transaction() as tx:
            segment_mailings.cancel_mailing(tx, ACTOR, mailing_id, now)
    except segment_mailings.MailingError as exc:
        return str(exc)
    return "cancelled"


@pytest.mark.parametrize("first", ["cancel", "job"])
def test_a_cancel_and_the_job_at_the_same_moment_exactly_one_wins(
    app: Flask, session: Session, first: str
) -> None:
    """While one side's transaction is open, the other starts its own in another thread
    (it waits for the first to commit, or comes after): the second changes nothing."""
    _buyers, slug = _shop(app, session)
    queued = _queue(session, slug)
    mailing_id = queued.mailing.id
    session.rollback()
    now = utcnow()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with db.transaction() as tx:
            if first == "cancel":
                segment_mailings.cancel_mailing(tx, ACTOR, mailing_id, now)
                second = pool.submit(_claim_alone, mailing_id, now)
            else:
                assert segment_mailings.claim(tx, mailing_id, now) is True
                second = pool.submit(_cancel_alone, mailing_id, now)
        outcome = second.result(timeout=60)  # a guard against a hang, not a timing check
    mailing = _mailing(session, queued.key)
    if first == "cancel":
        assert outcome is False
        assert mailing.status == "cancelled"
        assert _send(app, now) == []
        assert _emails(session) == []
    else:
        assert "is being sent right now" in outcome
        assert (mailing.status, mailing.cancelled_at) == ("sending", None)
        [report] = _send(app, now)
        assert report.queued == 2
        assert len(_emails(session)) == 2
