"""What an experiment's variants did: counted in SQL, judged with `abstats`.

For each variant, over the impressions logged with its label ("<experiment>:<variant>") in
the experiment's placements between its start and its stop:

- visitors: distinct assignment units of those impressions: the account for lists shown to
  a signed-in shopper ("user:<id>", so one account in several browsers is one visitor),
  the visitor id otherwise, exactly as `assignment.assignment_unit` assigns them;
- impressions, clicks (rec_click events carrying one of their rec_ids) and CTR, the share
  of impressions clicked at least once (a proportion, so it has a Wilson interval);
- buyers: visitors with a purchase event attributed to one of their impressions, and
  conversion = buyers / visitors;
- attributed revenue: what the customer paid for the order line of each attributed
  purchase event (quantity x unit price, less the line's share of the order's tier
  discount: `orders.revenue`), in pence, and revenue per visitor, whose mean and variance
  come from per-visitor sums (visitors who bought nothing count as 0).

The first variant is the control; every other one is compared with it (z-tests for the
rates, Welch's t-test for revenue per visitor); a comparison is None when `abstats` cannot
estimate it (too few lists or visitors, or no clicks or purchases in either arm).
Purchases are attributed through the rec_id their cart addition carried, so revenue of a
purchase later refunded still counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shop.merchandising.abstats import (
    Comparison,
    Mean,
    Proportion,
    Summary,
    mean_interval,
    proportion,
    two_proportion_ztest,
    welch_ttest,
)
from shop.merchandising.experiments import variant_label
from shop.merchandising.models import Experiment
from shop.orders.revenue import paid_for_purchase
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from shop.tracking.units import person_key


@dataclass(frozen=True)
class VariantResult:
    """One variant's counts, rates with intervals, and comparisons with the control."""

    key: str
    label: str
    kind: str
    weight: int
    is_control: bool
    visitors: int
    impressions: int
    clicks: int
    clicked_impressions: int
    buyers: int
    revenue_pence: int
    ctr: Proportion
    conversion: Proportion
    revenue_per_visitor: Mean
    ctr_vs_control: Comparison | None
    conversion_vs_control: Comparison | None
    revenue_vs_control: Comparison | None


@dataclass(frozen=True)
class ExperimentResults:
    """Every variant's result, control first."""

    experiment_key: str
    variants: list[VariantResult]

    @property
    def control(self) -> VariantResult:
        """The first variant, which the others are compared with."""
        return self.variants[0]


@dataclass
class _Counts:
    impressions: int = 0
    visitors: int = 0
    clicks: int = 0
    clicked: int = 0
    buyers: int = 0
    revenue: int = 0
    revenue_sq: int = 0


def experiment_results(session: Session, experiment: Experiment) -> ExperimentResults:
    """Per-variant visitors, CTR, conversion and revenue per visitor, with significance."""
    counts = _count(session, experiment)
    control_key = experiment.variants[0]["key"]
    base = counts[control_key]
    base_ctr = proportion(base.clicked, base.impressions)
    base_conversion = proportion(base.buyers, base.visitors)
    base_revenue = Summary(base.visitors, base.revenue, base.revenue_sq)
    results = []
    for variant in experiment.variants:
        c = counts[variant["key"]]
        is_control = variant["key"] == control_key
        ctr = proportion(c.clicked, c.impressions)
        conversion = proportion(c.buyers, c.visitors)
        revenue = Summary(c.visitors, c.revenue, c.revenue_sq)
        results.append(
            VariantResult(
                key=variant["key"],
                label=variant.get("label") or variant["key"],
                kind=variant["kind"],
                weight=int(variant["weight"]),
                is_control=is_control,
                visitors=c.visitors,
                impressions=c.impressions,
                clicks=c.clicks,
                clicked_impressions=c.clicked,
                buyers=c.buyers,
                revenue_pence=c.revenue,
                ctr=ctr,
                conversion=conversion,
                revenue_per_visitor=mean_interval(revenue, floor=0.0),
                ctr_vs_control=None if is_control else two_proportion_ztest(base_ctr, ctr),
                conversion_vs_control=(
                    None if is_control else two_proportion_ztest(base_conversion, conversion)
                ),
                revenue_vs_control=None if is_control else welch_ttest(base_revenue, revenue),
            )
        )
    return ExperimentResults(experiment.key, results)


def impression_unit() -> ColumnElement[str]:
    """An impression's assignment unit in SQL (`assignment.assignment_unit` on the columns
    serving logged)."""
    return person_key(Impression.user_id, Impression.visitor_id)


def _count(session: Session, experiment: Experiment) -> dict[str, _Counts]:
    """Three grouped queries over the experiment's impressions; nothing loops over rows."""
    by_label = {variant_label(experiment.key, v["key"]): v["key"] for v in experiment.variants}
    conditions: list[Any] = [
        Impression.variant.in_(list(by_label)),
        Impression.placement.in_(list(experiment.placements)),
        Impression.created_at >= experiment.started_at,
    ]
    if experiment.stopped_at is not None:
        conditions.append(Impression.created_at <= experiment.stopped_at)
    shown = (
        select(Impression.variant, impression_unit().label("unit"), Impression.rec_id)
        .where(*conditions)
        .subquery("shown")
    )
    counts = {v["key"]: _Counts() for v in experiment.variants}

    seen = select(shown.c.variant, func.count(), func.count(distinct(shown.c.unit)))
    for label, impressions, visitors in session.execute(seen.group_by(shown.c.variant)):
        counts[by_label[label]].impressions = int(impressions)
        counts[by_label[label]].visitors = int(visitors)

    clicked = (
        select(shown.c.variant, func.count(Event.id), func.count(distinct(Event.rec_id)))
        .select_from(
            shown.join(Event, and_(Event.rec_id == shown.c.rec_id, Event.kind == "rec_click"))
        )
        .group_by(shown.c.variant)
    )
    for label, clicks, lists in session.execute(clicked):
        counts[by_label[label]].clicks = int(clicks)
        counts[by_label[label]].clicked = int(lists)

    paid = paid_for_purchase(Event.order_id, Event.product_id, Event.quantity)
    line_revenue = func.coalesce(paid, 0)
    per_visitor = (
        select(shown.c.variant, shown.c.unit, func.sum(line_revenue).label("revenue"))
        .select_from(
            shown.join(Event, and_(Event.rec_id == shown.c.rec_id, Event.kind == "purchase"))
        )
        .group_by(shown.c.variant, shown.c.unit)
        .subquery("per_visitor")
    )
    bought = select(
        per_visitor.c.variant,
        func.count(),
        func.sum(per_visitor.c.revenue),
        func.sum(per_visitor.c.revenue * per_visitor.c.revenue),
    ).group_by(per_visitor.c.variant)
    for label, buyers, revenue, revenue_sq in session.execute(bought):
        counts[by_label[label]].buyers = int(buyers)
        counts[by_label[label]].revenue = int(revenue or 0)
        counts[by_label[label]].revenue_sq = int(revenue_sq or 0)
    return counts
