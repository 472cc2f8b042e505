"""Membership: joining with consent to the terms, the member summary, the staff badge."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from loyalty import notifications, rules, tiers
from loyalty.models import Membership, PointsEntry, Tier, TierChange
from loyalty.settings import load_settings
from shop.accounts.models import ConsentRecord, User
from shop.db import utcnow
from shop.pagination import Page, check_page

TERMS_CONSENT = "loyalty_terms"
NUMBER_PREFIX = "HP-"
HISTORY_PAGE_SIZE = 20
EXPIRY_NOTICE_DAYS = 90  # how far ahead the member page lists points about to expire


class MembershipError(ValueError):
    """Joining is not possible as asked (no consent, account cannot join)."""


class NotAMember(LookupError):
    """The customer has no active membership."""


@dataclass(frozen=True)
class JoinResult:
    """The membership, and whether this call created it (False: they were a member)."""

    membership: Membership
    created: bool


def new_member_number() -> str:
    """A random membership number such as 'HP-04718263'."""
    return f"{NUMBER_PREFIX}{secrets.randbelow(10**8):08d}"


def find_membership(session: Session, user_id: int) -> Membership | None:
    """The customer's active membership, or None."""
    return session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.status == "active")
    )


def join(
    session: Session, user_id: int, *, consent: bool, now: datetime | None = None
) -> JoinResult:
    """Enrol a signed-in customer who consented to the programme terms.

    Records the consent (with the terms version), gives a unique membership number and the
    tier their 12-month spend reaches, and queues the welcome e-mail, all in the caller's
    transaction. Joining again returns the existing membership unchanged.
    """
    existing = session.scalar(select(Membership).where(Membership.user_id == user_id))
    if existing is not None and existing.status == "active":
        return JoinResult(existing, False)
    user = session.get(User, user_id)
    if user is None or not user.can_login or user.deleted_at is not None:
        raise MembershipError("Only a customer with an account can join the programme.")
    if existing is not None:
        raise MembershipError("This membership is closed; please contact us to reopen it.")
    if not consent:
        raise MembershipError("Please accept the programme terms to join.")
    moment = now or utcnow()
    settings = load_settings(session)
    tier_rows = tiers.ensure_default_tiers(session, moment)
    # A new member has no points yet; with the spend basis their past orders count.
    value = tiers.user_spend(session, user_id, moment) if settings.tier_basis == "spend" else 0
    tier = rules.tier_for(value, tier_rows)
    session.add(
        ConsentRecord(
            user_id=user_id,
            kind=TERMS_CONSENT,
            granted=True,
            detail=f"Programme terms version {settings.terms_version}",
            created_at=moment,
        )
    )
    member = _insert_membership(session, user_id, tier, settings.terms_version, moment)
    session.add(
        TierChange(
            membership_id=member.id,
            from_tier_id=None,
            to_tier_id=tier.id,
            reason=(
                "Joined the programme"
                if tier.rank == tier_rows[0].rank
                else f"Joined with a 12-month spend of {tiers.describe_value(value, 'spend')}"
            ),
            created_at=moment,
        )
    )
    notifications.send_welcome(session, user, member, tier)
    session.flush()
    return JoinResult(member, True)


def _insert_membership(
    session: Session, user_id: int, tier: Tier, terms_version: str, moment: datetime
) -> Membership:
    for _attempt in range(20):
        number = new_member_number()
        if session.scalar(select(Membership.id).where(Membership.number == number)):
            continue
        member = Membership(
            user_id=user_id,
            number=number,
            tier_id=tier.id,
            status="active",
            points_balance=0,
            terms_version=terms_version,
            joined_at=moment,
            tier_since=moment,
        )
        try:
            with session.begin_nested():
                session.add(member)
                session.flush()
        except IntegrityError as exc:
            if session.scalar(select(Membership.id).where(Membership.user_id == user_id)):
                raise MembershipError("You have just joined the programme.") from exc
            continue  # the number was taken at the same moment: draw another
        return member
    raise RuntimeError("could not draw a free membership number")  # pragma: no cover


# ---------------------------------------------------------------------------------------
# The member page


@dataclass(frozen=True)
class TierHistoryLine:
    """One tier change, with tier names."""

    created_at: datetime
    from_tier: str | None
    to_tier: str
    reason: str
    upgrade: bool


@dataclass(frozen=True)
class MemberSummary:
    """Everything the member page shows."""

    membership: Membership
    tier: Tier
    benefits: list[str]
    next_tier: Tier | None
    progress: rules.Progress
    basis: str
    points: Page[PointsEntry]
    history: Page[TierHistoryLine]
    expiring: dict[str, int]
    below_tier_since: datetime | None
    grace_days: int

    def describe(self, value: int) -> str:
        """A qualifying value for people ('£12.00' or '1,200 points')."""
        return tiers.describe_value(value, self.basis)


def member_summary(
    session: Session,
    user_id: int,
    *,
    points_page: int = 1,
    history_page: int = 1,
    page_size: int = HISTORY_PAGE_SIZE,
    now: datetime | None = None,
) -> MemberSummary:
    """The signed-in customer's own membership; raises NotAMember, or PageError past the end."""
    member = find_membership(session, user_id)
    if member is None:
        raise NotAMember("You are not a member of the programme yet.")
    moment = now or utcnow()
    settings = load_settings(session)
    tier_rows = tiers.all_tiers(session)
    tier = next(t for t in tier_rows if t.id == member.tier_id)
    upcoming = rules.next_tier(tier, tier_rows)
    value = tiers.qualifying_values(session, settings, moment, [member.id]).get(member.id, 0)
    return MemberSummary(
        membership=member,
        tier=tier,
        benefits=notifications.benefit_lines(tier),
        next_tier=upcoming,
        progress=rules.progress(value, upcoming),
        basis=settings.tier_basis,
        points=points_history(session, member.id, page=points_page, size=page_size),
        history=tier_history(session, member.id, page=history_page, size=page_size),
        expiring=rules.expiring_within(
            ledger_lines(session, member.id), moment, EXPIRY_NOTICE_DAYS
        ),
        below_tier_since=member.below_tier_since,
        grace_days=settings.downgrade_grace_days,
    )


def ledger_lines(session: Session, membership_id: int) -> list[rules.LedgerLine]:
    """The member's ledger as the expiry rules see it."""
    rows = session.execute(
        select(PointsEntry.points, PointsEntry.expires_at, PointsEntry.created_at).where(
            PointsEntry.membership_id == membership_id
        )
    )
    return [rules.LedgerLine(p, e, c) for p, e, c in rows]


def points_history(
    session: Session, membership_id: int, *, page: int = 1, size: int = HISTORY_PAGE_SIZE
) -> Page[PointsEntry]:
    """The member's ledger entries, newest first, one page."""
    total = (
        session.scalar(
            select(func.count())
            .select_from(PointsEntry)
            .where(PointsEntry.membership_id == membership_id)
        )
        or 0
    )
    check_page(page, total, size)
    entries = session.scalars(
        select(PointsEntry)
        .where(PointsEntry.membership_id == membership_id)
        .order_by(PointsEntry.created_at.desc(), PointsEntry.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Page(list(entries), total, page, size)


def tier_history(
    session: Session, membership_id: int, *, page: int = 1, size: int = HISTORY_PAGE_SIZE
) -> Page[TierHistoryLine]:
    """The member's tier changes, newest first, one page."""
    total = (
        session.scalar(
            select(func.count())
            .select_from(TierChange)
            .where(TierChange.membership_id == membership_id)
        )
        or 0
    )
    check_page(page, total, size)
    old, new = aliased(Tier), aliased(Tier)
    rows = session.execute(
        select(TierChange, old, new)
        .join(new, new.id == TierChange.to_tier_id)
        .outerjoin(old, old.id == TierChange.from_tier_id)
        .where(TierChange.membership_id == membership_id)
        .order_by(TierChange.created_at.desc(), TierChange.id.desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    lines = [
        TierHistoryLine(
            created_at=change.created_at,
            from_tier=before.name if before else None,
            to_tier=after.name,
            reason=change.reason,
            upgrade=before is None or after.rank > before.rank,
        )
        for change, before, after in rows
    ]
    return Page(lines, total, page, size)


def member_badges(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """Short labels for staff on orders, e.g. 'Platinum · priority support', by user id, in
    one query; customers who are not members are left out."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Membership.user_id, Tier.name, Tier.priority_support)
        .join(Tier, Membership.tier_id == Tier.id)
        .where(Membership.user_id.in_(ids), Membership.status == "active")
    )
    return {
        user_id: f"{name} · priority support" if priority else str(name)
        for user_id, name, priority in rows
    }


def member_badge(session: Session, user_id: int) -> str | None:
    """A short label for staff on orders (see `member_badges`); None for customers who are
    not members."""
    return member_badges(session, [user_id]).get(user_id)


def priority_support_users() -> Select[tuple[int]]:
    """The ids of active members whose tier gives priority support, as a subquery."""
    return (
        select(Membership.user_id)
        .join(Tier, Membership.tier_id == Tier.id)
        .where(Membership.status == "active", Tier.priority_support.is_(True))
    )
