"""`flask loyalty expire-points`: FIFO expiry once per day, reminders once per member and date."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import expiry, ledger, membership, tiers
from loyalty.models import LoyaltyNotice, Membership, PointsEntry
from shop.accounts.models import User
from shop.db import db
from shop.mail.models import OutboxEmail
from tests import factories

NOW = datetime(2026, 11, 23, 2, 0)


def _member(app: Flask, session: Session, email: str = "ann@example.com") -> int:
    session.rollback()
    user = factories.user(session, email)
    session.commit()
    user_id = user.id
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        return membership.join(own, user_id, consent=True).membership.id


def _earn(session: Session, member_id: int, points: int, ref: str, expires: datetime) -> None:
    session.rollback()
    ledger.append(session, member_id, points, "earn", ref, expires_at=expires)
    session.commit()


def _run(app: Flask, at: datetime = NOW) -> expiry.ExpiryResult:
    with app.app_context():
        return expiry.expire_points(db.transaction, now=at)


def _balance(session: Session, member_id: int) -> int:
    session.rollback()
    member = session.get(Membership, member_id)
    assert member is not None
    assert member.points_balance == ledger.balance(session, member_id)
    return member.points_balance


def test_expired_points_leave_the_balance_once(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    _earn(session, member_id, 100, "order:1", NOW - timedelta(days=1))
    _earn(session, member_id, 40, "order:2", NOW + timedelta(days=300))
    result = _run(app)
    assert (result.expired_members, result.expired_points) == (1, 100)
    assert _balance(session, member_id) == 40
    [entry] = session.scalars(select(PointsEntry).where(PointsEntry.reason == "expire"))
    assert entry.points == -100 and entry.reference == "expire:2026-11-23"
    again = _run(app, NOW + timedelta(hours=5))  # the same day
    assert again.expired_points == 0
    later = _run(app, NOW + timedelta(days=3))  # another day: nothing new has expired
    assert later.expired_points == 0
    assert _balance(session, member_id) == 40


def test_points_already_spent_are_not_expired(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    _earn(session, member_id, 100, "order:1", NOW - timedelta(days=1))
    _earn(session, member_id, 50, "order:2", NOW + timedelta(days=300))
    session.rollback()
    ledger.append(session, member_id, -70, "redeem", "order:3")
    session.commit()
    assert _run(app).expired_points == 30  # the redemption used the oldest points first
    assert _balance(session, member_id) == 50


def test_a_reminder_is_sent_once_per_member_and_date(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    soon = NOW + timedelta(days=20)
    _earn(session, member_id, 120, "order:1", soon)
    _earn(session, member_id, 30, "order:2", soon + timedelta(hours=3))
    _earn(session, member_id, 99, "order:3", NOW + timedelta(days=200))  # not yet
    assert _run(app).reminders == 1
    assert _run(app, NOW + timedelta(days=1)).reminders == 0
    session.rollback()
    [mail] = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "loyalty_points_expiring")
    )
    assert mail.to_address == "ann@example.com"
    expected = f"150 points expire on {soon:%d %b %Y}"  # as the points history writes dates
    assert mail.subject == expected and f"expire on {soon:%d %b %Y}." in mail.text_body
    notices = session.scalar(select(func.count()).select_from(LoyaltyNotice))
    assert notices == 1


def test_no_reminder_for_points_already_spent(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    _earn(session, member_id, 100, "order:1", NOW + timedelta(days=10))
    _earn(session, member_id, 100, "order:2", NOW + timedelta(days=400))
    session.rollback()
    ledger.append(session, member_id, -100, "redeem", "order:3")
    session.commit()
    assert _run(app).reminders == 0


def test_members_without_an_email_get_no_reminder(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    _earn(session, member_id, 100, "order:1", NOW + timedelta(days=10))
    session.rollback()
    user = session.scalar(select(User))
    assert user is not None
    user.email = None
    session.commit()
    assert _run(app).reminders == 0


def test_the_command(app: Flask, session: Session) -> None:
    member_id = _member(app, session)
    _earn(session, member_id, 100, "order:1", NOW - timedelta(days=1))
    result = app.test_cli_runner().invoke(
        args=["loyalty", "expire-points", "--at", "2026-11-23T02:00"]
    )
    assert result.exit_code == 0, result.output
    assert "100 points expired for 1 member;" in result.output
