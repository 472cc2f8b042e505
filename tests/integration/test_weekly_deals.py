"""`flask loyalty send-weekly`: only confirmed, active members; once per member per week;
personal picks with reasons, tier perks, campaign links and List-Unsubscribe headers."""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import campaigns
from loyalty.campaigns import IsoWeek, send_weekly
from loyalty.models import Campaign, CampaignSend, CommunicationPreference, Membership, Tier
from loyalty.preferences import links_from_config
from shop.accounts.models import User
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.recommendation_models import Impression
from tests import factories
from tests.recommendation_support import trained_buyers

WEEK = IsoWeek(2026, 48)
KEY = "weekly-2026-W48"


def _tier(session: Session, **benefits: Any) -> Tier:
    tier = Tier(name="Gold", rank=3, threshold=50_000, **benefits)
    session.add(tier)
    session.flush()
    return tier


def _member(
    session: Session,
    email: str,
    tier: Tier,
    *,
    weekly: str | None = "on",
    status: str = "active",
    user: User | None = None,
) -> User:
    account = user or factories.user(session, email, email.split("@")[0].capitalize())
    session.add(
        Membership(
            user_id=account.id,
            number=f"M{account.id:06d}",
            tier_id=tier.id,
            status=status,
            points_balance=420,
            terms_version="2026-11",
        )
    )
    if weekly is not None:
        _preference(session, account, weekly)
    session.flush()
    return account


def _preference(session: Session, account: User, status: str) -> None:
    session.add(CommunicationPreference(user_id=account.id, topic="weekly_deals", status=status))


def _run(app: Flask, week: IsoWeek = WEEK, **kwargs: Any) -> campaigns.SendReport:
    with app.app_context():
        return send_weekly(db.transaction, week, links_from_config(app.config), **kwargs)


def _emails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    return list(
        session.scalars(
            select(OutboxEmail).where(OutboxEmail.kind == "weekly_deals").order_by(OutboxEmail.id)
        )
    )


def _sends(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(CampaignSend)) or 0


def test_week_keys() -> None:
    assert IsoWeek.parse("2026-W48").key == KEY
    assert IsoWeek.of(date(2027, 1, 1)).key == "weekly-2026-W53"
    assert IsoWeek.of(date(2026, 1, 5)).key == "weekly-2026-W02"
    for bad in ("2026-48", "2026-W60", "2025-W53", "W48", "2026-W4", ""):
        with pytest.raises(campaigns.CampaignError):
            IsoWeek.parse(bad)


def test_only_confirmed_active_members_get_it(app: Flask, session: Session) -> None:
    tier = _tier(session)
    ann = _member(session, "ann@example.com", tier)
    _member(session, "pending@example.com", tier, weekly="pending")
    _member(session, "off@example.com", tier, weekly="off")
    _member(session, "silent@example.com", tier, weekly=None)
    _member(session, "lapsed@example.com", tier, status="cancelled")
    outsider = factories.user(session, "outsider@example.com", "Outsider")
    _preference(session, outsider, "on")  # opted in, but not a member
    other_topic = _member(session, "tier@example.com", tier, weekly=None)
    session.add(CommunicationPreference(user_id=other_topic.id, topic="tier_news", status="on"))
    ann_id = ann.id
    session.commit()

    report = _run(app)
    assert (report.key, report.queued, report.skipped, report.failed) == (KEY, 1, 0, 0)
    [email] = _emails(session)
    assert email.to_address == "ann@example.com"
    assert email.user_id == ann_id
    send = session.scalar(select(CampaignSend))
    assert send is not None and send.user_id == ann_id and send.outbox_email_id == email.id
    assert session.scalar(select(Campaign.kind).where(Campaign.key == KEY)) == "weekly_deals"


def test_rerun_sends_nothing_twice(app: Flask, session: Session) -> None:
    tier = _tier(session)
    for n in range(5):
        _member(session, f"m{n}@example.com", tier)
    session.commit()
    first = _run(app, batch_size=2)  # three batches, committed one by one
    assert first.queued == 5
    again = _run(app, batch_size=2)
    assert (again.queued, again.skipped) == (0, 5)  # all five were sent by the first run
    assert _sends(session) == 5
    assert len(_emails(session)) == 5
    # A newly confirmed member gets it on the next run; the others still do not.
    _member(session, "late@example.com", tier)
    session.commit()
    assert _run(app).queued == 1
    assert len(_emails(session)) == 6
    # Another week is another campaign.
    assert _run(app, IsoWeek(2026, 49)).queued == 6
    assert _sends(session) == 12


def test_a_racing_run_is_stopped_by_the_unique_constraint(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that read its recipients before another run committed still sends nothing
    twice: the (campaign, user) constraint decides, not the earlier check."""
    tier = _tier(session)
    for n in range(3):
        _member(session, f"m{n}@example.com", tier)
    session.commit()
    assert _run(app).queued == 3

    def without_the_check(_mailing: Any, _campaign_id: int, after: int, limit: int | None) -> Any:
        return (
            select(
                User.id,
                User.email,
                User.name,
                Membership.number,
                Membership.tier_id,
                Membership.points_balance,
                User.tracking_enabled,
            )
            .join(Membership, Membership.user_id == User.id)
            .where(User.id > after)
            .order_by(User.id)
            .limit(limit)
        )

    monkeypatch.setattr(campaigns, "_recipients", without_the_check)
    report = _run(app)
    assert (report.queued, report.skipped) == (0, 3)
    assert _sends(session) == 3
    assert len(_emails(session)) == 3


def test_two_runs_at_once_send_each_member_once(app: Flask, session: Session) -> None:
    tier = _tier(session)
    for n in range(30):
        _member(session, f"m{n}@example.com", tier)
    session.commit()
    reports: list[campaigns.SendReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(_run(app, batch_size=4))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.queued for r in reports) == 30
    assert _sends(session) == 30
    emails = _emails(session)
    assert len(emails) == 30
    assert len({e.to_address for e in emails}) == 30
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1


def test_email_links_headers_and_perks(app: Flask, session: Session) -> None:
    tier = _tier(session, discount_bp=500, multiplier_pct=150, free_shipping=True)
    ann = _member(session, "ann@example.com", tier)
    ann_id = ann.id
    session.commit()
    _run(app)
    [email] = _emails(session)
    assert email.subject == "Your weekly deals: week 48"
    unsubscribe = email.headers["List-Unsubscribe"][1:-1]
    assert unsubscribe.startswith("http://127.0.0.1:5000/preferences/unsubscribe/")
    assert unsubscribe in email.text_body  # the same link as the body's
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for body in (email.text_body, email.html_body):
        assert "Gold" in body
        assert "5% off every order" in body
        assert "1.5x points on every order" in body
        assert "Free standard delivery" in body
        assert "/preferences/unsubscribe/" in body
        assert f"/?cmp={KEY}" in body
    # The unsubscribe link in the body works with one click.
    path = re.search(r"https?://[^/\s]+(/preferences/unsubscribe/[\w.-]+)", email.text_body)
    assert path
    client = app.test_client()
    assert client.post(path.group(1)).status_code == 200
    session.rollback()
    status = session.scalar(
        select(CommunicationPreference.status).where(CommunicationPreference.user_id == ann_id)
    )
    assert status == "off"
    assert _run(app, IsoWeek(2026, 49)).queued == 0  # unsubscribed: nothing next week


def _trained_shop_member(app: Flask, session: Session, *, personalized: bool = True) -> int:
    """Eight shoppers with a history and a trained model; the first one is an opted-in
    member (with personalization on or off). Returns that member's user id."""
    buyers = trained_buyers(app, session)
    tier = _tier(session)
    buyer = session.get(User, buyers[0].id)
    assert buyer is not None
    buyer.tracking_enabled = personalized
    _member(session, "", tier, user=buyer)
    session.commit()
    return buyer.id


def test_personal_picks_with_reasons_when_a_model_is_trained(app: Flask, session: Session) -> None:
    buyer_id = _trained_shop_member(app, session)

    assert _run(app).queued == 1
    [email] = _emails(session)
    links = re.findall(r"/products/(\d+)\?rec=([0-9a-f]{32})&amp;cmp=([\w-]+)", email.html_body)
    assert links, email.html_body
    assert {cmp for _p, _r, cmp in links} == {KEY}
    assert re.search(rf"/products/\d+\?rec=[0-9a-f]{{32}}&cmp={KEY}", email.text_body)
    # Reasons are the shop's texts with product names, e.g. "Because you bought ...".
    assert re.search(
        r"Because you (bought|viewed)|shoppers? who liked|Often bought with|Similar to",
        email.text_body,
    )
    # The list shown is logged as an impression for the member, in the same transaction.
    rec_id = links[0][1]
    impression = session.scalar(select(Impression).where(Impression.rec_id == rec_id))
    assert impression is not None and impression.user_id == buyer_id
    assert impression.placement == "weekly_email"
    shown = {int(p) for p, _r, _c in links}
    assert shown <= set(impression.product_ids)


def test_a_member_who_switched_personalization_off_gets_popular_picks(
    app: Flask, session: Session
) -> None:
    _trained_shop_member(app, session, personalized=False)

    assert _run(app).queued == 1
    [email] = _emails(session)
    assert "Popular right now" in email.text_body
    assert not re.search(r"Because you|shoppers? who liked|Buy it again", email.text_body)
    rec_id = re.findall(r"\?rec=([0-9a-f]{32})", email.text_body)[0]
    impression = session.scalar(select(Impression).where(Impression.rec_id == rec_id))
    assert impression is not None and impression.strategy == "popular"
    assert impression.user_id is None  # not linked to the person, as on the website


def test_cli_command(app: Flask, session: Session) -> None:
    tier = _tier(session)
    _member(session, "ann@example.com", tier)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["loyalty", "send-weekly", "--week", "2026-W48"])
    assert result.exit_code == 0, result.output
    assert f"Campaign {KEY}: 1 e-mail queued, 0 already sent" in result.output
    result = runner.invoke(args=["loyalty", "send-weekly", "--week", "2026-W48"])
    assert f"Campaign {KEY}: 0 e-mails queued, 1 already sent" in result.output
    bad = runner.invoke(args=["loyalty", "send-weekly", "--week", "2026-W99"])
    assert bad.exit_code == 2
    assert "has no week 99" in bad.output
    help_text = runner.invoke(args=["loyalty", "send-weekly", "--help"]).output
    assert "--week" in help_text and "confirmed" in help_text
    assert len(_emails(session)) == 1
