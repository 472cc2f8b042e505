"""Retention and lifetime value by monthly cohort, and what customers are worth so far.

A customer's cohort is the calendar month of their first paid order. For each cohort and
each month since (offset 0 is the cohort's own month):

* **retention**: the share of the cohort's customers who placed a paid order in that month
  (offset 0 is always 100%);
* **value**: the cohort's net spend up to the end of that month (refunds and returns taken
  off), per customer of the cohort: the lifetime value curve, so far.

A month that has not ended yet is marked as partial; months still to come are left empty.
Plain functions over per-customer, per-month rows (`MonthRow`); no database, no Flask.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from statistics import median

from shop.analytics.rfm import CustomerTotals


def month_index(day: date) -> int:
    """Months since year 0: consecutive months differ by one."""
    return day.year * 12 + day.month - 1


def month_start(index: int) -> date:
    """The first day of a month given by `month_index`."""
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class MonthRow:
    """One customer's kept sale orders in one month, and their net spend there (returns,
    negative, included)."""

    customer: Hashable
    month: int  # month_index
    sales: int
    net_pence: int


@dataclass(frozen=True)
class Cohort:
    """The customers whose first paid order fell in one month, and what they did since."""

    month: date  # its first day
    customers: int
    retention: list[float | None]  # per offset; None: the month has not started
    value_pence: list[int | None]  # cumulative net spend per customer, per offset
    partial_offset: int | None  # the offset of the month that is still running, if shown
    first_of_records: bool  # the records' first month: everyone who bought before is in it


@dataclass(frozen=True)
class CustomerValue:
    """What customers are worth so far and how often they come back."""

    customers: int
    repeat_share: float  # customers with two or more paid orders
    mean_value_pence: int
    median_value_pence: int
    top_fifth_revenue_share: float | None  # of net spend, from the best 20% of customers
    median_days_between_orders: float | None  # between a customer's order days


def cohorts(rows: Sequence[MonthRow], today: date, months: int) -> list[Cohort]:
    """The last `months` monthly cohorts up to `today`'s month, newest first, each with
    `months` offsets (0 to months - 1)."""
    first: dict[Hashable, int] = {}
    for row in rows:
        if row.sales and (row.customer not in first or row.month < first[row.customer]):
            first[row.customer] = row.month
    if not first:
        return []
    records_start = min(first.values())
    now = month_index(today)
    oldest = now - months + 1
    sizes: dict[int, int] = {}
    for index in first.values():
        if index >= oldest:
            sizes[index] = sizes.get(index, 0) + 1
    active: dict[int, list[int]] = {cohort: [0] * months for cohort in sizes}
    net: dict[int, list[int]] = {cohort: [0] * months for cohort in sizes}
    for row in rows:
        cohort = first.get(row.customer)
        if cohort is None or cohort < oldest:
            continue
        offset = row.month - cohort
        if 0 <= offset < months:
            active[cohort][offset] += row.sales > 0
            net[cohort][offset] += row.net_pence
    result = []
    for cohort in range(now, oldest - 1, -1):
        size = sizes.get(cohort, 0)
        if not size:
            continue
        elapsed = now - cohort  # the last offset that has started
        retention: list[float | None] = []
        value: list[int | None] = []
        running = 0
        for offset in range(months):
            if offset > elapsed:
                retention.append(None)
                value.append(None)
                continue
            retention.append(active[cohort][offset] / size)
            running += net[cohort][offset]
            value.append(round(running / size))
        result.append(
            Cohort(
                month=month_start(cohort),
                customers=size,
                retention=retention,
                value_pence=value,
                partial_offset=elapsed if elapsed < months else None,
                first_of_records=cohort == records_start,
            )
        )
    return result


def customer_value(
    totals: Sequence[CustomerTotals], median_days_between_orders: float | None
) -> CustomerValue | None:
    """Value so far per customer, the repeat share and the share of the best fifth."""
    if not totals:
        return None
    values = sorted((row.spent_pence for row in totals), reverse=True)
    n = len(values)
    total = sum(values)
    top = values[: max(1, round(n / 5))]
    return CustomerValue(
        customers=n,
        repeat_share=sum(1 for row in totals if row.orders > 1) / n,
        mean_value_pence=round(total / n),
        median_value_pence=round(median(values)),
        top_fifth_revenue_share=sum(top) / total if total > 0 else None,
        median_days_between_orders=median_days_between_orders,
    )


@dataclass(frozen=True)
class CohortAverage:
    """Each offset's figures over the cohorts whose month at that offset has ended,
    weighted by cohort size (None where no cohort has got that far)."""

    retention: list[float | None]
    value_pence: list[int | None]


def average(found: Sequence[Cohort], months: int) -> CohortAverage:
    """The size-weighted mean of `found` per offset, leaving out months still running."""
    retention: list[float | None] = []
    value: list[int | None] = []
    for offset in range(months):
        done = [
            c
            for c in found
            if c.retention[offset] is not None
            and (c.partial_offset is None or offset < c.partial_offset)
        ]
        size = sum(c.customers for c in done)
        if not size:
            retention.append(None)
            value.append(None)
            continue
        retention.append(sum((c.retention[offset] or 0.0) * c.customers for c in done) / size)
        value.append(round(sum((c.value_pence[offset] or 0) * c.customers for c in done) / size))
    return CohortAverage(retention, value)
