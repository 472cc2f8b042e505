"""Tiers on the database: qualifying spend or points, upgrades, downgrades with a grace
period (`evaluate_tiers`), the default tiers and the tier configuration admins edit."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty import notifications, rules, tier_news
from loyalty.models import Membership, PointsEntry, Tier, TierChange
from loyalty.settings import ProgrammeSettings, load_settings
from shop.accounts.models import User
from shop.console import audit
from shop.db import Transaction, utcnow
from shop.orders import states
from shop.orders.models import Order
from shop.wording import counted

log = logging.getLogger(__name__)

# A sale counts towards the tier once paid, and for what was not refunded.
PAID_STATUSES = states.KEPT
WINDOW = timedelta(days=365)
DEFAULT_PERCENTILES = (0, 50, 80, 95)
FALLBACK_THRESHOLDS_PENCE = (0, 10_000, 50_000, 150_000)
MIN_CUSTOMERS_TO_CALIBRATE = 50
DEFAULT_TIERS = (
    rules.TierSpec("Member", 1, 0, discount_bp=0, multiplier_pct=100),
    rules.TierSpec("Silver", 2, 0, discount_bp=300, multiplier_pct=125),
    rules.TierSpec("Gold", 3, 0, discount_bp=500, multiplier_pct=150, free_shipping=True),
    rules.TierSpec(
        "Platinum",
        4,
        0,
        discount_bp=800,
        multiplier_pct=200,
        free_shipping=True,
        priority_support=True,
        early_access=True,
    ),
)
BATCH_SIZE = 1000


class ChangedSinceOpened(Exception):
    """Someone saved the same record after this form was opened, so nothing was saved."""


class TierConfigError(ValueError):
    """A tier configuration that breaks the rules; `messages` says what is wrong."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


# ---------------------------------------------------------------------------------------
# Reading tiers and qualifying values


def all_tiers(session: Session) -> list[Tier]:
    """Every tier, lowest rank first."""
    return list(session.scalars(select(Tier).order_by(Tier.rank)))


def net_spend_pence() -> object:
    """SQL for what one order counts towards a tier: a sale's paid goods less refunds (never
    below 0), and a credit note's total taken off."""
    net = Order.total_pence - Order.shipping_pence - Order.refunded_pence
    return case((Order.kind == "return", -func.abs(Order.total_pence)), (net > 0, net), else_=0)


def _spend_filter(since: datetime) -> object:
    paid_sale = and_(Order.kind == "sale", Order.status.in_(PAID_STATUSES))
    return and_(or_(paid_sale, Order.kind == "return"), Order.placed_at >= since)


def spend_by_membership(
    session: Session, now: datetime, membership_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """12-month spend (pence, never below 0) per member, in one grouped query; members
    without any order in the window are absent."""
    query = (
        select(Membership.id, func.sum(net_spend_pence()))
        .join(Order, Order.user_id == Membership.user_id)
        .where(_spend_filter(now - WINDOW))
        .group_by(Membership.id)
    )
    if membership_ids is not None:
        query = query.where(Membership.id.in_(list(membership_ids)))
    return {int(mid): max(int(total or 0), 0) for mid, total in session.execute(query)}


def points_by_membership(
    session: Session, now: datetime, membership_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """Points earned over 12 months (less refund reversals) per member, in one grouped query."""
    query = (
        select(PointsEntry.membership_id, func.sum(PointsEntry.points))
        .where(PointsEntry.reason.in_(("earn", "refund")), PointsEntry.created_at >= now - WINDOW)
        .group_by(PointsEntry.membership_id)
    )
    if membership_ids is not None:
        query = query.where(PointsEntry.membership_id.in_(list(membership_ids)))
    return {int(mid): max(int(total or 0), 0) for mid, total in session.execute(query)}


def qualifying_values(
    session: Session,
    settings: ProgrammeSettings,
    now: datetime,
    membership_ids: Iterable[int] | None = None,
) -> dict[int, int]:
    """Each member's qualifying value: 12-month spend in pence, or 12-month points."""
    if settings.tier_basis == "points":
        return points_by_membership(session, now, membership_ids)
    return spend_by_membership(session, now, membership_ids)


def user_spend(session: Session, user_id: int, now: datetime) -> int:
    """One customer's 12-month spend in pence (members or not)."""
    total = session.scalar(
        select(func.coalesce(func.sum(net_spend_pence()), 0)).where(
            Order.user_id == user_id, _spend_filter(now - WINDOW)
        )
    )
    return max(int(total or 0), 0)


def describe_value(value: int, basis: str) -> str:
    """A qualifying value for people: '£1,234.00' or '1,234 points'."""
    return counted(value, "point") if basis == "points" else notifications.money(value)


# ---------------------------------------------------------------------------------------
# Changing a member's tier


def change_tier(
    session: Session,
    member: Membership,
    new: Tier,
    reason: str,
    *,
    now: datetime | None = None,
    old: Tier | None = None,
    user: User | None = None,
) -> TierChange:
    """Move a member to another tier: history entry and confirmation e-mail, same transaction."""
    moment = now or utcnow()
    old = old if old is not None else session.get(Tier, member.tier_id)
    change = TierChange(
        membership_id=member.id,
        from_tier_id=old.id if old else None,
        to_tier_id=new.id,
        reason=reason[:200],
        created_at=moment,
    )
    session.add(change)
    member.tier_id = new.id
    member.tier_since = moment
    member.below_tier_since = None
    account = user or session.get(User, member.user_id)
    if account is not None:
        notifications.send_tier_changed(session, account, member, old, new, reason)
    session.flush()
    return change


def upgrade_if_crossed(
    session: Session,
    member: Membership,
    *,
    now: datetime | None = None,
    settings: ProgrammeSettings | None = None,
) -> TierChange | None:
    """Upgrade the member at once when their qualifying value reached a higher tier.

    Never downgrades (that is `evaluate_tiers`' job, with its grace period); a member who
    is back at or above their tier's threshold loses their "below since" mark.
    """
    moment = now or utcnow()
    settings = settings or load_settings(session)
    tiers = all_tiers(session)
    if not tiers:
        return None
    value = qualifying_values(session, settings, moment, [member.id]).get(member.id, 0)
    target = rules.tier_for(value, tiers)
    current = next((t for t in tiers if t.id == member.tier_id), None)
    if current is not None and target.rank <= current.rank:
        if target.rank == current.rank and member.below_tier_since is not None:
            member.below_tier_since = None
        return None
    reason = f"Your {_basis_label(settings)} reached {describe_value(value, settings.tier_basis)}"
    return change_tier(session, member, target, reason, now=moment, old=current)


def _basis_label(settings: ProgrammeSettings) -> str:
    return "12-month points" if settings.tier_basis == "points" else "12-month spend"


# ---------------------------------------------------------------------------------------
# The daily evaluation


@dataclass
class EvaluationResult:
    """What one `evaluate_tiers` run did."""

    members: int = 0
    upgraded: int = 0
    downgraded: int = 0
    marked_below: int = 0
    cleared: int = 0
    skipped: int = 0
    emails: int = 0

    def summary(self) -> str:
        """One line for the command's output."""
        return (
            f"{counted(self.members, 'member')} evaluated: {self.upgraded:,} upgraded, "
            f"{self.downgraded:,} downgraded, {self.marked_below:,} newly below their tier "
            f"(grace period started), {self.cleared:,} back at their tier, "
            f"{self.skipped:,} skipped (changed during the run); "
            f"{counted(self.emails, 'e-mail')} queued."
        )


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def evaluate_tiers(
    transaction: Transaction,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> EvaluationResult:
    """Re-evaluate every active member's tier against their 12-month spend (or points).

    Upgrades apply at once. A member below their tier is marked the first time; they are
    downgraded only if still below `downgrade_grace_days` later, and the mark is cleared
    when they are back. The qualifying values come from one grouped query; members are
    then updated in batches, each in its own transaction, with set-based UPDATEs. A member
    whose tier changed after the run started (an order paid meanwhile) is left alone.
    """
    moment = now or utcnow()
    started = utcnow()
    result = EvaluationResult()
    with transaction() as session:
        settings = load_settings(session)
        tiers = all_tiers(session)
        if not tiers:
            return result
        values = qualifying_values(session, settings, moment)
        member_ids = list(
            session.scalars(
                select(Membership.id).where(Membership.status == "active").order_by(Membership.id)
            )
        )
    by_id = {t.id: t for t in tiers}
    grace = timedelta(days=settings.downgrade_grace_days)
    for chunk in _chunks(member_ids, batch_size):
        with transaction() as session:
            _evaluate_batch(
                session, chunk, values, tiers, by_id, settings, moment, started, grace, result
            )
    return result


def _evaluate_batch(
    session: Session,
    chunk: list[int],
    values: dict[int, int],
    tiers: list[Tier],
    by_id: dict[int, Tier],
    settings: ProgrammeSettings,
    moment: datetime,
    started: datetime,
    grace: timedelta,
    result: EvaluationResult,
) -> None:
    rows = session.execute(
        select(
            Membership.id,
            Membership.tier_id,
            Membership.tier_since,
            Membership.below_tier_since,
        )
        .where(Membership.id.in_(chunk), Membership.status == "active")
        .with_for_update()
    ).all()
    mark: list[int] = []
    clear: list[int] = []
    moves: dict[tuple[int, int], list[int]] = defaultdict(list)
    reasons: dict[int, str] = {}
    for member_id, tier_id, tier_since, below_since in rows:
        result.members += 1
        if tier_since is not None and tier_since > max(started, moment):
            result.skipped += 1
            continue
        current = by_id.get(tier_id)
        value = values.get(member_id, 0)
        target = rules.tier_for(value, tiers)
        told = describe_value(value, settings.tier_basis)
        if current is None or target.rank > current.rank:
            moves[(tier_id, target.id)].append(member_id)
            reasons[member_id] = f"Your {_basis_label(settings)} reached {told}"
            result.upgraded += 1
        elif target.rank == current.rank:
            if below_since is not None:
                clear.append(member_id)
                result.cleared += 1
        elif below_since is None:
            mark.append(member_id)
            result.marked_below += 1
        elif moment - below_since >= grace:
            moves[(tier_id, target.id)].append(member_id)
            needed = describe_value(current.threshold, settings.tier_basis)
            reasons[member_id] = (
                f"Your {_basis_label(settings)} of {told} stayed below {current.name}'s "
                f"{needed} for {settings.downgrade_grace_days} days"
            )
            result.downgraded += 1
    if mark:
        session.execute(
            update(Membership).where(Membership.id.in_(mark)).values(below_tier_since=moment)
        )
    if clear:
        session.execute(
            update(Membership).where(Membership.id.in_(clear)).values(below_tier_since=None)
        )
    if not moves:
        return
    for (from_id, to_id), ids in moves.items():
        session.execute(
            update(Membership)
            .where(Membership.id.in_(ids))
            .values(tier_id=to_id, tier_since=moment, below_tier_since=None)
        )
        session.execute(
            insert(TierChange),
            [
                {
                    "membership_id": mid,
                    "from_tier_id": from_id,
                    "to_tier_id": to_id,
                    "reason": reasons[mid][:200],
                    "created_at": moment,
                }
                for mid in ids
            ],
        )
    result.emails += _notify_moves(session, moves, reasons, by_id)


def _notify_moves(
    session: Session,
    moves: dict[tuple[int, int], list[int]],
    reasons: dict[int, str],
    by_id: dict[int, Tier],
) -> int:
    moved = [mid for ids in moves.values() for mid in ids]
    people = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(moved), User.email.is_not(None))
    ).all()
    from_of = {mid: from_id for (from_id, _to), ids in moves.items() for mid in ids}
    sent = 0
    for member, user in people:
        new = by_id[member.tier_id]
        old = by_id.get(from_of[member.id])
        if notifications.send_tier_changed(session, user, member, old, new, reasons[member.id]):
            sent += 1
    return sent


# ---------------------------------------------------------------------------------------
# Default tiers


def customer_spends(session: Session, now: datetime) -> list[int]:
    """12-month spend (pence) of every customer with any, in one grouped query."""
    rows = session.execute(
        select(Order.user_id, func.sum(net_spend_pence()))
        .where(Order.user_id.is_not(None), _spend_filter(now - WINDOW))
        .group_by(Order.user_id)
    )
    return [int(total) for _uid, total in rows if total and int(total) > 0]


def default_tier_specs(session: Session, now: datetime | None = None) -> list[rules.TierSpec]:
    """The four default tiers, thresholds at the 0/50/80/95th percentiles of 12-month spend.

    Fewer than 50 customers with a 12-month spend give the fixed £0/£100/£500/£1,500. With
    the points basis, thresholds become the points that spend would earn at the base rate.
    """
    moment = now or utcnow()
    settings = load_settings(session)
    thresholds = rules.calibrated_thresholds(
        customer_spends(session, moment),
        DEFAULT_PERCENTILES,
        FALLBACK_THRESHOLDS_PENCE,
        MIN_CUSTOMERS_TO_CALIBRATE,
    )
    if settings.tier_basis == "points":
        thresholds = [t * settings.points_per_pound // 100 for t in thresholds]
    return [
        rules.TierSpec(**{**asdict(spec), "threshold": threshold})
        for spec, threshold in zip(DEFAULT_TIERS, thresholds, strict=True)
    ]


def ensure_default_tiers(session: Session, now: datetime | None = None) -> list[Tier]:
    """Create the default tiers when there are none; return every tier, lowest first."""
    existing = all_tiers(session)
    if existing:
        return existing
    specs = default_tier_specs(session, now)
    try:
        with session.begin_nested():
            for spec in specs:
                session.add(Tier(**asdict(spec)))
            session.flush()
    except IntegrityError:  # another transaction created them at the same moment
        log.info("default tiers were created concurrently")
    return all_tiers(session)


# ---------------------------------------------------------------------------------------
# Configuration (console)


def tier_spec(tier: Tier) -> rules.TierSpec:
    """A tier row as plain values."""
    return rules.TierSpec(
        name=tier.name,
        rank=tier.rank,
        threshold=tier.threshold,
        discount_bp=tier.discount_bp,
        multiplier_pct=tier.multiplier_pct,
        free_shipping=tier.free_shipping,
        priority_support=tier.priority_support,
        early_access=tier.early_access,
    )


@dataclass(frozen=True)
class SavedTier:
    """A saved tier and how many members were e-mailed about the change; or, with
    `review`, nothing saved yet because the e-mail needs the admin's confirmation."""

    tier: Tier
    members_told: int
    changed: bool = True
    review: Review | None = None


@dataclass(frozen=True)
class Review:
    """What a change would e-mail members, shown to the admin before anything is saved."""

    intro: str  # who gets the e-mail and why
    changes: list[str]
    members: int


def save_tier(
    session: Session,
    actor: audit.Actor,
    tier_id: int | None,
    spec: rules.TierSpec,
    opened: rules.TierSpec | None = None,
    confirmed: bool = False,
) -> SavedTier:
    """Create (tier_id None) or update a tier after checking the whole configuration.

    Raises TierConfigError with every problem (overlapping thresholds, duplicate names or
    ranks, benefits out of range) and changes nothing then. Audited. When an existing
    tier's benefits or name change, its members are told (`tier_news`). `opened` is the
    tier as the editing form showed it: if it was saved differently since, raise
    ChangedSinceOpened. Saving what is stored already changes nothing (`changed` False).
    A change that would e-mail members is only saved `confirmed`; before that, the result's
    `review` says what they would read.
    """
    tiers = all_tiers(session)
    tier = None
    if tier_id is not None:
        tier = next((t for t in tiers if t.id == tier_id), None)
        if tier is None:
            raise LookupError(f"no tier {tier_id}")
        if opened is not None:
            session.refresh(tier, with_for_update=True)  # another admin's save waits or shows
            if tier_spec(tier) != opened:
                raise ChangedSinceOpened(
                    "Another admin saved this tier after you opened this page, so nothing "
                    "was saved. The form now shows the tier as saved: make your change again."
                )
    spec = rules.TierSpec(**{**asdict(spec), "name": spec.name.strip()})
    if tier is not None and tier_spec(tier) == spec:
        return SavedTier(tier, 0, changed=False)
    proposed = [tier_spec(t) for t in tiers if t is not tier] + [spec]
    errors = rules.validate_tiers(proposed)
    if errors:
        raise TierConfigError(errors)
    old_spec = tier_spec(tier) if tier is not None else None
    change = tier_news.benefit_change(old_spec, spec) if old_spec is not None else None
    if tier is not None and change is not None and not confirmed:
        members = tier_news.audience(session, tier.id, change)
        if members:
            review = Review(
                tier_news.review_intro(change, spec.name),
                tier_news.change_lines(change, spec.name),
                members,
            )
            return SavedTier(tier, 0, changed=False, review=review)
    before = asdict(old_spec) if old_spec is not None else None
    if tier is None:
        tier = Tier(**asdict(spec))
        session.add(tier)
    else:
        if tier.rank != spec.rank:  # ranks are unique: step aside first, then take the new one
            tier.rank = -tier.id
            session.flush()
        for key, value in asdict(spec).items():
            setattr(tier, key, value)
    session.flush()
    action = "loyalty.tier.create" if before is None else "loyalty.tier.update"
    after = asdict(spec)
    if before is not None:
        before, after = audit.changed(before, after)
    audit.record(session, actor, action, f"tier {tier.id} {tier.name}", before, after)
    if change is None:
        return SavedTier(tier, 0)
    return SavedTier(tier, tier_news.tell_members(session, tier, change))
