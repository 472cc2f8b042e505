"""`flask loyalty evaluate-tiers`: upgrades, downgrades after a grace period, marks cleared,
history and e-mails; `create-default-tiers`."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import membership, tiers
from loyalty.models import Membership, Tier, TierChange
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests import factories

NOW = datetime(2026, 11, 23, 3, 0)
_numbers = itertools.count(1)


def _member_with_spend(
    app: Flask, session: Session, email: str, spend: int, *, days_ago: int = 30
) -> int:
    session.rollback()
    user = factories.user(session, email, email.split("@")[0].title())
    if spend:
        session.add(
            Order(
                number=f"E-{next(_numbers)}",
                user_id=user.id,
                status="delivered",
                subtotal_pence=spend,
                total_pence=spend,
                placed_at=NOW - timedelta(days=days_ago),
            )
        )
    session.commit()
    user_id = user.id
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)  # £0 / £100 / £500 / £1,500
        membership.join(own, user_id, consent=True, now=NOW - timedelta(days=days_ago))
    session.rollback()
    return user_id


def _set_tier(
    session: Session, user_id: int, name: str, below_since: datetime | None = None
) -> None:
    session.rollback()
    member = session.scalar(select(Membership).where(Membership.user_id == user_id))
    tier = session.scalar(select(Tier).where(Tier.name == name))
    assert member is not None and tier is not None
    member.tier_id = tier.id
    member.below_tier_since = below_since
    member.tier_since = NOW - timedelta(days=200)
    session.commit()


def _state(session: Session, user_id: int) -> tuple[str, datetime | None]:
    session.rollback()
    member = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert member is not None
    tier = session.get(Tier, member.tier_id)
    assert tier is not None
    return tier.name, member.below_tier_since


def _evaluate(app: Flask, at: datetime = NOW, batch_size: int = 1000) -> tiers.EvaluationResult:
    with app.app_context():
        return tiers.evaluate_tiers(db.transaction, now=at, batch_size=batch_size)


def test_a_member_below_their_tier_is_marked_then_downgraded_after_the_grace_period(
    app: Flask, session: Session
) -> None:
    user_id = _member_with_spend(app, session, "ann@example.com", 20_000)  # £200: Silver
    _set_tier(session, user_id, "Gold")
    first = _evaluate(app)
    assert (first.marked_below, first.downgraded) == (1, 0)
    assert _state(session, user_id) == ("Gold", NOW)
    second = _evaluate(app, NOW + timedelta(days=29))  # grace is 30 days
    assert second.downgraded == 0
    assert _state(session, user_id) == ("Gold", NOW)
    third = _evaluate(app, NOW + timedelta(days=30))
    assert third.downgraded == 1
    assert _state(session, user_id) == ("Silver", None)
    session.rollback()
    change = session.scalars(select(TierChange).order_by(TierChange.id.desc())).first()
    assert change is not None and "stayed below Gold" in change.reason
    mail = session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "loyalty_tier_changed"))
    assert mail is not None and mail.to_address == "ann@example.com"
    assert "Gold" in mail.text_body and "Silver" in mail.text_body


def test_back_above_the_threshold_clears_the_mark(app: Flask, session: Session) -> None:
    user_id = _member_with_spend(app, session, "ann@example.com", 60_000)  # £600: Gold
    _set_tier(session, user_id, "Gold", below_since=NOW - timedelta(days=10))
    result = _evaluate(app)
    assert result.cleared == 1
    assert _state(session, user_id) == ("Gold", None)


def test_spend_falling_out_of_the_window_downgrades(app: Flask, session: Session) -> None:
    user_id = _member_with_spend(app, session, "ann@example.com", 20_000, days_ago=300)
    assert _state(session, user_id)[0] == "Silver"
    later = NOW + timedelta(days=70)  # the order is now 370 days old
    _evaluate(app, later)
    assert _state(session, user_id) == ("Silver", later)
    _evaluate(app, later + timedelta(days=31))
    assert _state(session, user_id) == ("Member", None)


def test_a_member_under_the_right_tier_is_upgraded_at_once(app: Flask, session: Session) -> None:
    user_id = _member_with_spend(app, session, "ann@example.com", 200_000)
    _set_tier(session, user_id, "Member")
    result = _evaluate(app)
    assert result.upgraded == 1
    assert _state(session, user_id) == ("Platinum", None)


def test_many_members_in_batches_each_change_recorded_once(app: Flask, session: Session) -> None:
    spends = [0, 5_000, 20_000, 60_000, 200_000, 20_000, 0]
    users = [
        _member_with_spend(app, session, f"m{i}@example.com", spend)
        for i, spend in enumerate(spends)
    ]
    for user_id in users:
        _set_tier(session, user_id, "Gold", below_since=NOW - timedelta(days=45))
    session.rollback()
    changes_before = session.scalar(select(func.count()).select_from(TierChange))
    result = _evaluate(app, batch_size=2)
    assert result.members == len(spends)
    assert (result.downgraded, result.upgraded, result.cleared) == (5, 1, 1)
    assert [_state(session, u)[0] for u in users] == [
        "Member",
        "Member",
        "Silver",
        "Gold",
        "Platinum",
        "Silver",
        "Member",
    ]
    session.rollback()
    changes_after = session.scalar(select(func.count()).select_from(TierChange))
    assert changes_after == changes_before + 6
    again = _evaluate(app, batch_size=2)  # a second run changes nothing
    assert (again.downgraded, again.upgraded, again.marked_below) == (0, 0, 0)


def test_the_command_prints_a_summary(app: Flask, session: Session) -> None:
    _member_with_spend(app, session, "ann@example.com", 20_000)
    result = app.test_cli_runner().invoke(args=["loyalty", "evaluate-tiers", "--at", "2026-11-23"])
    assert result.exit_code == 0, result.output
    assert "1 member evaluated" in result.output
    bad = app.test_cli_runner().invoke(args=["loyalty", "evaluate-tiers", "--at", "soon"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    for zoned in ("2026-11-24T12:00Z", "2026-11-24T14:00+02:00"):  # read as UTC
        result = app.test_cli_runner().invoke(args=["loyalty", "evaluate-tiers", "--at", zoned])
        assert result.exit_code == 0, result.output
        result = app.test_cli_runner().invoke(args=["loyalty", "expire-points", "--at", zoned])
        assert result.exit_code == 0, result.output


def test_a_time_in_the_future_is_refused_unless_asked_for(app: Flask, session: Session) -> None:
    user_id = _member_with_spend(app, session, "ann@example.com", 20_000)
    runner = app.test_cli_runner()
    later = (utcnow() + timedelta(days=800)).strftime("%Y-%m-%d")
    for command in ("evaluate-tiers", "expire-points"):
        refused = runner.invoke(args=["loyalty", command, "--at", later])
        assert refused.exit_code == 2
        assert f"Invalid value for --at: {later} 00:00 UTC is in the future" in refused.output
        assert "Add --future to do it anyway" in refused.output
    below = select(Membership.below_tier_since).where(Membership.user_id == user_id)
    session.rollback()
    assert session.scalar(below) is None
    allowed = runner.invoke(args=["loyalty", "evaluate-tiers", "--at", later, "--future"])
    assert allowed.exit_code == 0, allowed.output
    assert "1 member evaluated: 0 upgraded, 0 downgraded, 1 newly below" in allowed.output
    session.rollback()
    assert session.scalar(below) == datetime.fromisoformat(later)


def test_the_commands_explain_themselves(app: Flask) -> None:
    runner = app.test_cli_runner()
    for name in ("evaluate-tiers", "expire-points", "create-default-tiers"):
        result = runner.invoke(args=["loyalty", name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_create_default_tiers_once(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["loyalty", "create-default-tiers"])
    assert "Default tiers created." in first.output and "Platinum" in first.output
    second = runner.invoke(args=["loyalty", "create-default-tiers"])
    assert "nothing changed" in second.output
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Tier)) == 4
