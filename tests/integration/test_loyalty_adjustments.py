"""Points adjusted by hand: ledger, balance, expiry, audit and the member's e-mail move
together; a debit never overdraws; a form sent twice adjusts once; closed memberships and
bad numbers are refused with a message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import member_admin
from loyalty.member_admin import MemberAdminError, adjust_points, find_members
from loyalty.models import Membership, PointsEntry
from shop.accounts.models import User
from shop.console.audit import Actor
from shop.console.models import AuditEntry
from shop.mail.models import OutboxEmail
from tests import factories

ACTOR = Actor(None, "admin@example.com")
KEY = "0123456789abcdef"
NOW = datetime(2026, 11, 24, 12, 0)


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():  # the member's e-mail links to the shop's address
        yield


def _membership(session: Session, email: str = "mia@example.com", points: int = 0) -> Membership:
    user = factories.member(session, email, points=points)
    return session.scalars(select(Membership).where(Membership.user_id == user.id)).one()


def _adjustments(session: Session, member: Membership) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry).where(
                PointsEntry.membership_id == member.id, PointsEntry.reference.like("console:%")
            )
        )
    )


def test_a_credit_is_ledgered_expires_like_earned_points_is_audited_and_told(
    session: Session,
) -> None:
    member = _membership(session, points=100)
    done = adjust_points(
        session, ACTOR, member.id, 250, "  Sorry for the late parcel ", KEY, now=NOW
    )
    session.commit()

    assert done.balance == 350 and not done.repeated and done.member_told
    assert session.get(Membership, member.id).points_balance == 350
    (entry,) = _adjustments(session, member)
    assert (entry.points, entry.reason, entry.description) == (
        250,
        "adjust",
        "Sorry for the late parcel",
    )
    assert entry.expires_at == datetime(2028, 11, 24, 12, 0)  # the default 24 months
    audit = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "loyalty.points_adjust")
    ).one()
    assert audit.actor_email == "admin@example.com" and audit.target == f"member {member.number}"
    assert audit.before == {"balance": 100}
    assert audit.after == {"balance": 350, "points": 250, "note": "Sorry for the late parcel"}
    mail = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "loyalty_points_adjusted")
    ).one()
    assert mail.to_address == "mia@example.com"
    assert mail.subject == "We added 250 points to your account"
    assert "Why: Sorry for the late parcel" in mail.text_body
    assert "Your points balance is now 350 points." in mail.text_body
    assert "Sorry for the late parcel" in mail.html_body


def test_a_debit_never_overdraws_and_leaves_nothing_behind(session: Session) -> None:
    member = _membership(session, points=100)
    with pytest.raises(MemberAdminError, match="has 100 points"):
        adjust_points(session, ACTOR, member.id, -101, "Correction", KEY, now=NOW)
    session.rollback()
    assert session.get(Membership, member.id).points_balance == 100
    assert _adjustments(session, member) == []
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0

    done = adjust_points(session, ACTOR, member.id, -100, "Correction", KEY, now=NOW)
    session.commit()
    assert done.balance == 0
    (entry,) = _adjustments(session, member)
    assert entry.points == -100 and entry.expires_at is None
    mail = session.scalars(select(OutboxEmail)).one()
    assert mail.subject == "We took 100 points off your account"


def test_the_same_form_sent_twice_adjusts_once(session: Session) -> None:
    member = _membership(session)
    adjust_points(session, ACTOR, member.id, 40, "Goodwill", KEY, now=NOW)
    session.commit()
    again = adjust_points(session, ACTOR, member.id, 40, "Goodwill", KEY, now=NOW)
    session.commit()
    assert again.repeated and again.balance == 40
    assert len(_adjustments(session, member)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 1
    other = adjust_points(session, ACTOR, member.id, 40, "Goodwill", "fedcba9876543210", now=NOW)
    session.commit()
    assert not other.repeated and other.balance == 80


@pytest.mark.parametrize(
    ("points", "note", "key", "message"),
    [
        (0, "Goodwill", KEY, "from 1 to 1,000,000"),
        (1_000_001, "Goodwill", KEY, "from 1 to 1,000,000"),
        (5, "   ", KEY, "Say why"),
        (5, "Goodwill", "not-a-key", "out of date"),
    ],
)
def test_bad_adjustments_are_refused(
    session: Session, points: int, note: str, key: str, message: str
) -> None:
    member = _membership(session)
    with pytest.raises(MemberAdminError, match=message):
        adjust_points(session, ACTOR, member.id, points, note, key, now=NOW)
    session.rollback()
    assert _adjustments(session, member) == []


def test_a_closed_membership_cannot_be_adjusted(session: Session) -> None:
    member = _membership(session)
    member.status = "closed"
    session.commit()
    assert member_admin.active_member(session, member.id) is None
    with pytest.raises(MemberAdminError, match="closed"):
        adjust_points(session, ACTOR, member.id, 5, "Goodwill", KEY, now=NOW)


def test_adjustments_never_count_towards_a_tier(session: Session) -> None:
    from loyalty import tiers
    from loyalty.settings import ProgrammeSettings

    member = _membership(session)
    adjust_points(session, ACTOR, member.id, 900_000, "Goodwill", KEY, now=NOW)
    session.commit()
    points_basis = ProgrammeSettings(tier_basis="points")
    assert tiers.qualifying_values(session, points_basis, NOW, [member.id]).get(member.id, 0) == 0


def test_members_are_found_by_email_name_or_number(session: Session) -> None:
    mia = _membership(session, "mia@example.com")
    bob = _membership(session, "bob_100%@example.com")
    closed = _membership(session, "gone@example.com")
    closed.status = "closed"
    session.commit()

    def numbers(text: str) -> set[str]:
        return {row.membership.number for row in find_members(session, text).items}

    assert numbers("") == {mia.number, bob.number}
    assert numbers("MIA@EXAMPLE") == {mia.number}
    assert numbers("Bob_100%") == {bob.number}  # LIKE wildcards are taken literally
    assert numbers("_") == {bob.number}
    assert numbers(bob.number.lower()) == {bob.number}
    assert numbers("gone") == set()
    mia_user = session.get(User, mia.user_id)
    mia_user.name = "Zoë Ångström"
    session.commit()
    for text in ("ZOË", "ångström", "ÅNGSTRÖM"):  # not only ASCII letters ignore case
        assert numbers(text) == {mia.number}, text
