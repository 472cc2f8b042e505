"""`flask loyalty send-picks`: the "Personal recommendations" topic's monthly e-mail, for
members and other customers who confirmed it, only with personal picks, once per month."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.campaigns import CampaignError, SendReport
from loyalty.models import Campaign, CampaignSend, CommunicationPreference, Membership, Tier
from loyalty.picks import Month, send_picks
from loyalty.preferences import links_from_config
from shop.accounts.models import User
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from shop.recommendation_models import Impression
from tests import factories
from tests.recommendation_support import trained_buyers

MONTH = Month(2026, 11)
KEY = "picks-2026-11"


def _opt_in(
    session: Session, user: User, topic: str = "recommendations", status: str = "on"
) -> None:
    session.add(CommunicationPreference(user_id=user.id, topic=topic, status=status))


def _run(app: Flask, month: Month = MONTH) -> SendReport:
    with app.app_context():
        return send_picks(db.transaction, month, links_from_config(app.config))


def _emails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == "personal_picks")
    return list(session.scalars(query.order_by(OutboxEmail.id)))


def test_month_keys() -> None:
    assert Month.parse("2026-11").key == KEY
    assert Month.of(date(2027, 1, 31)).key == "picks-2027-01"
    assert Month(2026, 11).name == "November 2026"
    for bad in ("2026-13", "2026-00", "2026-1", "11-2026", "", "2026-W48"):
        with pytest.raises(CampaignError):
            Month.parse(bad)


def test_only_people_who_confirmed_and_have_personal_picks_get_it(
    app: Flask, session: Session
) -> None:
    buyers = trained_buyers(app, session)
    tier = Tier(name="Gold", rank=3, threshold=0)
    session.add(tier)
    session.flush()
    member = Membership(user_id=buyers[1].id, number="M1", tier_id=tier.id, terms_version="1")
    session.add(member)
    _opt_in(session, buyers[0])  # a customer, not a member
    _opt_in(session, buyers[1])  # a member
    _opt_in(session, buyers[2], status="pending")  # never confirmed
    _opt_in(session, buyers[3], topic="weekly_deals")  # another topic
    _opt_in(session, buyers[4])
    buyers[4].tracking_enabled = False  # switched personalization off
    newcomer = factories.user(session, "new@example.com", "New")
    _opt_in(session, newcomer)  # no history at all: only popular items to offer
    gone = buyers[5]
    _opt_in(session, gone)
    gone.deleted_at = utcnow()
    wanted = {buyers[0].id, buyers[1].id}
    session.commit()

    report = _run(app)
    assert (report.key, report.queued, report.skipped, report.failed) == (KEY, 2, 0, 0)
    assert report.no_picks == 2  # the newcomer and the one without personalization
    emails = _emails(session)
    assert {e.user_id for e in emails} == wanted
    assert {e.to_address for e in emails} == {"buyer0@example.com", "buyer1@example.com"}
    sends = session.scalars(select(CampaignSend.user_id)).all()
    assert set(sends) == wanted  # nobody left out is recorded as sent
    assert session.scalar(select(Campaign.kind).where(Campaign.key == KEY)) == "personal_picks"
    # Impressions only for the lists that went out, all personal.
    impressions = session.scalars(select(Impression).where(Impression.placement == "picks_email"))
    assert {(i.user_id, i.strategy) for i in impressions} == {(u, "personal") for u in wanted}


def test_the_email_has_personal_picks_with_reasons_and_a_working_unsubscribe(
    app: Flask, session: Session
) -> None:
    buyers = trained_buyers(app, session)
    _opt_in(session, buyers[0])
    ann_id = buyers[0].id
    session.commit()

    assert _run(app).queued == 1
    [email] = _emails(session)
    assert email.subject == "Picked for you: November 2026"
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = re.findall(r"/products/(\d+)\?rec=([0-9a-f]{32})&amp;cmp=([\w-]+)", email.html_body)
    assert links and {cmp for _p, _r, cmp in links} == {KEY}
    assert re.search(rf"/products/\d+\?rec=[0-9a-f]{{32}}&cmp={KEY}", email.text_body)
    assert re.search(r"Because you (bought|viewed)|Often bought with|Similar to", email.text_body)
    assert "Popular right now" not in email.text_body
    for body in (email.text_body, email.html_body):
        assert "asked for personal recommendations" in body
    rec_id = links[0][1]
    impression = session.scalar(select(Impression).where(Impression.rec_id == rec_id))
    assert impression is not None and impression.user_id == ann_id
    assert {int(p) for p, _r, _c in links} <= set(impression.product_ids)

    path = re.search(r"https?://[^/\s]+(/preferences/unsubscribe/[\w.-]+)", email.text_body)
    assert path
    assert app.test_client().post(path.group(1)).status_code == 200
    session.rollback()
    status = session.scalar(
        select(CommunicationPreference.status).where(
            CommunicationPreference.user_id == ann_id,
            CommunicationPreference.topic == "recommendations",
        )
    )
    assert status == "off"
    assert _run(app, Month(2026, 12)).queued == 0


def test_once_per_person_and_month(app: Flask, session: Session) -> None:
    buyers = trained_buyers(app, session)
    for buyer in buyers[:3]:
        _opt_in(session, buyer)
    session.commit()
    assert _run(app).queued == 3
    again = _run(app)
    assert (again.queued, again.skipped) == (0, 3)
    assert len(_emails(session)) == 3
    assert _run(app, Month(2026, 12)).queued == 3
    assert len(_emails(session)) == 6


def test_without_a_trained_model_nobody_gets_popular_items_as_personal_picks(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    factories.small_catalogue(session)
    _opt_in(session, ann)
    session.commit()
    report = _run(app)
    assert (report.queued, report.no_picks) == (0, 1)
    assert _emails(session) == []
    # Tried again next time: no send is recorded for her.
    assert session.scalar(select(CampaignSend.id)) is None


def test_cli_command(app: Flask, session: Session) -> None:
    buyers = trained_buyers(app, session)
    _opt_in(session, buyers[0])
    newcomer = factories.user(session, "new@example.com", "New")
    _opt_in(session, newcomer)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["loyalty", "send-picks", "--month", "2026-11"])
    assert result.exit_code == 0, result.output
    assert (
        f"Campaign {KEY}: 1 e-mail queued, 0 already sent, 0 failed, "
        "1 without personal picks" in result.output
    )
    result = runner.invoke(args=["loyalty", "send-picks", "--month", "2026-11"])
    assert f"Campaign {KEY}: 0 e-mails queued, 1 already sent" in result.output
    bad = runner.invoke(args=["loyalty", "send-picks", "--month", "2026-13"])
    assert bad.exit_code == 2
    assert "is not a month like 2026-11" in bad.output
    assert len(_emails(session)) == 1
