"""Points expiry (FIFO) and the reminder e-mail some days before (`flask loyalty expire-points`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty import ledger, notifications, rules
from loyalty.models import LoyaltyNotice, Membership, PointsEntry
from loyalty.settings import load_settings
from shop.accounts.models import User
from shop.db import Transaction, utcnow
from shop.wording import counted

NOTICE_KIND = "points_expiring"
BATCH_SIZE = 500


def expire_reference(now: datetime) -> str:
    """The ledger reference of one day's expiry run."""
    return f"expire:{now.date().isoformat()}"


@dataclass
class ExpiryResult:
    """What one run did."""

    members: int = 0
    expired_members: int = 0
    expired_points: int = 0
    reminders: int = 0

    def summary(self) -> str:
        """One line for the command's output."""
        return (
            f"{counted(self.members, 'member')} checked: "
            f"{counted(self.expired_points, 'point')} expired for "
            f"{counted(self.expired_members, 'member')}; "
            f"{counted(self.reminders, 'reminder e-mail')} queued."
        )


def expire_points(
    transaction: Transaction, *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> ExpiryResult:
    """Expire the points whose date has passed (oldest first, after what debits used) and
    remind members of points expiring within `expiry_reminder_days`, once per date."""
    moment = now or utcnow()
    result = ExpiryResult()
    with transaction() as session:
        settings = load_settings(session)
        horizon = moment + timedelta(days=settings.expiry_reminder_days)
        candidates = list(
            session.scalars(
                select(PointsEntry.membership_id)
                .join(Membership, Membership.id == PointsEntry.membership_id)
                .where(
                    PointsEntry.points > 0,
                    PointsEntry.expires_at.is_not(None),
                    PointsEntry.expires_at <= horizon,
                    Membership.points_balance > 0,
                    Membership.status == "active",
                )
                .distinct()
                .order_by(PointsEntry.membership_id)
            )
        )
    for start in range(0, len(candidates), batch_size):
        with transaction() as session:
            _batch(
                session,
                candidates[start : start + batch_size],
                moment,
                settings.expiry_reminder_days,
                result,
                min_redeem=settings.min_redeem_points,
            )
    return result


def _batch(
    session: Session,
    ids: list[int],
    moment: datetime,
    days: int,
    result: ExpiryResult,
    *,
    min_redeem: int = 0,
) -> None:
    lines: dict[int, list[rules.LedgerLine]] = defaultdict(list)
    for member_id, points, expires_at, created_at in session.execute(
        select(
            PointsEntry.membership_id,
            PointsEntry.points,
            PointsEntry.expires_at,
            PointsEntry.created_at,
        ).where(PointsEntry.membership_id.in_(ids))
    ):
        lines[member_id].append(rules.LedgerLine(points, expires_at, created_at))
    sent = {
        (mid, key)
        for mid, key in session.execute(
            select(LoyaltyNotice.membership_id, LoyaltyNotice.key).where(
                LoyaltyNotice.membership_id.in_(ids), LoyaltyNotice.kind == NOTICE_KIND
            )
        )
    }
    people = {
        member.id: (member, user)
        for member, user in session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.id.in_(ids))
        )
    }
    for member_id in ids:
        result.members += 1
        member, user = people[member_id]
        due = rules.points_to_expire(lines[member_id], moment)
        if due > 0 and _expire(session, member, due, moment):
            result.expired_members += 1
            result.expired_points += due
        for expires_on, points in rules.expiring_within(lines[member_id], moment, days).items():
            if (member_id, expires_on) in sent or not user.email:
                continue
            if _remind(session, member, user, points, expires_on, moment, min_redeem):
                result.reminders += 1


def _expire(session: Session, member: Membership, due: int, moment: datetime) -> bool:
    try:
        ledger.append(
            session,
            member.id,
            -due,
            "expire",
            expire_reference(moment),
            description=f"{due:,} points reached their expiry date",
        )
    except (ledger.DuplicateEntry, ledger.InsufficientPoints):
        return False  # already expired today, or spent at this very moment (next run)
    return True


def _remind(
    session: Session,
    member: Membership,
    user: User,
    points: int,
    expires_on: str,
    moment: datetime,
    min_redeem: int = 0,
) -> bool:
    try:
        with session.begin_nested():
            session.add(
                LoyaltyNotice(
                    membership_id=member.id, kind=NOTICE_KIND, key=expires_on, created_at=moment
                )
            )
            session.flush()
    except IntegrityError:
        return False  # another run sent it
    return notifications.send_points_expiring(
        session, user, member, points, expires_on, min_redeem_points=min_redeem
    )
