"""Every kind of e-mail the shop sends, as handed to SMTP, against what mailbox providers
expect: headers, both parts saying the same thing, escaping, encoding, links that work,
unsubscribe headers on marketing and none of it for people who said no."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty import notifications, programme_news, tier_news
from loyalty import preferences as prefs
from loyalty.campaigns import IsoWeek, send_weekly
from loyalty.models import CommunicationPreference, Membership, Tier
from loyalty.settings import ProgrammeSettings
from shop.accounts import profile, security, services
from shop.accounts.models import User
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.mail.sender import Outgoing, SenderSettings, build_message, send_pending
from shop.orders.notifications import queue_order_email
from tests import factories
from tests.checkout_support import settings as checkout_settings
from tests.mail_smtp import SmtpServer, smtp_server  # noqa: F401

BASE = "https://shop.example"
PASSWORD = "correct horse battery staple"
# A name with markup, quotes, an ampersand, accents, an emoji and right-to-left text.
NAME = 'Zoë <b>O\'Brien & "Co"</b> 🕯️ שלום'
PRODUCT = "Crème <i>brûlée</i> & Über-mug 🕯️"
MARKETING = {"weekly_deals", "personal_picks", "early_access", "tier_news"}
SIGN_IN = "/account/login"
# Single-use links the fixture opened through their services: they answer "already used".
USED_BY_THIS_TEST = ("/account/email/confirm/", "/preferences/confirm/")


@pytest.fixture
def mail_app(app: Flask, smtp_server: SmtpServer) -> Flask:  # noqa: F811
    """The app with a public https address and the test SMTP server."""
    app.config.update(
        SHOP_BASE_URL=BASE,
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=smtp_server.port,
        SMTP_TIMEOUT_S=5,
        MAIL_FROM="Hearth & Parcel <orders@shop.example>",
    )
    return app


def _link_token(session: Session, kind: str, pattern: str) -> str:
    session.rollback()
    row = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == kind)).one()
    found = re.search(pattern, row.text_body)
    session.rollback()
    assert found, row.text_body
    return found.group(1)


def _queue_every_kind(app: Flask, session: Session) -> None:
    """Queue each kind of e-mail through the service that sends it."""
    order = factories.paid_order_with_address(session, email="buyer@example.com")
    order.ship_name = NAME
    for line in order.lines:
        line.name = PRODUCT
    session.commit()
    with app.app_context(), db.transaction() as tx:
        placed = tx.get(type(order), order.id)
        assert placed is not None
        settings = checkout_settings(app)
        queue_order_email(tx, placed, "order_confirmation", settings, suggestions=[])
        queue_order_email(tx, placed, "payment_failed", settings)
        queue_order_email(tx, placed, "order_shipped", settings, tracking="TRK <1> & 2")
        queue_order_email(tx, placed, "order_refunded", settings, refund_pence=295)
        queue_order_email(tx, placed, "order_cancelled", settings)
        queue_order_email(tx, placed, "order_cancelled_refunded", settings, refund_pence=295)

        user = services.register(tx, NAME, "zoe@example.com", PASSWORD, BASE)
        services.send_email_confirmation(tx, user, BASE)
        profile.confirm_change(tx, user, f"Your name is now {NAME}", BASE)
        security.change_password(tx, user, PASSWORD, PASSWORD + "!", BASE)
        security.request_email_change(tx, user, PASSWORD + "!", "zoe.new@example.com", BASE)
    token = _link_token(session, "account_email_confirm", r"/account/email/confirm/(\S+)")
    with app.app_context(), db.transaction() as tx:
        security.confirm_email_change(tx, token, BASE)
        # After the change: the change voids reset links sent before it.
        security.request_password_reset(tx, "zoe.new@example.com", BASE)

    member = factories.member(session, "mia@example.com", points=800, tier="Gold")
    member.name = NAME
    session.commit()
    session.rollback()
    links = prefs.links_from_config(app.config)
    with app.app_context(), db.transaction() as tx:
        user = tx.get(User, member.id)
        assert user is not None
        ship = tx.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        gold = tx.get(Tier, ship.tier_id)
        assert gold is not None
        tx.add(CommunicationPreference(user_id=user.id, topic="tier_news", status="on"))
        tx.flush()
        notifications.send_welcome(tx, user, ship, gold)
        notifications.send_tier_changed(tx, user, ship, None, gold, "You spent £500 & more")
        notifications.send_points_expiring(tx, user, ship, 120, "2026-12-31")
        notifications.send_refund_points(tx, user, ship, "HP-1001", 10, 20, 0)
        notifications.send_points_adjusted(tx, user, ship, 50, f"Sorry about {PRODUCT}")
        programme_news.tell_members(
            tx, ProgrammeSettings(), ProgrammeSettings(downgrade_grace_days=60)
        )
        tier_news.tell_members(tx, gold, tier_news.BenefitChange(("Free delivery",), (), None))
        tier_news.tell_members(tx, gold, tier_news.BenefitChange((), ("Free delivery",), None))
        prefs.request_opt_in(tx, user, "weekly_deals", links)
    token = _link_token(session, "marketing_optin", r"/preferences/confirm/(\S+)")
    with app.app_context(), db.transaction() as tx:
        prefs.confirm_opt_in(tx, token, links)
    with app.app_context():
        send_weekly(db.transaction, IsoWeek(2026, 48), links)


@pytest.fixture
def delivered(
    mail_app: Flask,
    session: Session,
    smtp_server: SmtpServer,  # noqa: F811
) -> list[tuple[str, bytes, EmailMessage]]:
    """(kind, raw bytes, parsed message) of every kind of e-mail, as the SMTP server got them."""
    _queue_every_kind(mail_app, session)
    session.rollback()
    kinds = {row.message_id: row.kind for row in session.scalars(select(OutboxEmail))}
    report = send_pending(mail_app, limit=1000)
    assert report.failed == report.retrying == 0, report.errors
    received = smtp_server.wait_for(len(kinds))
    assert len(received) == len(kinds)
    return [(kinds[r.message["Message-ID"]], r.content, r.message) for r in received]


def test_every_kind_of_e_mail_is_covered(delivered: list[tuple[str, bytes, EmailMessage]]) -> None:
    kinds = {kind for kind, _raw, _msg in delivered}
    assert kinds >= {
        "order_confirmation",
        "payment_failed",
        "order_shipped",
        "order_refunded",
        "order_cancelled",
        "order_cancelled_refunded",
        "account_welcome",
        "account_email_verify",
        "account_profile_changed",
        "account_password_changed",
        "account_email_change_requested",
        "account_email_confirm",
        "account_email_changed",
        "account_password_reset",
        "loyalty_welcome",
        "loyalty_tier_changed",
        "loyalty_points_expiring",
        "loyalty_refund_points",
        "loyalty_points_adjusted",
        "loyalty_programme_changed",
        "loyalty_tier_benefits",
        "tier_news",
        "marketing_optin",
        "marketing_subscribed",
        "weekly_deals",
    }


def test_headers_of_every_e_mail(delivered: list[tuple[str, bytes, EmailMessage]]) -> None:
    ids = set()
    for kind, _raw, msg in delivered:
        sender = msg["From"].addresses[0]
        assert (sender.display_name, sender.addr_spec) == ("Hearth & Parcel", "orders@shop.example")
        assert "@" in msg["To"], kind
        subject = str(msg["Subject"])
        assert subject and "\n" not in subject and "\r" not in subject
        assert len(subject) <= 120, (kind, subject)
        assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
        assert re.fullmatch(r"<[0-9a-f]{32}@shop\.example>", msg["Message-ID"]), kind
        ids.add(msg["Message-ID"])
        assert msg["MIME-Version"] == "1.0"
        assert msg["Auto-Submitted"] == "auto-generated", kind
        if kind in MARKETING:
            assert re.fullmatch(
                r"<https://shop\.example/preferences/unsubscribe/\S+>", msg["List-Unsubscribe"]
            )
            assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        elif kind != "marketing_subscribed":
            assert msg["List-Unsubscribe"] is None, kind
    assert len(ids) == len(delivered)


def _parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    for part in parts.values():
        assert part.get_content_charset() in ("utf-8", "us-ascii")
    return parts["text/plain"].get_content(), parts["text/html"].get_content()


def test_lines_and_encoded_words_keep_to_the_rfc_limits(
    delivered: list[tuple[str, bytes, EmailMessage]],
) -> None:
    for kind, raw, _msg in delivered:
        lines = raw.split(b"\r\n") if b"\r\n" in raw else raw.split(b"\n")
        assert max(len(line) for line in lines) <= 998, kind
        for word in re.findall(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=", raw):
            assert len(word) <= 75, (kind, word)
        body = raw.split(b"\n\n", 1)[1] if b"\r\n\r\n" not in raw else raw.split(b"\r\n\r\n", 1)[1]
        encoded = re.search(rb"Content-Transfer-Encoding: (quoted-printable|base64)", raw)
        if encoded:
            for line in body.splitlines():
                if not line.startswith((b"--", b"Content-", b"MIME-")):
                    assert len(line) <= 76, (kind, line)


def test_both_parts_say_the_same_and_the_html_escapes_what_people_typed(
    delivered: list[tuple[str, bytes, EmailMessage]],
) -> None:
    mismatched: dict[str, set[str]] = {}
    for kind, _raw, msg in delivered:
        text, page = _parts(msg)
        text_links = set(re.findall(r"https?://[^\s<>\"')]+", text))
        page_links = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)}
        if text_links != page_links:
            mismatched[kind] = text_links ^ page_links
        amounts = re.compile(r"£[\d,]+\.\d\d")
        assert set(amounts.findall(text)) == set(amounts.findall(html.unescape(page))), kind
        assert "<b>O'Brien" not in page and "<i>brûlée" not in page, kind
        if NAME in text:
            assert html.escape(NAME, quote=False) in page.replace("&#39;", "'").replace(
                "&#34;", '"'
            ).replace("&quot;", '"'), kind
        if PRODUCT in text:
            assert "Crème &lt;i&gt;brûlée&lt;/i&gt; &amp; Über-mug 🕯️" in page, kind
        if "Zoë" in text:
            assert "Zoë" in page, kind
    assert mismatched == {}


def test_every_link_is_absolute_on_the_public_url_and_resolves(
    mail_app: Flask, delivered: list[tuple[str, bytes, EmailMessage]]
) -> None:
    seen: dict[str, str] = {}
    for kind, _raw, msg in delivered:
        _text, page = _parts(msg)
        for href in re.findall(r'href="([^"]+)"', page):
            link = html.unescape(href)
            assert link.startswith(BASE + "/"), (kind, link)
            seen.setdefault(link, kind)
    assert seen
    for link, kind in seen.items():
        parts = urlsplit(link)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = mail_app.test_client().get(path)
        if parts.path.startswith(USED_BY_THIS_TEST):
            assert response.status_code == 410, (kind, link, response.status_code)
        elif response.status_code == 302:
            assert urlsplit(response.location).path == SIGN_IN, (kind, link, response.location)
        else:
            assert response.status_code == 200, (kind, link, response.status_code)


@pytest.fixture
def opted_out(mail_app: Flask, session: Session) -> Iterator[tuple[FlaskClient, User]]:
    """A member who had weekly deals on and left through the List-Unsubscribe one-click."""
    member = factories.member(session, "leo@example.com", tier="Gold")
    session.add(CommunicationPreference(user_id=member.id, topic="weekly_deals", status="on"))
    session.commit()
    links = prefs.links_from_config(mail_app.config)
    url = links.headers(member.id, "weekly_deals")["List-Unsubscribe"].strip("<>")
    client = mail_app.test_client()
    response = client.post(
        urlsplit(url).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    yield client, member


def test_after_one_click_unsubscribe_no_marketing_but_transactional_still_go(
    mail_app: Flask,
    session: Session,
    opted_out: tuple[FlaskClient, User],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    _client, member = opted_out
    session.rollback()
    row = session.scalars(
        select(CommunicationPreference).where(CommunicationPreference.user_id == member.id)
    ).one()
    assert row.status == "off"
    order = factories.paid_order_with_address(session, number="HP-2001", email="buyer@example.com")
    order.email = member.email
    session.commit()
    links = prefs.links_from_config(mail_app.config)
    with mail_app.app_context():
        send_weekly(db.transaction, IsoWeek(2026, 48), links)
        with db.transaction() as tx:
            placed = tx.get(type(order), order.id)
            assert placed is not None
            queue_order_email(tx, placed, "order_confirmation", checkout_settings(mail_app))
            security.request_password_reset(tx, member.email or "", BASE)
    send_pending(mail_app)
    got = {(r.rcpt_tos[0], r.message["Subject"]) for r in smtp_server.wait_for(2)}
    assert got == {
        (member.email, "Your order HP-2001 is confirmed"),
        (member.email, "Reset your password"),
    }


def _outgoing(text: str, html_body: str, headers: dict[str, str] | None = None) -> Outgoing:
    return Outgoing(
        id=1,
        message_id="<abc@shop.example>",
        to_address="zoe@example.com",
        subject="Crème brûlée 🕯️ for Zoë שלום: your order of the Über-mug and more is on its way",
        text_body=text,
        html_body=html_body,
        headers=headers or {},
        attempts=0,
        created_at=datetime(2026, 11, 25, 9, 0),
    )


def test_long_and_non_ascii_lines_are_encoded_within_76_characters() -> None:
    body = "Zoë, " + "é" * 600 + "\n" + "x" * 1200 + "\n"
    raw = build_message(_outgoing(body, f"<p>{body}</p>"), "Shop <a@shop.example>").as_bytes()
    assert max(len(line) for line in raw.splitlines()) <= 76
    for word in re.findall(rb"=\?[^?]+\?[bqBQ]\?[^?]*\?=", raw):
        assert len(word) <= 75
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]).startswith("Crème brûlée 🕯️ for Zoë שלום")
    text, page = _parts(parsed)  # type: ignore[arg-type]
    assert text.replace("\r\n", "\n") == body
    assert page.replace("\r\n", "\n") == f"<p>{body}</p>\n"


def test_a_long_list_unsubscribe_url_is_sent_as_written() -> None:
    url = f"<{BASE}/preferences/unsubscribe/{'a' * 150}>"
    headers = {"List-Unsubscribe": url, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    raw = build_message(_outgoing("hi\n", "<p>hi</p>", headers), "S <a@shop.example>").as_bytes()
    assert f"List-Unsubscribe: {url}\r\n".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw


def test_every_e_mail_says_it_was_sent_by_a_program() -> None:
    msg = build_message(_outgoing("hi\n", "<p>hi</p>"), "S <a@shop.example>")
    assert msg["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(
    ("mail_from", "expected"),
    [
        ("orders@shop.example", Address("Hearth & Parcel", "orders", "shop.example")),
        ("Shop Ltd <orders@shop.example>", Address("Shop Ltd", "orders", "shop.example")),
    ],
)
def test_from_carries_the_shops_name(mail_from: str, expected: Address) -> None:
    config = {"MAIL_FROM": mail_from, "SHOP_NAME": "Hearth & Parcel", "SMTP_HOST": "h"}
    settings = SenderSettings.from_config({**config, "SMTP_PORT": 25})
    msg = build_message(_outgoing("hi\n", "<p>hi</p>"), settings.mail_from)
    assert msg["From"].addresses[0] == expected
