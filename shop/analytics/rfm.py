"""RFM segments: who buys recently, often and for much, and who is slipping away.

Each customer with a paid order gets three scores from 1 to 5 against all other customers:

* **recency** (R): days since their last paid order; fewer days score higher;
* **frequency** (F): how many paid orders they placed;
* **monetary** (M): what they spent, after refunds and returns.

A score is the customer's quintile: 1 + floor(5 x the share of customers they beat). Equal
values get equal scores, so when a third of the customers placed one order, they all score
F 1, rather than being spread over two scores at random.

The segment comes from R and FM, the mean of F and M rounded up (`SEGMENTS`), the usual
way of reading an RFM grid: high R and FM are the best customers, low R with high FM are
good customers who stopped buying.

Plain functions over plain rows; no database, no Flask.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

SCORES = 5


@dataclass(frozen=True)
class Segment:
    """A named part of the R x FM grid, and what a merchandiser might do about it."""

    slug: str
    name: str
    description: str
    action: str


SEGMENT_LIST = (
    Segment(
        "champions",
        "Champions",
        "Bought very recently, buy often and spend the most.",
        "Reward them: early access to new products, a tier upgrade, ask for reviews.",
    ),
    Segment(
        "loyal",
        "Loyal customers",
        "Buy often and spend well, and bought in the last while.",
        "Recommend more of what they like; invite them to the loyalty programme.",
    ),
    Segment(
        "potential-loyalists",
        "Potential loyalists",
        "Recent customers with a few orders behind them.",
        "Offer membership and personal picks to bring them back soon.",
    ),
    Segment(
        "new",
        "New customers",
        "Their first order was very recent.",
        "Welcome them: a good first delivery, then recommendations from that order.",
    ),
    Segment(
        "promising",
        "Promising",
        "Bought recently, but once or twice and for little.",
        "Show them what shoppers like them buy; a free-delivery threshold helps.",
    ),
    Segment(
        "need-attention",
        "Need attention",
        "Average on all three: neither recent nor gone.",
        "A timely offer on their favourite categories.",
    ),
    Segment(
        "about-to-sleep",
        "About to sleep",
        "Few orders, and not lately.",
        "Remind them of popular products before they forget the shop.",
    ),
    Segment(
        "at-risk",
        "At risk",
        "Used to buy often and well, but not for a long time.",
        "Win them back with a personal e-mail and what is new since their last order.",
    ),
    Segment(
        "cant-lose",
        "Can't lose them",
        "Among the best customers ever, and gone quiet.",
        "Contact them personally; find out what went wrong.",
    ),
    Segment(
        "hibernating",
        "Hibernating",
        "Few orders, low spend, a long time ago.",
        "Include them in seasonal mailings only.",
    ),
    Segment(
        "lost",
        "Lost",
        "Bought once or twice, for little, longest ago.",
        "Leave them out of paid campaigns.",
    ),
)
SEGMENTS = {segment.slug: segment for segment in SEGMENT_LIST}

# Rows: R from 5 (most recent) down to 1; columns: FM from 1 to 5.
_GRID = {
    5: ("new", "potential-loyalists", "potential-loyalists", "champions", "champions"),
    4: ("promising", "potential-loyalists", "potential-loyalists", "loyal", "loyal"),
    3: ("about-to-sleep", "about-to-sleep", "need-attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at-risk", "at-risk", "cant-lose"),
    1: ("lost", "lost", "at-risk", "at-risk", "cant-lose"),
}


@dataclass(frozen=True)
class CustomerTotals:
    """One customer's paid orders: how many, the last one's date, and the net spend."""

    key: Hashable
    orders: int
    last_order: date
    spent_pence: int


@dataclass(frozen=True)
class Scored:
    """A customer with their recency in days, R, F and M scores and segment."""

    totals: CustomerTotals
    recency_days: int
    r: int
    f: int
    m: int

    @property
    def fm(self) -> int:
        """The mean of F and M, rounded up."""
        return (self.f + self.m + 1) // 2

    @property
    def segment(self) -> Segment:
        """The segment of this customer's R and FM."""
        return segment_of(self.r, self.fm)


def segment_of(r: int, fm: int) -> Segment:
    """The segment of an R score and an FM score, each 1 to 5."""
    if not (1 <= r <= SCORES and 1 <= fm <= SCORES):
        raise ValueError(f"scores run from 1 to {SCORES}, not R {r} and FM {fm}")
    return SEGMENTS[_GRID[r][fm - 1]]


def _quintile(sorted_values: Sequence[float], value: float, *, higher_is_better: bool) -> int:
    n = len(sorted_values)
    if higher_is_better:
        beaten = bisect_left(sorted_values, value)
    else:
        beaten = n - bisect_right(sorted_values, value)
    return 1 + min(SCORES - 1, SCORES * beaten // n)


def score(customers: Iterable[CustomerTotals], today: date) -> list[Scored]:
    """Every customer's R, F and M scores against the others, as of `today`."""
    rows = list(customers)
    recency = [(today - row.last_order).days for row in rows]
    by_recency = sorted(recency)
    by_orders = sorted(row.orders for row in rows)
    by_spend = sorted(row.spent_pence for row in rows)
    return [
        Scored(
            totals=row,
            recency_days=days,
            r=_quintile(by_recency, days, higher_is_better=False),
            f=_quintile(by_orders, row.orders, higher_is_better=True),
            m=_quintile(by_spend, row.spent_pence, higher_is_better=True),
        )
        for row, days in zip(rows, recency, strict=True)
    ]


@dataclass(frozen=True)
class SegmentSummary:
    """How many customers a segment holds, what they are like and what they spent."""

    segment: Segment
    customers: int
    share: float  # of all scored customers
    revenue_share: float | None  # of all scored customers' net spend (None if that is <= 0)
    mean_recency_days: float
    mean_orders: float
    mean_spent_pence: int
    spent_pence: int


def summarise(scored: Sequence[Scored]) -> list[SegmentSummary]:
    """One summary per segment, in `SEGMENT_LIST` order; empty segments included."""
    members: dict[str, list[Scored]] = {segment.slug: [] for segment in SEGMENT_LIST}
    for row in scored:
        members[row.segment.slug].append(row)
    total = len(scored)
    revenue = sum(row.totals.spent_pence for row in scored)
    summaries = []
    for segment in SEGMENT_LIST:
        rows = members[segment.slug]
        n = len(rows)
        spent = sum(row.totals.spent_pence for row in rows)
        summaries.append(
            SegmentSummary(
                segment=segment,
                customers=n,
                share=n / total if total else 0.0,
                revenue_share=spent / revenue if revenue > 0 else None,
                mean_recency_days=sum(row.recency_days for row in rows) / n if n else 0.0,
                mean_orders=sum(row.totals.orders for row in rows) / n if n else 0.0,
                mean_spent_pence=round(spent / n) if n else 0,
                spent_pence=spent,
            )
        )
    return summaries


@dataclass(frozen=True)
class Move:
    """Customers who were in one segment then and are in another now."""

    before: Segment | None  # None: they had no paid order then (new customers)
    after: Segment
    customers: int


def moves(then: Sequence[Scored], now: Sequence[Scored]) -> list[Move]:
    """Who changed segment between two scorings, most customers first (ties in segment
    order); customers in the same segment both times are left out."""
    earlier = {row.totals.key: row.segment for row in then}
    counts: dict[tuple[str | None, str], int] = {}
    for row in now:
        before = earlier.get(row.totals.key)
        if before != row.segment:
            pair = (before.slug if before else None, row.segment.slug)
            counts[pair] = counts.get(pair, 0) + 1
    order = {segment.slug: i for i, segment in enumerate(SEGMENT_LIST)}

    def rank(item: tuple[tuple[str | None, str], int]) -> tuple[int, int, int]:
        (before, after), n = item
        return (-n, -1 if before is None else order[before], order[after])

    return [
        Move(SEGMENTS[before] if before else None, SEGMENTS[after], n)
        for (before, after), n in sorted(counts.items(), key=rank)
    ]
