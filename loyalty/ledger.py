"""The points ledger: append-only entries; a member's balance is the sum of their entries.

`Membership.points_balance` mirrors that sum so that a debit can be a single conditional
UPDATE (`... SET points_balance = points_balance - n WHERE points_balance >= n`): two
concurrent checkouts can never spend the same points, on SQLite or PostgreSQL. Every
change goes through `append`, which writes the entry and moves the balance together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty import rules
from loyalty.models import Membership, PointsEntry

REASONS = ("earn", "refund", "redeem", "redeem_reversal", "redeem_refund", "expire", "adjust")


class InsufficientPoints(ValueError):
    """A debit larger than the member's balance."""


class DuplicateEntry(ValueError):
    """An entry with this reason and reference exists already (e.g. an order awarded twice)."""


def balance(session: Session, membership_id: int) -> int:
    """The sum of the member's ledger entries (the source of truth)."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.membership_id == membership_id
        )
    )
    return int(total or 0)


def append(
    session: Session,
    membership_id: int,
    points: int,
    reason: str,
    reference: str,
    *,
    description: str = "",
    order_id: int | None = None,
    expires_at: datetime | None = None,
) -> PointsEntry:
    """Add one entry and move the balance with it, in the caller's transaction.

    Raises InsufficientPoints for a debit the balance cannot cover, and DuplicateEntry when
    (member, reason, reference) exists already; the caller's transaction is then unchanged
    (a savepoint is rolled back).
    """
    if reason not in REASONS:
        raise ValueError(f"unknown ledger reason {reason!r}")
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise ValueError("points must be a whole number other than 0")
    entry = PointsEntry(
        membership_id=membership_id,
        points=points,
        reason=reason,
        reference=reference[:60],
        description=description[:200],
        order_id=order_id,
        expires_at=expires_at,
    )
    try:
        with session.begin_nested():
            moved = session.execute(
                update(Membership)
                .where(Membership.id == membership_id, Membership.points_balance + points >= 0)
                .values(points_balance=Membership.points_balance + points)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:
                raise InsufficientPoints("Not enough points for that.")
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise DuplicateEntry(f"{reason} {reference} is already in the ledger") from exc
    member = session.get(Membership, membership_id)
    if member is not None:
        session.refresh(member, ["points_balance"])
    return entry


def expiry_for_return(
    session: Session, debit: PointsEntry, now: datetime, min_days: int
) -> datetime | None:
    """The expiry date for points given back from `debit` (a redemption): that of the points
    it used up, so returning spent points never makes them last longer than earned ones."""
    lines = [
        rules.LedgerLine(points, expires_at, created_at)
        for points, expires_at, created_at in session.execute(
            select(PointsEntry.points, PointsEntry.expires_at, PointsEntry.created_at).where(
                PointsEntry.membership_id == debit.membership_id, PointsEntry.id < debit.id
            )
        )
    ]
    return rules.returned_expiry(lines, -debit.points, now, min_days)
