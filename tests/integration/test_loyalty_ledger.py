"""The points ledger: balance = sum of entries, no double awards, no overdrafts, even
for concurrent debits."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import ledger
from loyalty.models import Membership, PointsEntry, Tier
from shop.db import db
from tests import factories


def _member(session: Session, points: int = 0) -> Membership:
    tier = Tier(name="Member", rank=1, threshold=0)
    session.add(tier)
    user = factories.user(session)
    session.flush()
    member = Membership(user_id=user.id, number="HP-000001", tier_id=tier.id, terms_version="t")
    session.add(member)
    session.flush()
    if points:
        ledger.append(session, member.id, points, "earn", "seed")
    session.commit()
    return member


def test_entries_move_the_balance_and_sum_to_it(session: Session) -> None:
    member = _member(session)
    ledger.append(session, member.id, 300, "earn", "order:1")
    ledger.append(session, member.id, -120, "redeem", "order:2")
    session.commit()
    assert ledger.balance(session, member.id) == 180
    assert session.get(Membership, member.id).points_balance == 180


def test_the_same_reference_is_refused_by_the_database_and_nothing_changes(
    session: Session,
) -> None:
    member = _member(session)
    ledger.append(session, member.id, 300, "earn", "order:1")
    with pytest.raises(ledger.DuplicateEntry):
        ledger.append(session, member.id, 300, "earn", "order:1")
    session.commit()
    assert ledger.balance(session, member.id) == 300
    assert session.get(Membership, member.id).points_balance == 300
    count = session.scalar(select(func.count()).select_from(PointsEntry))
    assert count == 1


def test_a_debit_beyond_the_balance_is_refused(session: Session) -> None:
    member = _member(session, points=100)
    with pytest.raises(ledger.InsufficientPoints):
        ledger.append(session, member.id, -101, "redeem", "order:9")
    session.commit()
    assert ledger.balance(session, member.id) == 100


@pytest.mark.parametrize("bad", [0, 1.5, True])
def test_points_must_be_a_non_zero_whole_number(session: Session, bad: object) -> None:
    member = _member(session, points=100)
    with pytest.raises(ValueError):
        ledger.append(session, member.id, bad, "adjust", "x")  # type: ignore[arg-type]


def test_concurrent_debits_never_spend_the_same_points(app: Flask, session: Session) -> None:
    member_id = _member(session, points=1000).id
    session.rollback()
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def spend(n: int) -> None:
        barrier.wait()
        try:
            with app.app_context(), db.transaction() as own:
                ledger.append(own, member_id, -400, "redeem", f"order:{n}")
            outcomes.append("ok")
        except ledger.InsufficientPoints:
            outcomes.append("refused")

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.rollback()
    assert sorted(outcomes) == ["ok", "ok", "refused", "refused", "refused", "refused"]
    assert ledger.balance(session, member_id) == 200
    assert session.get(Membership, member_id).points_balance == 200


def test_events_are_not_published_when_only_a_savepoint_commits(app: Flask) -> None:
    from shop.accounts.services import register
    from shop.events.bus import customer_registered
    from shop.events.models import DomainEvent

    seen: list[int] = []

    def receiver(_sender: object, **payload: int) -> None:
        seen.append(payload["user_id"])

    customer_registered.connect(receiver)
    try:
        with app.app_context(), db.transaction() as session:
            user = register(session, "Sam", "sam@example.com", "long enough password")
            with session.begin_nested():  # as the ledger and default tiers do
                session.add(Tier(name="Member", rank=1, threshold=0))
            assert seen == []  # not while the outer transaction is open
            user_id = user.id
        assert seen == [user_id]
        with app.app_context():
            event = db.session.scalar(select(DomainEvent))
            assert event is not None and event.dispatched_at is not None
    finally:
        customer_registered.disconnect(receiver)
