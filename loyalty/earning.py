"""Points for paid orders, and what a refund moves back: the points the order earned are
taken back and the points spent on it are returned, both in proportion (called by the event
subscribers)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import ledger, notifications, owed_points, rules, tiers
from loyalty.membership import find_membership
from loyalty.models import Membership, PointsEntry, Tier
from loyalty.settings import load_settings
from shop.accounts.models import User
from shop.db import utcnow
from shop.orders.models import Order

log = logging.getLogger(__name__)


def order_reference(order_id: int) -> str:
    """The ledger reference of the points an order earned."""
    return f"order:{order_id}"


def refund_reference(refund_id: int) -> str:
    """The ledger reference of the points a refund took back."""
    return f"refund:{refund_id}"


@dataclass(frozen=True)
class Award:
    """What a paid order earned (0 points for non-members or when already awarded)."""

    points: int
    already_awarded: bool = False
    upgraded_to: str | None = None


def award_for_order(
    session: Session, order_id: int, *, paid_by: int | None, now: datetime | None = None
) -> Award:
    """Award a member's points for a paid order once, then upgrade them if they crossed a
    threshold. A non-member's order earns nothing; a second call does nothing.

    `paid_by` is the account the order belonged to when it was paid (the event's). A guest's
    order that joined an account since (its address confirmed) earns nothing, even when its
    event is delivered only after the join.
    """
    order = session.get(Order, order_id)
    if order is None or order.user_id is None or order.kind != "sale":
        return Award(0)
    if order.user_id != paid_by:
        return Award(0)
    if order.status not in tiers.PAID_STATUSES:
        return Award(0)
    member = find_membership(session, order.user_id)
    if member is None:
        return Award(0)
    moment = now or utcnow()
    settings = load_settings(session)
    tier = session.get(Tier, member.tier_id)
    multiplier = tier.multiplier_pct if tier is not None else 100
    goods = rules.goods_paid_pence(order.total_pence, order.shipping_pence)
    points = rules.points_for_order(goods, settings.points_per_pound, multiplier)
    if points > 0:
        try:
            ledger.append(
                session,
                member.id,
                points,
                "earn",
                order_reference(order.id),
                description=f"Order {order.number}",
                order_id=order.id,
                expires_at=rules.add_months(moment, settings.expiry_months),
            )
        except ledger.DuplicateEntry:
            return Award(0, already_awarded=True)
    change = tiers.upgrade_if_crossed(session, member, now=moment, settings=settings)
    upgraded = session.get(Tier, change.to_tier_id).name if change is not None else None
    return Award(points, upgraded_to=upgraded)


@dataclass(frozen=True)
class Reversal:
    """What a refund took back, and what the balance could not cover."""

    points: int
    shortfall: int = 0  # written off: spent on paid orders
    owed: int = 0  # held by unpaid orders: taken back if they come back (`owed_points`)


@dataclass(frozen=True)
class RefundedGoods:
    """The goods part of an order's refunds: earning ignores shipping, so reversals do too.

    A refund is taken to pay back the goods first, shipping last.
    """

    before: int  # refunded goods before this refund
    after: int  # refunded goods with it
    total: int  # the order's goods

    @classmethod
    def of(cls, order: Order, refunded_total: int, amount: int, order_total: int) -> RefundedGoods:
        """Split an order's cumulative refunds into goods, given this refund's amount."""
        goods = order_total - (order.shipping_pence or 0)
        goods = goods if goods > 0 else order_total
        return cls(
            before=min(max(refunded_total - amount, 0), goods),
            after=min(refunded_total, goods),
            total=goods,
        )


def _reverse_earned(
    session: Session, order: Order, member: Membership, refund_id: int, goods: RefundedGoods
) -> Reversal:
    """Take back points in proportion to the goods a refund pays back, never more than the
    order earned.

    Each refund takes back its own share: round(after / total x A) - round(before / total x
    A). When points were spent meanwhile, it takes what the balance allows and notes the
    shortfall in the entry's description; that shortfall is written off, not taken by a
    later refund. Points that expired are gone already: nothing is taken back for them.
    The event still succeeds.
    """
    reference = refund_reference(refund_id)
    if _entry_exists(session, member.id, "refund", reference):
        return Reversal(0)
    earned = session.execute(
        select(PointsEntry.points, PointsEntry.expires_at).where(
            PointsEntry.membership_id == member.id,
            PointsEntry.reason == "earn",
            PointsEntry.order_id == order.id,
        )
    ).first()
    if earned is None:
        return Reversal(0)
    awarded, expires_at = int(earned.points), earned.expires_at
    if expires_at is not None and expires_at <= utcnow():
        log.info("refund %s of order %s: its points had expired", refund_id, order.number)
        return Reversal(0)
    shares_before = rules.points_to_reverse(awarded, 0, goods.before, goods.total)
    due = rules.points_to_reverse(awarded, shares_before, goods.after, goods.total)
    for _attempt in range(3):
        session.refresh(member, ["points_balance"])
        take = min(due, max(member.points_balance, 0))
        shortfall = due - take
        held = owed_points.held_by_unpaid_orders(session, member.id) if shortfall else 0
        owed, written_off = min(shortfall, held), shortfall - min(shortfall, held)
        if take <= 0:
            if written_off > 0:
                log.warning(
                    "refund %s of order %s: %d points due back, but the balance is empty",
                    refund_id,
                    order.number,
                    written_off,
                )
            owed = owed_points.note_owed(session, member.id, reference, order.number, owed)
            return Reversal(0, written_off, owed)
        note = f"Refund on order {order.number}"
        if written_off:
            note += f" ({written_off} points could not be taken back: already spent)"
        if owed:
            note += f" ({owed} points held by an unpaid order are taken back if it is cancelled)"
        try:
            ledger.append(
                session, member.id, -take, "refund", reference, description=note, order_id=order.id
            )
        except ledger.InsufficientPoints:
            continue  # spent at this very moment: read the balance again
        except ledger.DuplicateEntry:
            return Reversal(0)
        owed = owed_points.note_owed(session, member.id, reference, order.number, owed)
        return Reversal(take, written_off, owed)
    return Reversal(0, due)


def _return_redeemed(
    session: Session, order: Order, member: Membership, refund_id: int, goods: RefundedGoods
) -> int:
    """Give back the points spent on an order in proportion to the goods refunded (all of
    them once the goods are refunded in full); return how many came back now.

    Returned points keep the expiry date of the points the order spent
    (`ledger.expiry_for_return`), like the points of a cancelled order.
    """
    if not order.points_redeemed:
        return 0
    reference = refund_reference(refund_id)
    if _entry_exists(session, member.id, "redeem_refund", reference):
        return 0
    # Holds a cancelled checkout released are not spent: their reversals cancel them out.
    spent = -(_sum(session, member.id, "redeem", order.id))
    spent -= _sum(session, member.id, "redeem_reversal", order.id)
    already = _sum(session, member.id, "redeem_refund", order.id)
    due = rules.points_to_reverse(spent, already, goods.after, goods.total)
    if due <= 0:
        return 0
    spending = session.scalar(
        select(PointsEntry)
        .where(
            PointsEntry.membership_id == member.id,
            PointsEntry.order_id == order.id,
            PointsEntry.reason == "redeem",
        )
        .order_by(PointsEntry.id.desc())
        .limit(1)
    )
    expires_at = None
    if spending is not None:
        min_days = load_settings(session).expiry_reminder_days
        expires_at = ledger.expiry_for_return(session, spending, utcnow(), min_days)
    try:
        ledger.append(
            session,
            member.id,
            due,
            "redeem_refund",
            reference,
            description=f"From the refund on order {order.number}",
            order_id=order.id,
            expires_at=expires_at,
        )
    except ledger.DuplicateEntry:
        return 0
    return due


@dataclass(frozen=True)
class RefundPoints:
    """What one refund moved: points returned, points taken back, and what could not be."""

    returned: int
    reversal: Reversal


def settle_refund(
    session: Session,
    order_id: int,
    refund_id: int,
    refunded_total_pence: int,
    order_total_pence: int,
    amount_pence: int,
) -> RefundPoints:
    """Return the points spent on the order, then take back the points it earned (so the
    returned points can cover them), and confirm any change to the member by e-mail. A
    non-member's order moves nothing. `refunded_total_pence` includes this refund of
    `amount_pence`."""
    order = session.get(Order, order_id)
    if order is None or order.user_id is None:
        return RefundPoints(0, Reversal(0))
    member = session.scalar(select(Membership).where(Membership.user_id == order.user_id))
    if member is None:
        return RefundPoints(0, Reversal(0))
    goods = RefundedGoods.of(order, refunded_total_pence, amount_pence, order_total_pence)
    returned = _return_redeemed(session, order, member, refund_id, goods)
    reversal = _reverse_earned(session, order, member, refund_id, goods)
    # Only when an entry was written: the ledger's unique keys then keep a retried event
    # from sending the e-mail twice.
    user = session.get(User, order.user_id)
    if (returned or reversal.points or reversal.owed) and user is not None:
        session.refresh(member, ["points_balance"])
        notifications.send_refund_points(
            session,
            user,
            member,
            order.number,
            returned,
            reversal.points,
            reversal.shortfall,
            owed=reversal.owed,
        )
    return RefundPoints(returned, reversal)


def _entry_exists(session: Session, membership_id: int, reason: str, reference: str) -> bool:
    return (
        session.scalar(
            select(PointsEntry.id).where(
                PointsEntry.membership_id == membership_id,
                PointsEntry.reason == reason,
                PointsEntry.reference == reference,
            )
        )
        is not None
    )


def _sum(session: Session, membership_id: int, reason: str, order_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.membership_id == membership_id,
            PointsEntry.reason == reason,
            PointsEntry.order_id == order_id,
        )
    )
    return int(total or 0)
