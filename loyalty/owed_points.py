"""Points a refund could not take back because an unpaid order held them.

A refund takes back the points its order earned, as far as the balance allows. Points
spent on a paid order are gone, and that part is written off. Points an unpaid order only
holds are not spent: if the order is cancelled (or its hold ends) they come back. So the
part of a shortfall those holds cover is owed, and taken back from them when they return,
rather than handed back in full. If such an order is paid instead, its points are spent
like any others, and what they covered is written off (`write_off_spent`): what is owed
never exceeds what unpaid orders still hold.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty import ledger
from loyalty.models import Membership, OwedPoints, PointsEntry
from shop.orders import states
from shop.orders.models import Order

log = logging.getLogger(__name__)


def held_by_unpaid_orders(
    session: Session, membership_id: int, *, cancelled_too: bool = False
) -> int:
    """The points the member's unpaid orders hold (debited, not given back yet); with
    `cancelled_too`, also those of cancelled orders whose points are still to come back."""
    unpaid = (
        (states.PENDING_PAYMENT, states.CANCELLED) if cancelled_too else (states.PENDING_PAYMENT,)
    )
    held = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .join(Order, Order.id == PointsEntry.order_id)
        .where(
            PointsEntry.membership_id == membership_id,
            PointsEntry.reason.in_(("redeem", "redeem_reversal")),
            Order.status.in_(unpaid),
        )
    )
    return max(-int(held or 0), 0)


def points_to_come(session: Session, membership: Membership) -> int:
    """The member's points, counting those unpaid or cancelled orders still hold and will
    give back, less what refunds are owed from them."""
    owed = session.scalar(
        select(func.coalesce(func.sum(OwedPoints.points), 0)).where(
            OwedPoints.membership_id == membership.id
        )
    )
    held = held_by_unpaid_orders(session, membership.id, cancelled_too=True)
    return max(membership.points_balance + held - int(owed or 0), 0)


def note_owed(
    session: Session, membership_id: int, reference: str, order_number: str, points: int
) -> int:
    """Record that a refund (ledger `reference`) is owed `points`; once per refund. Returns
    the points noted now (0 when the refund's debt is noted already)."""
    if points <= 0:
        return 0
    try:
        with session.begin_nested():
            session.add(
                OwedPoints(
                    membership_id=membership_id,
                    reference=reference,
                    order_number=order_number,
                    points=points,
                )
            )
            session.flush()
    except IntegrityError:
        return 0
    return points


def settle_from_returned(
    session: Session, membership_id: int, returned: int, from_order_number: str
) -> dict[str, int]:
    """Take what refunds are owed out of `returned` points that just came back from an
    unpaid order, oldest debt first; return how many were taken for each refunded order."""
    taken_for: dict[str, int] = {}
    if returned <= 0:
        return taken_for
    debts = session.scalars(
        select(OwedPoints)
        .where(OwedPoints.membership_id == membership_id, OwedPoints.points > 0)
        .order_by(OwedPoints.id)
        .with_for_update()
    ).all()
    taken = 0
    for debt in debts:
        take = min(debt.points, returned - taken)
        if take <= 0:
            break
        try:
            ledger.append(
                session,
                membership_id,
                -take,
                "refund",
                f"owed:{debt.id}:{debt.points}",  # what was owed before: unique per step
                description=(
                    f"Refund on order {debt.order_number}, taken from the points "
                    f"order {from_order_number} gave back"
                ),
            )
        except (ledger.InsufficientPoints, ledger.DuplicateEntry):
            break  # spent at this very moment, or settled by a concurrent release
        debt.points -= take
        taken += take
        taken_for[debt.order_number] = taken_for.get(debt.order_number, 0) + take
    return taken_for


def write_off_spent(session: Session, membership_id: int) -> int:
    """Write off what is owed beyond the points unpaid orders still hold (a holding order
    was paid, so its points are spent), newest debt first; return the points written off."""
    debts = session.scalars(
        select(OwedPoints)
        .where(OwedPoints.membership_id == membership_id, OwedPoints.points > 0)
        .order_by(OwedPoints.id.desc())
        .with_for_update()
    ).all()
    excess = sum(debt.points for debt in debts) - held_by_unpaid_orders(session, membership_id)
    written_off = 0
    for debt in debts:
        if excess <= 0:
            break
        cut = min(debt.points, excess)
        debt.points -= cut
        excess -= cut
        written_off += cut
    if written_off:
        log.warning(
            "membership %d: %d points owed to refunds written off, the order holding them was paid",
            membership_id,
            written_off,
        )
    return written_off
