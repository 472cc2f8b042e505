"""A tier's benefits changed in the console: better perks go as news to its members who
asked for tier news; a benefit lowered or ended is told to every member of the tier."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty import tiers
from loyalty.models import Campaign, CampaignSend, CommunicationPreference, Membership, Tier
from loyalty.rules import TierSpec
from loyalty.tier_news import benefit_change
from shop.accounts.models import User
from shop.console.models import AuditEntry
from shop.db import utcnow
from shop.mail.models import OutboxEmail
from tests.console_support import client_as, console_token
from tests.web.page_forms import read_form

GOLD = TierSpec("Gold", 3, 50_000, discount_bp=500, multiplier_pct=150, free_shipping=True)
# The console form of the default Gold tier, as it is.
GOLD_FORM = {
    "name": "Gold",
    "rank": "3",
    "threshold": "500.00",
    "discount": "5",
    "multiplier": "1.5",
    "free_shipping": "y",
}


def test_what_changed_is_put_in_words() -> None:
    better = benefit_change(GOLD, TierSpec("Gold", 3, 50_000, 750, 200, True, True, False))
    assert better.better == (
        "7.5% off every order (was 5%)",
        "2x points on every order (was 1.5x)",
        "Priority support",
    )
    assert better.worse == () and better.old_name is None and better.worth_telling

    worse = benefit_change(GOLD, TierSpec("Gold", 3, 50_000, 0, 125, False))
    assert worse.better == ()
    assert worse.worse == (
        "No discount on orders any more (was 5%)",
        "1.25x points on every order (was 1.5x)",
        "Free standard delivery: ended",
    )
    new_discount = benefit_change(TierSpec("Member", 1, 0), TierSpec("Member", 1, 0, 200))
    assert new_discount.better == ("2% off every order",)

    renamed = benefit_change(GOLD, TierSpec("Gold Star", 3, 50_000, 500, 150, True))
    assert (renamed.better, renamed.worse, renamed.old_name) == ((), (), "Gold")
    assert renamed.worth_telling
    # The threshold and the rank are not benefits: nothing to tell.
    assert not benefit_change(GOLD, TierSpec("Gold", 4, 90_000, 500, 150, True)).worth_telling


def _programme(session: Session) -> dict[str, Any]:
    """The default tiers, four Gold members and one Silver member, with their preferences."""
    ids = {t.name: t.id for t in tiers.ensure_default_tiers(session)}
    people: dict[str, Any] = {}
    for n, (email, tier, news, status) in enumerate(
        (
            ("ann@example.com", "Gold", "on", "active"),
            ("bob@example.com", "Gold", None, "active"),
            ("cat@example.com", "Gold", "pending", "active"),
            ("dan@example.com", "Gold", "on", "cancelled"),
            ("sil@example.com", "Silver", "on", "active"),
            ("gone@example.com", "Gold", "on", "active"),
        )
    ):
        user = User(email=email, name=email.split("@")[0].title(), password_hash="x")
        session.add(user)
        session.flush()
        session.add(
            Membership(
                user_id=user.id,
                number=f"M{n:05d}",
                tier_id=ids[tier],
                status=status,
                terms_version="1",
            )
        )
        if news:
            session.add(CommunicationPreference(user_id=user.id, topic="tier_news", status=news))
        people[email.split("@")[0]] = user.id
    gone = session.get(User, people["gone"])
    assert gone is not None
    gone.deleted_at = utcnow()
    session.commit()
    return {"tiers": ids, **people}


def _opened(admin: FlaskClient, url: str) -> str:
    """What the tier's page says it shows, as its form sends it."""
    return read_form(admin.get(url).get_data(as_text=True)).values["opened"]


def _save_gold(admin: FlaskClient, ids: dict[str, Any], **changes: str) -> str:
    """Save Gold with the changes, confirming the review page if it shows one; returns the
    review page and the page after saving, together."""
    token = console_token(admin, "/console/loyalty/")
    data = {**GOLD_FORM, **changes}
    data = {k: v for k, v in data.items() if v != ""}
    url = f"/console/loyalty/tiers/{ids['tiers']['Gold']}"
    data["opened"] = _opened(admin, url)
    response = admin.post(url, data={"csrf_token": token, **data}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    review = response.get_data(as_text=True)
    if 'data-testid="change-review"' not in review:
        return review
    carried = read_form(review).values
    assert {k: v for k, v in carried.items() if k in data} == data  # carried over unchanged
    response = admin.post(url, data={**carried, "confirm": "1"}, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    return review + response.get_data(as_text=True)


def _emails(session: Session, kind: str) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == kind).order_by(OutboxEmail.id)
    return list(session.scalars(query))


def test_a_better_tier_is_news_for_members_who_asked_for_it(app: Flask, session: Session) -> None:
    ids = _programme(session)
    admin = client_as(app, session, "admin")
    page = _save_gold(admin, ids, discount="7.5", priority_support="y")
    assert "What 1 member will be told by e-mail" in page
    assert "e-mails the members of Gold who asked for tier news" in page
    assert "<li>New or better: 7.5% off every order (was 5%)</li>" in page
    assert "Tier Gold saved. 1 member told by e-mail." in page

    [email] = _emails(session, "tier_news")
    assert (email.to_address, email.user_id) == ("ann@example.com", ids["ann"])
    assert email.subject == "News about your tier: Gold"
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    for body in (email.text_body, email.html_body):
        assert "New or better" in body and "Reduced or ended" not in body
        assert "7.5% off every order (was 5%)" in body
        assert "Priority support" in body
        assert "Free standard delivery" in body  # in the full list of benefits now
        assert "asked for tier news" in body and "/preferences/unsubscribe/" in body
    campaign = session.scalar(select(Campaign).where(Campaign.kind == "tier_news"))
    assert campaign is not None and campaign.key.startswith(f"tier-{ids['tiers']['Gold']}-")
    assert f"/account/loyalty?cmp={campaign.key}" in email.text_body
    send = session.scalar(select(CampaignSend))
    assert send is not None and (send.user_id, send.outbox_email_id) == (ids["ann"], email.id)
    assert _emails(session, "loyalty_tier_benefits") == []
    # The console's campaigns page lists it.
    assert campaign.key in admin.get("/console/campaigns/").get_data(as_text=True)


def test_a_benefit_taken_away_is_told_to_every_member_of_the_tier(
    app: Flask, session: Session
) -> None:
    ids = _programme(session)
    page = _save_gold(client_as(app, session, "admin"), ids, free_shipping="", multiplier="2")
    assert "e-mails every member of Gold, whatever their marketing preferences" in page
    assert "<li>Reduced or ended: Free standard delivery: ended</li>" in page
    assert "Save and e-mail 3 members" in page
    assert "Tier Gold saved. 3 members told by e-mail." in page

    emails = _emails(session, "loyalty_tier_benefits")
    # Every active member of Gold with an address, whatever their marketing choices.
    assert {e.user_id for e in emails} == {ids["ann"], ids["bob"], ids["cat"]}
    email = emails[0]
    assert email.subject == "Changes to your Gold benefits"
    assert "List-Unsubscribe" not in (email.headers or {})
    for body in (email.text_body, email.html_body):
        assert "Free standard delivery: ended" in body
        assert "2x points on every order (was 1.5x)" in body  # told together with the loss
        assert "not marketing" in body and "/preferences/unsubscribe/" not in body
    assert _emails(session, "tier_news") == []
    assert session.scalar(select(Campaign.id)) is None


def test_nothing_is_saved_or_sent_before_the_review_is_confirmed(
    app: Flask, session: Session
) -> None:
    ids = _programme(session)
    admin = client_as(app, session, "admin")
    token = console_token(admin, "/console/loyalty/")
    url = f"/console/loyalty/tiers/{ids['tiers']['Gold']}"
    data = {**GOLD_FORM, "discount": "2", "csrf_token": token, "opened": _opened(admin, url)}
    review = admin.post(url, data=data)
    assert review.status_code == 200
    assert "What 3 members will be told by e-mail" in review.get_data(as_text=True)
    carried = read_form(review.get_data(as_text=True)).values
    back = admin.post(url, data={**carried, "edit": "1"})
    assert back.status_code == 200
    assert read_form(back.get_data(as_text=True)).values["discount"] == "2"
    session.rollback()
    gold = session.get(Tier, ids["tiers"]["Gold"])
    assert gold is not None and gold.discount_bp == 500
    assert _emails(session, "loyalty_tier_benefits") == [] and _emails(session, "tier_news") == []
    assert (
        session.scalar(select(AuditEntry.id).where(AuditEntry.action.like("loyalty.tier%"))) is None
    )


def test_no_email_when_members_would_not_notice(app: Flask, session: Session) -> None:
    ids = _programme(session)
    page = _save_gold(client_as(app, session, "admin"), ids, threshold="600")
    assert "Tier Gold saved." in page and "told by e-mail" not in page
    assert _emails(session, "tier_news") == [] and _emails(session, "loyalty_tier_benefits") == []


def test_a_refused_change_sends_nothing(app: Flask, session: Session) -> None:
    ids = _programme(session)
    admin = client_as(app, session, "admin")
    token = console_token(admin, "/console/loyalty/")
    url = f"/console/loyalty/tiers/{ids['tiers']['Gold']}"
    data = {**GOLD_FORM, "threshold": "50", "discount": "9", "csrf_token": token}  # overlaps
    response = admin.post(url, data={**data, "opened": _opened(admin, url)})
    assert response.status_code == 400
    assert "Thresholds overlap" in response.get_data(as_text=True)
    assert _emails(session, "tier_news") == [] and _emails(session, "loyalty_tier_benefits") == []
