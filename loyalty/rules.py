"""The programme's pure rules: points for an order, the tier for a spend, refunds, expiry.

No database and no Flask: every function takes plain values and returns plain values, so
the rules are unit-tested on their own. Money is integer pence; points are whole numbers.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Protocol, TypeVar

MAX_DISCOUNT_BP = 5000  # a tier discount of at most 50%
MIN_MULTIPLIER_PCT = 100  # 1x: a tier never earns less than the base rate
MAX_MULTIPLIER_PCT = 1000  # 10x
MAX_NAME_LENGTH = 40


class TierLike(Protocol):
    """Anything with a rank and a qualifying threshold (a Tier row or a TierSpec)."""

    @property
    def rank(self) -> int: ...

    @property
    def threshold(self) -> int: ...


T = TypeVar("T", bound=TierLike)


@dataclass(frozen=True)
class TierSpec:
    """A tier's configuration as plain values (thresholds in pence, or points)."""

    name: str
    rank: int
    threshold: int
    discount_bp: int = 0
    multiplier_pct: int = 100
    free_shipping: bool = False
    priority_support: bool = False
    early_access: bool = False


# ---------------------------------------------------------------------------------------
# Earning


def points_for_order(goods_pence: int, points_per_pound: int, multiplier_pct: int) -> int:
    """Points for the paid goods of an order: base rate x tier multiplier, rounded down.

    `goods_pence` is what the shopper paid for the goods (after discounts, without
    shipping: shipping earns nothing). A negative or zero amount earns nothing.
    """
    if goods_pence <= 0 or points_per_pound <= 0 or multiplier_pct <= 0:
        return 0
    return goods_pence * points_per_pound * multiplier_pct // (100 * 100)


def goods_paid_pence(total_pence: int, shipping_pence: int) -> int:
    """What an order paid for its goods: the total without shipping (never below zero)."""
    return max(total_pence - shipping_pence, 0)


# ---------------------------------------------------------------------------------------
# Tiers


def sorted_tiers(tiers: Iterable[T]) -> list[T]:
    """Tiers from the lowest rank to the highest."""
    return sorted(tiers, key=lambda t: t.rank)


def tier_for(value: int, tiers: Iterable[T]) -> T:
    """The highest tier whose threshold `value` (12-month spend in pence, or points) reaches.

    The lowest tier is the floor even when its threshold is above the value; raise
    ValueError when there are no tiers.
    """
    ordered = sorted_tiers(tiers)
    if not ordered:
        raise ValueError("no tiers are configured")
    found = ordered[0]
    for tier in ordered[1:]:
        if value >= tier.threshold:
            found = tier
    return found


def next_tier(current: T, tiers: Iterable[T]) -> T | None:
    """The tier ranked just above `current`, or None at the top."""
    above = [t for t in sorted_tiers(tiers) if t.rank > current.rank]
    return above[0] if above else None


@dataclass(frozen=True)
class Progress:
    """How far a member is towards the next tier."""

    value: int  # their qualifying spend (pence) or points
    next_threshold: int | None  # None at the top tier
    remaining: int  # how much more is needed (0 at the top)
    percent: int  # 0..100: value as a share of the next tier's threshold


def progress(value: int, upcoming: TierLike | None) -> Progress:
    """Progress towards the next tier's threshold (100% at the top).

    The percentage is the value over the next threshold, the figure members read next to
    "£664.43 of £1,967.00", not the share of the gap from the current tier.
    """
    if upcoming is None:
        return Progress(value, None, 0, 100)
    remaining = max(upcoming.threshold - value, 0)
    if upcoming.threshold <= 0:
        percent = 100
    else:
        percent = min(max(value, 0), upcoming.threshold) * 100 // upcoming.threshold
    return Progress(value, upcoming.threshold, remaining, percent)


def validate_tiers(tiers: Sequence[TierSpec]) -> list[str]:
    """Everything wrong with a tier configuration, as messages (empty when it is valid).

    Rules: at least one tier; unique names and ranks; the lowest tier's threshold is 0;
    thresholds strictly increase with rank (no overlaps, no duplicates); benefits in range.
    """
    errors: list[str] = []
    if not tiers:
        return ["There must be at least one tier."]
    names = [t.name.strip().casefold() for t in tiers]
    for tier in tiers:
        label = tier.name.strip() or f"rank {tier.rank}"
        if not tier.name.strip():
            errors.append(f"Tier {label}: the name is empty.")
        elif len(tier.name.strip()) > MAX_NAME_LENGTH:
            errors.append(f"Tier {label}: the name is longer than {MAX_NAME_LENGTH} characters.")
        if tier.threshold < 0:
            errors.append(f"Tier {label}: the threshold cannot be negative.")
        if not 0 <= tier.discount_bp <= MAX_DISCOUNT_BP:
            errors.append(f"Tier {label}: the discount must be between 0% and 50%.")
        if not MIN_MULTIPLIER_PCT <= tier.multiplier_pct <= MAX_MULTIPLIER_PCT:
            errors.append(f"Tier {label}: the points multiplier must be between 1x and 10x.")
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        errors.append(f"Two tiers are called {name!r}; tier names must be unique.")
    ranks = [t.rank for t in tiers]
    for rank in sorted({r for r in ranks if ranks.count(r) > 1}):
        errors.append(f"Two tiers have rank {rank}; ranks must be unique.")
    ordered = sorted(tiers, key=lambda t: t.rank)
    if ordered[0].threshold != 0:
        errors.append(
            f"The lowest tier ({ordered[0].name.strip()}) must have a threshold of 0, "
            "so that every member has a tier."
        )
    for lower, higher in pairwise(ordered):
        if lower.rank != higher.rank and higher.threshold <= lower.threshold:
            errors.append(
                f"Thresholds overlap: {higher.name.strip()} (rank {higher.rank}) must need more "
                f"than {lower.name.strip()} (rank {lower.rank})."
            )
    return errors


# ---------------------------------------------------------------------------------------
# Refunds


def points_to_reverse(
    awarded: int, already_reversed: int, refunded_total_pence: int, order_total_pence: int
) -> int:
    """Points a refund moves back, in proportion to the refunded share of the order: the
    points it earned (taken back) or the points spent on it (returned).

    Works on the cumulative refunded amount: after refunds totalling R of an order of T,
    round(R / T * awarded) points are reversed in all (every point once R reaches T). The
    result is what that adds to `already_reversed`, so several partial refunds never
    reverse more than was awarded, whatever their order.
    """
    if awarded <= 0 or refunded_total_pence <= 0:
        return 0
    if order_total_pence <= 0 or refunded_total_pence >= order_total_pence:
        target = awarded
    else:
        # Round half up in integers: (2·R·A + T) // (2·T).
        target = (2 * refunded_total_pence * awarded + order_total_pence) // (2 * order_total_pence)
        target = min(target, awarded)
    return max(target - max(already_reversed, 0), 0)


# ---------------------------------------------------------------------------------------
# Expiry


@dataclass(frozen=True)
class LedgerLine:
    """One ledger entry as the expiry rules see it."""

    points: int
    expires_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Lot:
    """What is left of one credit after debits consumed the oldest credits first."""

    expires_at: datetime | None
    remaining: int


_FAR_FUTURE = datetime.max


def remaining_lots(lines: Iterable[LedgerLine]) -> list[Lot]:
    """FIFO: every debit consumes the credits that expire first; return what is left.

    Credits without an expiry date (adjustments) never expire and are consumed last. Past
    "expire" entries are debits too, so points that expired once are never expired again.
    """
    every = list(lines)
    credits = [line for line in every if line.points > 0]
    debit = -sum(line.points for line in every if line.points < 0)
    credits.sort(key=lambda c: (c.expires_at or _FAR_FUTURE, c.created_at or _FAR_FUTURE))
    lots: list[Lot] = []
    for credit in credits:
        used = min(debit, credit.points)
        debit -= used
        if credit.points - used > 0:
            lots.append(Lot(credit.expires_at, credit.points - used))
    return lots


def returned_expiry(
    lines_before: Sequence[LedgerLine], spent: int, now: datetime, min_days: int
) -> datetime | None:
    """When points given back from a debit of `spent` expire: the latest expiry of the lots
    that debit used up (None when one of them never expires), but not within `min_days` of
    `now`, so that the member can be reminded before they go."""
    latest: datetime | None = None
    left = spent
    for lot in remaining_lots(lines_before):
        if left <= 0:
            break
        if lot.expires_at is None:
            return None
        left -= lot.remaining
        latest = lot.expires_at if latest is None else max(latest, lot.expires_at)
    if latest is None:
        return None
    return max(latest, now + timedelta(days=min_days))


def points_to_expire(lines: Sequence[LedgerLine], now: datetime) -> int:
    """Points whose expiry has passed and that no debit has consumed yet."""
    return sum(
        lot.remaining
        for lot in remaining_lots(lines)
        if lot.expires_at is not None and lot.expires_at <= now
    )


def expiring_within(lines: Sequence[LedgerLine], now: datetime, days: int) -> dict[str, int]:
    """Points that will expire after `now` and within `days` days, by expiry date (ISO)."""
    horizon = now + timedelta(days=days)
    by_date: dict[str, int] = {}
    for lot in remaining_lots(lines):
        if lot.expires_at is not None and now < lot.expires_at <= horizon:
            key = lot.expires_at.date().isoformat()
            by_date[key] = by_date.get(key, 0) + lot.remaining
    return dict(sorted(by_date.items()))


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months (the day clamped to the month's last day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


# ---------------------------------------------------------------------------------------
# Default tiers


def percentile(values: Sequence[int], pct: float) -> float:
    """The pct-th percentile (0-100) of values, interpolating linearly between ranks."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def calibrated_thresholds(
    spends: Sequence[int],
    percentiles: Sequence[float],
    fallback: Sequence[int],
    min_customers: int,
) -> list[int]:
    """Thresholds (pence, whole pounds) at the given percentiles of the customers' spend.

    Falls back to `fallback` when there are fewer than `min_customers` spends, or when the
    percentiles do not give strictly increasing thresholds (a very flat distribution).
    The first threshold is always 0.
    """
    if len(spends) < min_customers:
        return list(fallback)
    found = [0]
    for pct in percentiles[1:]:
        found.append(int(percentile(spends, pct) + 50) // 100 * 100)  # half up
    if any(b <= a for a, b in pairwise(found)):
        return list(fallback)
    return found
