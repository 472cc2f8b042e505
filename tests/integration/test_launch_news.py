"""`flask loyalty announce-launches`: members whose tier has early access, and who confirmed
tier news, are e-mailed once per product when its early access opens."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.launch_news import LaunchReport, announce_launches, when_everyone
from loyalty.models import (
    Campaign,
    CampaignSend,
    CommunicationPreference,
    LaunchAnnouncement,
    Membership,
    Tier,
)
from loyalty.preferences import links_from_config, opt_out
from loyalty.settings import load_settings, save_settings
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from tests import factories

NOW = datetime(2026, 11, 24, 12, 0)


def _tiers(session: Session) -> dict[str, Tier]:
    tiers = {
        "Gold": Tier(name="Gold", rank=3, threshold=50_000),
        "Platinum": Tier(name="Platinum", rank=4, threshold=150_000, early_access=True),
    }
    session.add_all(tiers.values())
    session.flush()
    return tiers


def _member(
    session: Session, email: str, tier: Tier, news: str | None = "on", status: str = "active"
) -> User:
    account = factories.user(session, email, email.split("@")[0].capitalize())
    session.add(
        Membership(
            user_id=account.id,
            number=f"M{account.id:06d}",
            tier_id=tier.id,
            status=status,
            terms_version="2026-11",
        )
    )
    if news is not None:
        session.add(CommunicationPreference(user_id=account.id, topic="tier_news", status=news))
    session.flush()
    return account


def _product(
    session: Session, sku: str, launch_in_hours: float | None, now: datetime, **kw: Any
) -> Product:
    product = factories.product(session, None, sku=sku, name=f"Lantern {sku}", price=1250, **kw)
    if launch_in_hours is not None:
        product.launches_at = now + timedelta(hours=launch_in_hours)
    session.flush()
    return product


def _run(app: Flask, now: datetime = NOW) -> LaunchReport:
    with app.app_context():
        return announce_launches(db.transaction, links_from_config(app.config), now=now)


def _emails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == "early_access").order_by(OutboxEmail.id)
    return list(session.scalars(query))


def _shop(session: Session, now: datetime = NOW) -> dict[str, Any]:
    """Platinum (early access) and Gold members, and products around the 48-hour window."""
    tiers = _tiers(session)
    people = {
        "ann": _member(session, "ann@example.com", tiers["Platinum"]),
        "bob": _member(session, "bob@example.com", tiers["Platinum"], news="pending"),
        "cat": _member(session, "cat@example.com", tiers["Gold"]),
        "dan": _member(session, "dan@example.com", tiers["Platinum"], status="cancelled"),
        "eve": _member(session, "eve@example.com", tiers["Platinum"], news=None),
    }
    products = {
        "soon": _product(session, "SOON", 10, now),
        "later": _product(session, "LATER", 100, now),
        "launched": _product(session, "PAST", -1, now),
        "always": _product(session, "PLAIN", None, now),
        "inactive": _product(session, "OFF", 10, now, active=False),
        "sold_out": _product(session, "GONE", 10, now, stock=0),
    }
    session.commit()
    return {"tiers": tiers, "people": people, "products": products}


def test_members_with_early_access_who_asked_for_tier_news_hear_of_a_product_once(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    soon = shop["products"]["soon"]

    report = _run(app)

    assert report.announced == 1
    assert [(r.queued, r.failed) for r in report.sends] == [(1, 0)]
    (mail,) = _emails(session)
    assert mail.to_address == "ann@example.com"
    assert mail.subject == "Early access: Lantern SOON"
    key = session.scalar(select(Campaign.key).where(Campaign.kind == "early_access"))
    assert key is not None and key.startswith("early-")
    assert f"/products/{soon.id}?cmp={key}" in mail.text_body
    assert f"On sale to everyone from {when_everyone(NOW + timedelta(hours=10))}" in (
        mail.text_body
    )
    assert "24 November 2026, 22:00 UTC" in mail.text_body
    assert f"/early-access?cmp={key}" in mail.text_body
    assert f"/early-access?cmp={key}" in (mail.html_body or "")
    assert "£12.50" in mail.text_body and "Platinum member" in mail.text_body
    assert "/preferences/unsubscribe/" in mail.text_body
    assert "List-Unsubscribe" in (mail.headers or {})
    for other in ("LATER", "PAST", "PLAIN", "OFF", "GONE"):
        assert f"Lantern {other}" not in mail.text_body
    assert "Lantern SOON" in (mail.html_body or "")
    assert session.scalars(select(LaunchAnnouncement.product_id)).all() == [soon.id]

    # Run again (the job runs hourly): nobody is told twice, nothing is announced again.
    again = _run(app, NOW + timedelta(hours=1))
    assert again.announced == 0
    assert [(r.queued, r.skipped) for r in again.sends] == [(0, 1)]
    assert len(_emails(session)) == 1


def test_a_member_who_gains_early_access_before_the_launch_is_told_on_the_next_run(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    _run(app)
    fay = _member(session, "fay@example.com", shop["tiers"]["Platinum"])
    session.commit()

    report = _run(app, NOW + timedelta(hours=2))

    assert report.announced == 0
    assert [r.queued for r in report.sends] == [1]
    assert [m.to_address for m in _emails(session)] == ["ann@example.com", fay.email]
    # After the launch the campaign is closed: a member joining then hears nothing of it.
    _member(session, "gus@example.com", shop["tiers"]["Platinum"])
    session.commit()
    assert _run(app, NOW + timedelta(hours=11)).sends == ()
    assert len(_emails(session)) == 2


def test_products_whose_window_opens_later_go_in_a_new_campaign(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    _run(app)
    later = shop["products"]["later"]

    # 100 hours to launch with a 48-hour window: it opens 52 hours from now.
    assert _run(app, NOW + timedelta(hours=51)).announced == 0
    report = _run(app, NOW + timedelta(hours=53))

    assert report.announced == 1 and [r.queued for r in report.sends] == [1]
    first, second = _emails(session)
    assert first.subject == "Early access: Lantern SOON"
    assert second.subject == "Early access: Lantern LATER"
    assert f"/products/{later.id}?cmp=" in second.text_body
    assert "Lantern SOON" not in second.text_body  # launched to everyone by then
    assert (
        session.scalar(
            select(LaunchAnnouncement.product_id)
            .order_by(LaunchAnnouncement.created_at.desc())
            .limit(1)
        )
        == later.id
    )


def test_the_window_follows_the_programme_setting_and_several_products_share_an_e_mail(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    save_settings(session, replace(load_settings(session), early_access_hours=120))
    session.commit()

    report = _run(app)

    assert report.announced == 2  # SOON (10 hours) and LATER (100 hours)
    (mail,) = _emails(session)
    assert mail.subject == "Early access: 2 new products"
    names = re.findall(r"^- (Lantern \w+)", mail.text_body, re.MULTILINE)
    assert names == ["Lantern SOON", "Lantern LATER"]  # launching first comes first
    assert {p for p in session.scalars(select(LaunchAnnouncement.product_id))} == {
        shop["products"]["soon"].id,
        shop["products"]["later"].id,
    }


def test_a_product_taken_off_sale_after_its_announcement_is_left_out(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    _run(app)
    session.get(Product, shop["products"]["soon"].id).active = False  # type: ignore[union-attr]
    _member(session, "fay@example.com", shop["tiers"]["Platinum"])
    session.commit()

    assert _run(app, NOW + timedelta(hours=1)).sends == ()
    assert len(_emails(session)) == 1
    assert (
        session.scalar(select(CampaignSend.id).join(User).where(User.email == "fay@example.com"))
        is None
    )


def test_unsubscribing_from_tier_news_withdraws_a_queued_announcement(
    app: Flask, session: Session
) -> None:
    shop = _shop(session)
    _run(app)
    with app.app_context():
        assert opt_out(session, shop["people"]["ann"].id, "tier_news", "test")
    session.commit()

    (mail,) = _emails(session)
    assert mail.status != "pending"


def test_the_command_reports_what_it_did(app: Flask, session: Session) -> None:
    _shop(session, utcnow())

    result = app.test_cli_runner().invoke(args=["loyalty", "announce-launches"])

    assert result.exit_code == 0, result.output
    assert "1 product newly in early access; 1 campaign sent: 1 e-mail queued" in (result.output)
    assert "campaign early-" in result.output
