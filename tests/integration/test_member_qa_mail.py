"""QA of what members read in their e-mails."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.campaigns import IsoWeek, send_weekly
from loyalty.models import CommunicationPreference, Membership, Tier
from loyalty.preferences import links_from_config
from shop.db import db
from shop.mail.models import OutboxEmail
from tests import factories


def test_the_weekly_deals_write_a_large_points_balance_as_every_other_e_mail_does(
    app: Flask, session: Session
) -> None:
    tier = Tier(name="Gold", rank=3, threshold=50_000)
    session.add(tier)
    session.flush()
    account = factories.user(session, "gina@example.com", "Gina")
    session.add(
        Membership(
            user_id=account.id,
            number="M000001",
            tier_id=tier.id,
            status="active",
            points_balance=12_345,
            terms_version="2026-11",
        )
    )
    session.add(CommunicationPreference(user_id=account.id, topic="weekly_deals", status="on"))
    session.commit()
    with app.app_context():
        send_weekly(db.transaction, IsoWeek(2026, 48), links_from_config(app.config))
    session.rollback()
    (email,) = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "weekly_deals"))
    assert "Member M000001 · 12,345 points." in email.text_body
    assert "Member M000001 · 12,345 points." in email.html_body
    assert "12345" not in email.text_body + email.html_body
