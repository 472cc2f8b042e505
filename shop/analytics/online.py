"""Online recommendation metrics: what happened to the lists the shop showed.

Every list shown is an `Impression` with a `rec_id`; events that came from a list carry that
id back (`Event.rec_id`). Attribution is therefore an exact join on `rec_id`, and each event
counts for the placement and the **day of the impression** it came from (a cohort view:
"of the lists shown on day D, how many were clicked"), even when the click or the purchase
happened a day later.

Definitions (all per impression, i.e. per list shown):

* impressions: lists shown (rows of `recommendation_impressions`);
* clicks: `rec_click` events carrying an impression's `rec_id`; lists clicked: impressions
  with at least one click; CTR = lists clicked / impressions (at most 100%, the same
  definition as the A/B results; a list clicked twice is two clicks but one list clicked);
* cart adds: `cart_add` events carrying a `rec_id`; add-to-cart rate = cart adds / impressions;
* purchases: `purchase` events carrying a `rec_id` (one per paid order line);
  conversion = purchases / impressions; purchases per click = purchases / clicks;
* attributed revenue: the sum over those purchase events of what the customer paid for the
  order line (quantity x unit price, less the line's share of the order's code and tier
  discounts: `orders.revenue`), in integer minor units (pence). Refunds are not subtracted.

The grouping happens in the database (GROUP BY the caller's columns), on SQLite and
PostgreSQL alike; Python only merges the (small) grouped results. No Flask in here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from shop.form_fields import DATE_RANGE_MESSAGE, date_in_range
from shop.orders.revenue import paid_for_purchase
from shop.recommendation_models import Impression
from shop.tracking.models import Event

DEFAULT_DAYS = 30
MAX_DAYS = 365
CLICK, CART_ADD, PURCHASE = "rec_click", "cart_add", "purchase"
ATTRIBUTED_KINDS = (CLICK, CART_ADD, PURCHASE)


class MetricsInputError(ValueError):
    """A filter the merchandiser gave cannot be used (bad date, unknown placement, ...)."""


# --- input --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A range of whole UTC days, both ends included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """The half-open [first midnight, midnight after the last day) as naive UTC datetimes."""
        return datetime.combine(self.start, time()), datetime.combine(
            self.end + timedelta(days=1), time()
        )

    def dates(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.start + timedelta(days=n) for n in range(self.days)]


def _parse_day(raw: str, name: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise MetricsInputError(
            f"The {name} date {raw[:20]!r} is not a date like 2026-11-23."
        ) from None
    if not date_in_range(day):
        raise MetricsInputError(DATE_RANGE_MESSAGE)
    return day


def parse_period(
    start_raw: str | None,
    end_raw: str | None,
    *,
    today: date,
    default_days: int = DEFAULT_DAYS,
    max_days: int = MAX_DAYS,
) -> Period:
    """The period from two optional ISO dates; by default the last `default_days` to today."""
    start_raw, end_raw = (start_raw or "").strip(), (end_raw or "").strip()
    end = _parse_day(end_raw, "end") if end_raw else today
    start = _parse_day(start_raw, "start") if start_raw else end - timedelta(days=default_days - 1)
    if end < start:
        if not end_raw:  # the end was left out, so it is today: the start is what is wrong
            raise MetricsInputError(
                f"The start date {start} is in the future: nothing can have happened yet. "
                f"Choose a start date up to {today}."
            )
        raise MetricsInputError(f"The end date {end} is before the start date {start}.")
    period = Period(start, end)
    if period.days > max_days:
        raise MetricsInputError(
            f"The period covers {period.days:,} days; choose at most {max_days:,} days."
        )
    return period


def parse_placement(raw: str | None, known: Iterable[str]) -> str | None:
    """A placement filter: None for all placements, else one of `known`."""
    raw = (raw or "").strip()
    if not raw:
        return None
    names = set(known)
    if raw not in names:
        raise MetricsInputError(
            f"Unknown placement {raw[:40]!r}; choose one of {', '.join(sorted(names))}."
        )
    return raw


# --- figures ------------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Funnel:
    """Counts for a group of impressions and the events attributed to them."""

    impressions: int = 0
    clicks: int = 0
    cart_adds: int = 0
    purchases: int = 0
    revenue_pence: int = 0
    lists_clicked: int = 0

    def __add__(self, other: Funnel) -> Funnel:
        return Funnel(
            self.impressions + other.impressions,
            self.clicks + other.clicks,
            self.cart_adds + other.cart_adds,
            self.purchases + other.purchases,
            self.revenue_pence + other.revenue_pence,
            self.lists_clicked + other.lists_clicked,
        )

    @property
    def ctr(self) -> float | None:
        """The share of lists clicked at least once (None without impressions)."""
        return _ratio(self.lists_clicked, self.impressions)

    @property
    def add_to_cart_rate(self) -> float | None:
        """Cart additions per impression."""
        return _ratio(self.cart_adds, self.impressions)

    @property
    def conversion(self) -> float | None:
        """Purchased order lines per impression."""
        return _ratio(self.purchases, self.impressions)

    @property
    def purchases_per_click(self) -> float | None:
        """Purchased order lines per click."""
        return _ratio(self.purchases, self.clicks)

    @property
    def revenue_per_impression_pence(self) -> int | None:
        """Attributed revenue per list shown, rounded down to whole pence."""
        return self.revenue_pence // self.impressions if self.impressions else None


def day_bucket(dialect_name: str, column: Any) -> ColumnElement[Any]:
    """The UTC day of a timestamp column: date() on SQLite, a cast to DATE elsewhere."""
    if dialect_name == "sqlite":
        return func.date(column)
    return cast(column, Date)


def as_date(value: date | str) -> date:
    """A day key as returned by `day_bucket` (a 'YYYY-MM-DD' string on SQLite) as a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def dialect_of(session: Session) -> str:
    """The name of the session's database dialect ("sqlite", "postgresql")."""
    return session.get_bind().dialect.name


def _impression_filter(period: Period, where: Sequence[ColumnElement[bool]]) -> list[Any]:
    low, high = period.bounds()
    return [Impression.created_at >= low, Impression.created_at < high, *where]


def impression_counts(
    session: Session,
    period: Period,
    *,
    by: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[tuple[Any, ...], int]:
    """Lists shown in the period, counted per group of `by` (expressions on Impression)."""
    query = (
        select(*by, func.count(Impression.id))
        .where(*_impression_filter(period, where))
        .group_by(*by)
    )
    return {tuple(row[:-1]): int(row[-1]) for row in session.execute(query)}


def attributed_counts(
    session: Session,
    period: Period,
    *,
    by: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Attribution: clicks, lists clicked, cart adds, purchases and revenue (pence) of the
    period's lists.

    Events are joined to their impression on `rec_id` and grouped by `by` (expressions on
    Impression, e.g. placement, variant, a day bucket), so any breakdown of impressions gets
    the matching events. Returns {group: {"rec_click", "lists_clicked", "cart_add",
    "purchase", "revenue_pence"}}. A rec_id belongs to one impression, so lists clicked add
    up across groups.
    """
    low, _high = period.bounds()
    paid = paid_for_purchase(Event.order_id, Event.product_id, Event.quantity)
    revenue = case((Event.kind == PURCHASE, paid))

    def counted(kind: str) -> ColumnElement[Any]:
        return func.count(case((Event.kind == kind, Event.id)))

    query = (
        select(
            *by,
            counted(CLICK),
            counted(CART_ADD),
            counted(PURCHASE),
            func.coalesce(func.sum(revenue), 0),
            func.count(func.distinct(case((Event.kind == CLICK, Event.rec_id)))),
        )
        .select_from(Event)
        .join(Impression, Impression.rec_id == Event.rec_id)
        .where(
            Event.kind.in_(ATTRIBUTED_KINDS),
            Event.rec_id.is_not(None),
            # An event comes after the list it came from; this lets the kind/time index help.
            Event.created_at >= low,
            *_impression_filter(period, where),
        )
        .group_by(*by)
    )
    found: dict[tuple[Any, ...], dict[str, int]] = {}
    width = len(by)
    for row in session.execute(query):
        clicks, cart_adds, purchases, revenue_pence, lists_clicked = row[width:]
        found[tuple(row[:width])] = {
            CLICK: int(clicks),
            CART_ADD: int(cart_adds),
            PURCHASE: int(purchases),
            "revenue_pence": int(revenue_pence),
            "lists_clicked": int(lists_clicked),
        }
    return found


def funnel_by(
    session: Session,
    period: Period,
    *,
    by: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[tuple[Any, ...], Funnel]:
    """Impressions and attributed events per group, e.g. by=[Impression.variant] for a test."""
    shown = impression_counts(session, period, by=by, where=where)
    events = attributed_counts(session, period, by=by, where=where)
    result = {}
    for key in shown.keys() | events.keys():
        counts = events.get(key, {})
        result[key] = Funnel(
            impressions=shown.get(key, 0),
            clicks=counts.get(CLICK, 0),
            cart_adds=counts.get(CART_ADD, 0),
            purchases=counts.get(PURCHASE, 0),
            revenue_pence=counts.get("revenue_pence", 0),
            lists_clicked=counts.get("lists_clicked", 0),
        )
    return result


# --- the console's report -----------------------------------------------------------------


@dataclass(frozen=True)
class DayRow:
    """One placement on one day."""

    day: date
    placement: str
    funnel: Funnel


@dataclass
class OnlineReport:
    """The online-metrics page: per placement and day, per day, per placement and in total."""

    period: Period
    placement: str | None
    rows: list[DayRow] = field(default_factory=list)

    @property
    def placements(self) -> list[str]:
        """The placements with data in the period, sorted."""
        return sorted({row.placement for row in self.rows})

    @property
    def totals(self) -> Funnel:
        """Everything in the period."""
        return sum((row.funnel for row in self.rows), Funnel())

    def by_placement(self) -> dict[str, Funnel]:
        """Totals per placement."""
        result: dict[str, Funnel] = {}
        for row in self.rows:
            result[row.placement] = result.get(row.placement, Funnel()) + row.funnel
        return dict(sorted(result.items()))

    def by_day(self) -> list[tuple[date, Funnel]]:
        """Totals per day, every day of the period (zeros on days without data)."""
        result = dict.fromkeys(self.period.dates(), Funnel())
        for row in self.rows:
            result[row.day] = result[row.day] + row.funnel
        return list(result.items())

    def series(self, placement: str) -> list[Funnel]:
        """One placement's funnel on every day of the period."""
        result = dict.fromkeys(self.period.dates(), Funnel())
        for row in self.rows:
            if row.placement == placement:
                result[row.day] = row.funnel
        return list(result.values())

    def chart_data(self) -> dict[str, dict[str, Any]]:
        """Data for the page's charts (read by static/js/console-charts.js)."""
        labels = [day.isoformat() for day in self.period.dates()]
        days = [funnel for _day, funnel in self.by_day()]

        def rate(value: float | None) -> float | None:
            return None if value is None else round(value, 6)

        return {
            "impressions": {
                "type": "bar",
                "title": "Lists shown per day, by placement",
                "format": "count",
                "stacked": True,
                "labels": labels,
                "datasets": [
                    {"label": name, "data": [f.impressions for f in self.series(name)]}
                    for name in self.placements
                ],
            },
            "ctr": {
                "type": "line",
                "title": "Click-through rate per day, by placement",
                "format": "percent",
                "labels": labels,
                "datasets": [
                    {"label": name, "data": [rate(f.ctr) for f in self.series(name)]}
                    for name in self.placements
                ],
            },
            "rates": {
                "type": "line",
                "title": "CTR, add-to-cart rate and conversion per day (all shown placements)",
                "format": "percent",
                "labels": labels,
                "datasets": [
                    {"label": "CTR", "data": [rate(f.ctr) for f in days]},
                    {"label": "Add-to-cart rate", "data": [rate(f.add_to_cart_rate) for f in days]},
                    {"label": "Conversion", "data": [rate(f.conversion) for f in days]},
                ],
            },
            "revenue": {
                "type": "bar",
                "title": "Attributed revenue per day",
                "format": "pence",
                "stacked": True,
                "labels": labels,
                "datasets": [
                    {"label": name, "data": [f.revenue_pence for f in self.series(name)]}
                    for name in self.placements
                ],
            },
        }


def online_report(session: Session, period: Period, placement: str | None = None) -> OnlineReport:
    """Impressions, CTR, add-to-cart, conversion and revenue per placement and day."""
    day = day_bucket(dialect_of(session), Impression.created_at).label("day")
    where = [Impression.placement == placement] if placement else []
    grouped = funnel_by(session, period, by=[Impression.placement, day], where=where)
    rows = [DayRow(as_date(day_key), name, funnel) for (name, day_key), funnel in grouped.items()]
    rows.sort(key=lambda row: (row.day, row.placement))
    return OnlineReport(period, placement, rows)
