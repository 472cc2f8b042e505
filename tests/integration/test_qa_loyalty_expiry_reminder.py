"""QA of the points-expiry reminder: a member who cannot spend their points yet (fewer than
the programme's minimum) is not told to "spend them at checkout"."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty import expiry, ledger, membership, tiers
from shop.db import db
from shop.mail.models import OutboxEmail
from tests import factories

NOW = datetime(2026, 11, 23, 2, 0)


def _member_with(app: Flask, session: Session, points: int) -> None:
    user = factories.user(session, "ann@example.com")
    session.commit()
    user_id = user.id
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        member_id = membership.join(own, user_id, consent=True).membership.id
        expires = NOW + timedelta(days=10)
        ledger.append(own, member_id, points, "earn", "order:1", expires_at=expires)
    with app.app_context():
        assert expiry.expire_points(db.transaction, now=NOW).reminders == 1
    session.rollback()


def _reminder(session: Session) -> OutboxEmail:
    return session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "loyalty_points_expiring")
    ).one()


def test_too_few_points_to_spend_are_not_called_spendable(app: Flask, session: Session) -> None:
    _member_with(app, session, 120)  # the programme spends 500 points at least
    mail = _reminder(session)
    for body in (mail.text_body, mail.html_body):
        assert "Spend them at checkout before then" not in body
        assert "500" in body and "380 more" in body, body


def test_enough_points_are_still_called_spendable(app: Flask, session: Session) -> None:
    _member_with(app, session, 600)
    mail = _reminder(session)
    for body in (mail.text_body, mail.html_body):
        assert "Spend them at checkout before then" in body
