"""Points on order_paid (once), immediate upgrades, proportional reversal on order_refunded,
through the real event bus (stored event, dispatched after commit)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from loyalty import checkout_benefits, ledger, membership, rules, subscribers, tiers
from loyalty.models import Membership, OwedPoints, PointsEntry, Tier, TierChange
from shop.accounts.privacy import export_data
from shop.db import db, utcnow
from shop.events.bus import record_event
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests import factories

_numbers = itertools.count(1)


def _member(app: Flask, session: Session, email: str = "ann@example.com") -> int:
    user = factories.user(session, email)
    session.commit()
    user_id = user.id
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)  # £0 / £100 / £500 / £1,500
        membership.join(own, user_id, consent=True)
    session.rollback()
    return user_id


def _order(session: Session, user_id: int | None, goods: int, shipping: int = 395) -> Order:
    session.rollback()  # end the read snapshot before writing
    placed = Order(
        number=f"W-{next(_numbers)}",
        user_id=user_id,
        status="paid",
        subtotal_pence=goods,
        shipping_pence=shipping,
        total_pence=goods + shipping,
        placed_at=utcnow(),
    )
    session.add(placed)
    session.commit()
    return placed


def _publish(app: Flask, name: str, payload: dict[str, Any]) -> None:
    with app.app_context(), db.transaction() as own:
        record_event(own, name, payload)


def _paid(app: Flask, order: Order) -> None:
    payload = {
        "order_id": order.id,
        "number": order.number,
        "user_id": order.user_id,
        "email": "ann@example.com",
        "total_pence": order.total_pence,
        "currency": "GBP",
        "intent_id": "pi_test",
    }
    _publish(app, "order_paid", payload)


def _refunded(app: Flask, order: Order, refund_id: int, amount: int, refunded: int) -> None:
    payload = {
        "order_id": order.id,
        "number": order.number,
        "user_id": order.user_id,
        "refund_id": refund_id,
        "amount_pence": amount,
        "refunded_pence": refunded,
        "total_pence": order.total_pence,
        "currency": "GBP",
    }
    _publish(app, "order_refunded", payload)


def _member_row(session: Session, user_id: int) -> Membership:
    session.rollback()
    found = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert found is not None
    return found


def _entries(session: Session, reason: str) -> list[PointsEntry]:
    session.rollback()
    return list(session.scalars(select(PointsEntry).where(PointsEntry.reason == reason)))


def test_a_paid_order_earns_points_on_goods_only(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=4_250)
    _paid(app, order)
    [entry] = _entries(session, "earn")
    assert entry.points == 42  # £42.50 at 1 point per pound, shipping excluded
    assert entry.reference == f"order:{order.id}"
    assert entry.order_id == order.id
    assert entry.expires_at is not None and entry.expires_at > utcnow().replace(
        year=utcnow().year + 1
    )
    assert _member_row(session, user_id).points_balance == 42
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_paid"))
    assert event is not None and event.dispatched_at is not None


def test_the_same_event_twice_awards_once(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=5_000)
    _paid(app, order)
    _paid(app, order)  # a second event for the same order
    with app.app_context():  # and a retried delivery straight to the receiver
        subscribers.on_order_paid("order_paid", order_id=order.id, user_id=user_id)
    assert [e.points for e in _entries(session, "earn")] == [50]
    assert _member_row(session, user_id).points_balance == 50


def test_a_non_member_earns_nothing(app: Flask, session: Session) -> None:
    _member(app, session)
    stranger = factories.user(session, "bob@example.com", "Bob")
    session.commit()
    _paid(app, _order(session, stranger.id, goods=9_000))
    _paid(app, _order(session, None, goods=9_000))  # a guest
    assert _entries(session, "earn") == []


def test_a_guest_order_paid_before_it_joined_an_account_earns_nothing_when_its_event_is_late(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order(session, None, goods=6_000)  # paid as a guest; its event still waits
    event = {"order_id": order.id, "number": order.number, "user_id": None}
    session.execute(update(Order).where(Order.id == order.id).values(user_id=user_id))
    session.commit()  # the owner confirmed the address: the order joined the account
    _publish(app, "order_paid", event)
    assert _entries(session, "earn") == []
    assert _member_row(session, user_id).points_balance == 0


def test_the_tier_multiplier_applies(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    gold = session.scalar(select(Tier).where(Tier.name == "Gold"))
    assert gold is not None
    member = _member_row(session, user_id)
    member.tier_id = gold.id
    session.commit()
    _paid(app, _order(session, user_id, goods=1_000))
    assert [e.points for e in _entries(session, "earn")] == [15]


def test_crossing_a_threshold_upgrades_at_once_with_history_and_email(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    _paid(app, _order(session, user_id, goods=6_000))  # £60: still Member
    assert session.get(Tier, _member_row(session, user_id).tier_id).name == "Member"
    _paid(app, _order(session, user_id, goods=5_000))  # £110: crosses Silver's £100
    member = _member_row(session, user_id)
    assert session.get(Tier, member.tier_id).name == "Silver"
    changes = list(session.scalars(select(TierChange).where(TierChange.membership_id == member.id)))
    assert len(changes) == 2  # joined, then upgraded
    assert "£110.00" in changes[-1].reason
    mail = session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "loyalty_tier_changed"))
    assert mail is not None and "Silver" in mail.subject and "Member" in mail.text_body


def test_a_big_order_can_jump_several_tiers(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    _paid(app, _order(session, user_id, goods=200_000))
    member = _member_row(session, user_id)
    assert session.get(Tier, member.tier_id).name == "Platinum"


def test_a_partial_refund_reverses_points_in_proportion(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=9_605, shipping=395)  # total £100, 96 points
    _paid(app, order)
    _refunded(app, order, refund_id=1, amount=2_500, refunded=2_500)
    [reversal] = _entries(session, "refund")
    assert reversal.points == -25  # £25 of £96.05 of goods (shipping earns nothing): 24.99
    assert reversal.reference == "refund:1"
    _refunded(app, order, refund_id=1, amount=2_500, refunded=2_500)  # same refund again
    assert len(_entries(session, "refund")) == 1
    _refunded(app, order, refund_id=2, amount=7_500, refunded=10_000)  # the rest
    assert sum(e.points for e in _entries(session, "refund")) == -96
    assert _member_row(session, user_id).points_balance == 0


def test_refunding_all_the_goods_but_not_the_delivery_takes_back_every_point(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=1_645, shipping=395)  # £20.40, 16 points
    _paid(app, order)
    _refunded(app, order, refund_id=1, amount=1_645, refunded=1_645)
    assert sum(e.points for e in _entries(session, "refund")) == -16
    _refunded(app, order, refund_id=2, amount=395, refunded=2_040)  # then the delivery
    assert sum(e.points for e in _entries(session, "refund")) == -16


def test_a_shortfall_is_written_off_not_taken_by_a_later_refund(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=10_000, shipping=0)  # 100 points
    _paid(app, order)
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -90, "redeem", "order:spent")  # 10 points left
    session.commit()
    _refunded(app, order, refund_id=1, amount=5_000, refunded=5_000)  # 50 due, 10 taken
    member = _member_row(session, user_id)
    ledger.append(session, member.id, 30, "earn", "order:other")  # earned by another order
    session.commit()
    _refunded(app, order, refund_id=2, amount=100, refunded=5_100)  # its own share: 1
    assert sorted(e.points for e in _entries(session, "refund")) == [-10, -1]
    assert _member_row(session, user_id).points_balance == 29


def test_points_that_expired_are_not_taken_back_by_a_refund(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=10_000, shipping=0)  # 100 points
    _paid(app, order)
    session.rollback()
    session.execute(
        update(PointsEntry)
        .where(PointsEntry.reason == "earn")
        .values(expires_at=utcnow() - timedelta(days=1))
    )
    session.commit()
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -100, "expire", "expire:yesterday")
    ledger.append(session, member.id, 16, "earn", "order:other")  # another order's points
    session.commit()
    _refunded(app, order, refund_id=1, amount=10_000, refunded=10_000)
    assert _entries(session, "refund") == []
    assert _member_row(session, user_id).points_balance == 16


def test_refunds_never_reverse_more_than_awarded(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=700, shipping=300)  # total £10, 7 points
    _paid(app, order)
    for refund_id, refunded in enumerate((333, 666, 999, 1_000), start=1):
        _refunded(app, order, refund_id, 333, refunded)
    assert sum(e.points for e in _entries(session, "refund")) == -7


def test_a_refund_after_points_were_spent_takes_what_is_left(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=10_000, shipping=0)
    _paid(app, order)
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -80, "redeem", "order:spent")
    session.commit()
    _refunded(app, order, refund_id=5, amount=10_000, refunded=10_000)
    [reversal] = _entries(session, "refund")
    assert reversal.points == -20
    assert "80 points could not be taken back" in reversal.description
    assert "80 more points it earned could not be taken back" in _refund_mail(session).text_body
    assert _member_row(session, user_id).points_balance == 0
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_refunded"))
    assert event is not None and event.dispatched_at is not None  # the event did not fail


def _unpaid_holding(app: Flask, session: Session, user_id: int, points: int) -> Order:
    """An unpaid order that holds `points` of the member's points."""
    order = _order(session, user_id, goods=2_000)
    order.status, order.points_redeemed = "pending_payment", points
    session.commit()
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -points, "redeem", f"order:{order.id}", order_id=order.id)
    session.commit()
    return order


def _cancelled(app: Flask, session: Session, order: Order) -> int:
    session.rollback()
    session.execute(update(Order).where(Order.id == order.id).values(status="cancelled"))
    session.commit()
    with app.app_context(), db.transaction() as own:
        return checkout_benefits.release_points_of(own, order.id)


def _refunded_while_80_points_are_held(app: Flask, session: Session) -> tuple[int, Order, Order]:
    """A member's order that earned 100 points, refunded in full while an unpaid order
    holds 80 of them: (member's user id, the refunded order, the unpaid order)."""
    user_id = _member(app, session)
    bought = _order(session, user_id, goods=10_000, shipping=0)
    _paid(app, bought)  # earns 100
    held = _unpaid_holding(app, session, user_id, 80)
    _refunded(app, bought, refund_id=5, amount=10_000, refunded=10_000)
    return user_id, bought, held


def test_points_an_unpaid_order_holds_are_taken_back_when_they_come_back(
    app: Flask, session: Session
) -> None:
    user_id, bought, held = _refunded_while_80_points_are_held(app, session)
    _refunded(app, bought, refund_id=5, amount=10_000, refunded=10_000)  # a retried event
    [reversal] = _entries(session, "refund")
    assert reversal.points == -20
    assert "80 points held by an unpaid order are taken back if it is cancelled" in (
        reversal.description
    )
    body = _refund_mail(session).text_body
    assert "80 more points it earned are held by an order you have not paid for yet" in body
    assert "could not be taken back" not in body
    assert _member_row(session, user_id).points_balance == 0

    assert _cancelled(app, session, held) == 0  # all 80 came back and went to the refund
    assert _member_row(session, user_id).points_balance == 0
    session.rollback()
    kind = OutboxEmail.kind == "loyalty_owed_points_paid"
    [told] = session.scalars(select(OutboxEmail).where(kind)).all()
    assert told.subject == f"Your points from order {held.number}"
    assert f"Order {held.number} was not paid, so the 80 points it used came back" in (
        told.text_body
    )
    assert f"- 80 points of them were taken back for the refund on order {bought.number}" in (
        told.text_body
    )
    assert "yours to spend again" not in told.text_body
    assert "Your points balance is now 0 points." in told.text_body
    taken = [e for e in _entries(session, "refund") if e.reference.startswith("owed:")]
    assert [e.points for e in taken] == [-80]
    assert taken[0].description == (
        f"Refund on order {bought.number}, taken from the points order {held.number} gave back"
    )
    assert session.scalar(select(OwedPoints.points)) == 0
    assert _cancelled(app, session, held) == 0  # released once
    assert _member_row(session, user_id).points_balance == 0


def test_only_what_unpaid_orders_hold_is_owed_the_rest_is_written_off(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    bought = _order(session, user_id, goods=10_000, shipping=0)
    _paid(app, bought)  # earns 100
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -70, "redeem", "order:spent")  # spent on a paid order
    session.commit()
    held = _unpaid_holding(app, session, user_id, 30)
    _refunded(app, bought, refund_id=7, amount=10_000, refunded=10_000)
    assert _entries(session, "refund") == []  # the balance was empty: nothing taken now
    body = _refund_mail(session).text_body
    assert "70 more points it earned could not be taken back" in body
    assert "30 more points it earned are held by an order" in body
    owed = export_data(session, user_id)["loyalty"]["points_owed_to_refunds"]
    assert [(row["points"], row["order_number"]) for row in owed] == [(30, bought.number)]
    assert _cancelled(app, session, held) == 0
    assert _member_row(session, user_id).points_balance == 0
    assert [e.points for e in _entries(session, "refund")] == [-30]
    assert export_data(session, user_id)["loyalty"]["points_owed_to_refunds"] == []


def test_what_a_paid_order_held_for_a_refund_is_written_off_not_taken_later(
    app: Flask, session: Session
) -> None:
    user_id, _bought, held = _refunded_while_80_points_are_held(app, session)
    session.rollback()
    assert session.scalar(select(OwedPoints.points)) == 80
    session.execute(update(Order).where(Order.id == held.id).values(status="paid"))
    session.commit()
    _paid(app, held)  # the 80 points are spent on it now
    session.rollback()
    assert session.scalar(select(OwedPoints.points)) == 0
    assert export_data(session, user_id)["loyalty"]["points_owed_to_refunds"] == []
    # A later order that holds points and is cancelled gives all of them back.
    member = _member_row(session, user_id)
    ledger.append(session, member.id, 40, "adjust", "adjust:gift")
    session.commit()
    before = _member_row(session, user_id).points_balance  # the gift and what `held` earned
    later = _unpaid_holding(app, session, user_id, 40)
    assert _cancelled(app, session, later) == 40
    assert _member_row(session, user_id).points_balance == before


def test_a_refund_with_nothing_left_succeeds_without_an_entry(app: Flask, session: Session) -> None:
    user_id = _member(app, session)
    order = _order(session, user_id, goods=10_000, shipping=0)
    _paid(app, order)
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -100, "redeem", "order:spent")
    session.commit()
    _refunded(app, order, refund_id=6, amount=5_000, refunded=5_000)
    assert _entries(session, "refund") == []
    assert _refund_mails(session) == []  # nothing moved, so nothing to confirm
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_refunded"))
    assert event is not None and event.dispatched_at is not None


def test_a_refund_of_a_non_member_order_does_nothing(app: Flask, session: Session) -> None:
    stranger = factories.user(session, "bob@example.com", "Bob")
    session.commit()
    order = _order(session, stranger.id, goods=1_000)
    _refunded(app, order, refund_id=1, amount=1_000, refunded=1_000)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PointsEntry)) == 0


def _order_paid_with_points(app: Flask, session: Session, user_id: int, points: int) -> Order:
    """A £100 paid order (goods £96.05 + £3.95 delivery) on which `points` points were spent."""
    order = _order(session, user_id, goods=9_605, shipping=395)
    order.points_redeemed = points
    session.commit()
    member = _member_row(session, user_id)
    ledger.append(session, member.id, points, "adjust", "gift")
    ledger.append(session, member.id, -points, "redeem", f"order:{order.id}", order_id=order.id)
    session.commit()
    _paid(app, order)
    return order


def _refund_mails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == "loyalty_refund_points")
    return list(session.scalars(query))


def _refund_mail(session: Session) -> OutboxEmail:
    [mail] = _refund_mails(session)
    return mail


def test_a_full_refund_returns_the_points_spent_and_takes_back_the_points_earned(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order_paid_with_points(app, session, user_id, 1_000)
    assert _member_row(session, user_id).points_balance == 96  # 1,000 spent, 96 earned
    _refunded(app, order, refund_id=7, amount=10_000, refunded=10_000)
    [returned] = _entries(session, "redeem_refund")
    assert (returned.points, returned.reference, returned.order_id) == (1_000, "refund:7", order.id)
    assert returned.expires_at is None
    assert sum(e.points for e in _entries(session, "refund")) == -96
    assert _member_row(session, user_id).points_balance == 1_000
    mail = _refund_mail(session)
    assert mail.subject == f"Your points after the refund on order {order.number}"
    assert "1,000 points you used on this order are back" in mail.text_body
    assert "96 points this order earned were taken back" in mail.text_body
    assert "balance is now 1,000 points" in mail.text_body
    assert "could not be taken back" not in mail.text_body


def test_returned_points_cover_the_reversal_when_the_balance_is_empty(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order_paid_with_points(app, session, user_id, 1_000)
    member = _member_row(session, user_id)
    ledger.append(session, member.id, -96, "redeem", "order:elsewhere")  # spends what it earned
    session.commit()
    _refunded(app, order, refund_id=8, amount=10_000, refunded=10_000)
    [reversal] = _entries(session, "refund")
    assert reversal.points == -96 and "could not" not in reversal.description
    assert _member_row(session, user_id).points_balance == 904


def test_partial_refunds_return_spent_points_in_proportion_once_each(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order_paid_with_points(app, session, user_id, 1_000)
    _refunded(app, order, refund_id=1, amount=2_500, refunded=2_500)
    _refunded(app, order, refund_id=1, amount=2_500, refunded=2_500)  # the same event again
    # In proportion to the goods (£96.05): £25 of them gives back 260 of the 1,000 points.
    assert [e.points for e in _entries(session, "redeem_refund")] == [260]
    _refunded(app, order, refund_id=2, amount=3_333, refunded=5_833)  # 607 in all
    _refunded(app, order, refund_id=3, amount=4_167, refunded=10_000)  # every point
    assert sorted(e.points for e in _entries(session, "redeem_refund")) == [260, 347, 393]
    assert _member_row(session, user_id).points_balance == 1_000
    assert len(_refund_mails(session)) == 3  # one per refund, none for the repeated event


def test_points_returned_by_a_refund_keep_the_expiry_of_the_points_spent(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    member = _member_row(session, user_id)
    soon, later = utcnow() + timedelta(days=200), utcnow() + timedelta(days=400)
    ledger.append(session, member.id, 600, "earn", "old", expires_at=soon)
    ledger.append(session, member.id, 600, "earn", "new", expires_at=later)
    session.commit()
    order = _order(session, user_id, goods=9_605, shipping=395)
    order.points_redeemed = 1_000
    ledger.append(session, member.id, -1_000, "redeem", f"order:{order.id}", order_id=order.id)
    session.commit()
    _refunded(app, order, refund_id=9, amount=10_000, refunded=10_000)
    [returned] = _entries(session, "redeem_refund")
    assert returned.points == 1_000 and returned.expires_at == later
    lines = [
        rules.LedgerLine(e.points, e.expires_at, e.created_at)
        for e in session.scalars(select(PointsEntry).where(PointsEntry.membership_id == member.id))
    ]
    # Before the fix the returned points carried no date and would never have expired.
    assert rules.points_to_expire(lines, later + timedelta(days=1)) == 1_200


def test_points_given_back_when_the_checkout_was_cancelled_are_not_returned_again(
    app: Flask, session: Session
) -> None:
    user_id = _member(app, session)
    order = _order_paid_with_points(app, session, user_id, 500)
    member = _member_row(session, user_id)
    ledger.append(
        session, member.id, 500, "redeem_reversal", f"order:{order.id}", order_id=order.id
    )
    session.commit()
    _refunded(app, order, refund_id=9, amount=10_000, refunded=10_000)
    assert _entries(session, "redeem_refund") == []
