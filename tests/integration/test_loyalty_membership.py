"""Joining the programme, default tiers calibrated to spend, the member summary and the
staff badge."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import membership, tiers
from loyalty.models import Membership, Tier, TierChange
from shop.accounts.models import ConsentRecord, User
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests import factories

_numbers = itertools.count(1)


def _spend(
    session: Session, user: User, pence: int, *, days_ago: int = 10, **extra: object
) -> Order:
    placed = Order(
        number=f"T-{next(_numbers)}",
        user_id=user.id,
        status=extra.pop("status", "delivered"),
        kind=extra.pop("kind", "sale"),
        subtotal_pence=pence,
        placed_at=utcnow() - timedelta(days=days_ago),
        **{"total_pence": pence, **extra},
    )
    session.add(placed)
    session.flush()
    return placed


def _join(app: Flask, user_id: int, consent: bool = True) -> membership.JoinResult:
    with app.app_context(), db.transaction() as own:
        return membership.join(own, user_id, consent=consent)


def test_joining_records_consent_number_tier_and_welcome_email(
    app: Flask, session: Session
) -> None:
    user = factories.user(session)
    _spend(session, user, 20_000)
    session.commit()
    result = _join(app, user.id)
    assert result.created
    session.rollback()
    member = session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert member is not None
    assert member.number.startswith("HP-") and len(member.number) == 11
    assert member.number[3:].isdigit()
    tier = session.get(Tier, member.tier_id)
    assert tier is not None and tier.name == "Silver"  # £200 over the £100 fallback threshold
    consent = session.scalar(select(ConsentRecord).where(ConsentRecord.user_id == user.id))
    assert consent is not None and consent.kind == "loyalty_terms" and consent.granted
    assert member.terms_version in consent.detail
    mail = session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "loyalty_welcome"))
    assert mail is not None and mail.to_address == user.email
    assert member.number in mail.text_body and "Silver" in mail.html_body
    history = session.scalars(select(TierChange).where(TierChange.membership_id == member.id))
    assert [(c.from_tier_id, c.to_tier_id) for c in history] == [(None, tier.id)]


def test_joining_twice_returns_the_same_membership(app: Flask, session: Session) -> None:
    user = factories.user(session)
    session.commit()
    first = _join(app, user.id)
    second = _join(app, user.id)
    assert not second.created
    assert second.membership.number == first.membership.number
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership)) == 1
    count = session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == "loyalty_welcome")
    )
    assert count == 1


def test_joining_needs_consent(app: Flask, session: Session) -> None:
    user = factories.user(session)
    session.commit()
    with pytest.raises(membership.MembershipError, match="accept the programme terms"):
        _join(app, user.id, consent=False)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership)) == 0
    assert session.scalar(select(func.count()).select_from(ConsentRecord)) == 0


def test_an_imported_customer_without_login_cannot_join(app: Flask, session: Session) -> None:
    imported = User(name="Imported", external_ref="12345")
    session.add(imported)
    session.commit()
    with pytest.raises(membership.MembershipError):
        _join(app, imported.id)


def test_only_paid_sales_in_the_last_twelve_months_count(app: Flask, session: Session) -> None:
    user = factories.user(session)
    _spend(session, user, 40_000, days_ago=400)  # too old
    _spend(session, user, 40_000, status="pending_payment")
    _spend(session, user, 40_000, status="cancelled")
    _spend(session, user, 8_000, shipping_pence=500, total_pence=8_500)  # shipping not counted
    _spend(session, user, 5_000, refunded_pence=3_000, status="partially_refunded")
    session.commit()
    assert tiers.user_spend(session, user.id, utcnow()) == 8_000 + 2_000


def test_credit_notes_of_the_last_twelve_months_are_taken_off(app: Flask, session: Session) -> None:
    user = factories.user(session)
    _spend(session, user, 50_000)
    _spend(session, user, -12_000, kind="return", status="refunded")
    _spend(session, user, -30_000, kind="return", status="refunded", days_ago=400)  # too old
    other = factories.user(session, "bob@example.com", "Bob")
    _spend(session, other, 10_000)
    _spend(session, other, -25_000, kind="return", status="refunded")
    session.commit()
    now = utcnow()
    assert tiers.user_spend(session, user.id, now) == 38_000
    assert tiers.user_spend(session, other.id, now) == 0  # never below zero
    _join(app, user.id)
    _join(app, other.id)
    session.rollback()
    members = {m.user_id: m.id for m in session.scalars(select(Membership))}
    spends = tiers.spend_by_membership(session, now)
    assert spends == {members[user.id]: 38_000, members[other.id]: 0}
    assert tiers.customer_spends(session, now) == [38_000]


def test_default_tiers_fall_back_to_fixed_thresholds_for_a_small_shop(session: Session) -> None:
    created = tiers.ensure_default_tiers(session)
    assert [(t.name, t.threshold) for t in created] == [
        ("Member", 0),
        ("Silver", 10_000),
        ("Gold", 50_000),
        ("Platinum", 150_000),
    ]
    gold, platinum = created[2], created[3]
    assert gold.free_shipping and not gold.priority_support
    assert platinum.priority_support and platinum.early_access and platinum.multiplier_pct == 200
    assert tiers.ensure_default_tiers(session) == created  # never twice


def test_default_tiers_are_calibrated_to_the_spend_distribution(session: Session) -> None:
    for i in range(1, 101):
        user = User(name=f"C{i}", external_ref=f"c{i}")
        session.add(user)
        session.flush()
        _spend(session, user, i * 1_000)  # £10 .. £1,000
    session.flush()
    found = [t.threshold for t in tiers.ensure_default_tiers(session)]
    assert found == [0, 50_500, 80_200, 95_100]  # p50, p80, p95 in whole pounds


def test_member_summary_shows_progress_and_history(app: Flask, session: Session) -> None:
    user = factories.user(session)
    _spend(session, user, 30_000)
    session.commit()
    _join(app, user.id)
    session.rollback()
    summary = membership.member_summary(session, user.id)
    assert summary.tier.name == "Silver"
    assert summary.next_tier is not None and summary.next_tier.name == "Gold"
    assert summary.progress.remaining == 20_000
    assert summary.progress.percent == 60
    assert summary.history.total == 1 and summary.points.total == 0
    assert "3% off every order" in summary.benefits


def test_member_summary_for_a_non_member(session: Session) -> None:
    user = factories.user(session)
    session.commit()
    with pytest.raises(membership.NotAMember):
        membership.member_summary(session, user.id)


def test_member_badge(app: Flask, session: Session) -> None:
    user = factories.user(session)
    other = factories.user(session, "bob@example.com", "Bob")
    _spend(session, user, 200_000)
    session.commit()
    _join(app, user.id)
    session.rollback()
    assert membership.member_badge(session, user.id) == "Platinum · priority support"
    assert membership.member_badge(session, other.id) is None
    _join(app, other.id)
    session.rollback()
    assert membership.member_badge(session, other.id) == "Member"


def test_membership_numbers_are_unique(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = factories.user(session)
    second = factories.user(session, "bob@example.com", "Bob")
    session.commit()
    numbers = iter(["HP-00000001", "HP-00000001", "HP-00000002"])
    monkeypatch.setattr(membership, "new_member_number", lambda: next(numbers))
    _join(app, first.id)
    _join(app, second.id)
    session.rollback()
    assert sorted(session.scalars(select(Membership.number))) == ["HP-00000001", "HP-00000002"]


def test_join_time_is_recorded(app: Flask, session: Session) -> None:
    user = factories.user(session)
    session.commit()
    when = datetime(2026, 5, 1, 9, 30)
    with app.app_context(), db.transaction() as own:
        membership.join(own, user.id, consent=True, now=when)
    session.rollback()
    member = session.scalar(select(Membership))
    assert member is not None and member.joined_at == when and member.tier_since == when
