"""Customer analytics for the console: RFM segments, lifetime value, retention by cohort.

Who counts as a customer: an account with a paid order (staff accounts excluded), or a
guest e-mail address with one (a guest's orders under one address are one customer).
Orders with neither, such as imported invoices without a customer number, cannot be told
apart and are counted separately (`CustomerData.unidentified_orders`).

Orders count once paid and not wholly refunded, by the UTC day they were placed; what a
customer spent is their orders' totals less refunds, less returns (orders of kind "return",
with negative totals), delivery included (`customer_data`, which adds them up in SQL).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.membership import member_badges
from loyalty.preferences import marketing_topics
from shop.accounts.models import User
from shop.analytics import cohorts as cohort_math
from shop.analytics import rfm
from shop.analytics.customer_data import customer_totals, median_days_between_orders, month_rows
from shop.console import audit
from shop.console.catalog_admin import csv_cell
from shop.db import Transaction
from shop.money import plain_amount
from shop.pagination import Page, check_page

SEGMENT_PAGE_SIZE = 50
MOVES_DAYS = 30  # the overview shows who changed segment since this many days ago
LOOKUP_CHUNK = 10_000  # account ids per query when naming a segment's customers
DEFAULT_MONTHS = 12
MAX_MONTHS = 36


class CustomerAnalyticsError(ValueError):
    """A request for customer analytics that cannot be answered, with its HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- overview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The customer analytics start page: value so far, the RFM segments, and who moved
    between segments in the last MOVES_DAYS days."""

    today: date
    value: cohort_math.CustomerValue | None
    segments: list[rfm.SegmentSummary]
    unidentified_orders: int
    moves: list[rfm.Move]
    moves_since: date

    @property
    def customers(self) -> int:
        """Customers with at least one kept order."""
        return self.value.customers if self.value else 0


def overview(session: Session, today: date) -> Overview:
    """Customer value and the RFM segments as of `today`."""
    data = customer_totals(session)
    scored = rfm.score(data.totals, today)
    since = today - timedelta(days=MOVES_DAYS)
    end_of_then = datetime.combine(since + timedelta(days=1), time())
    then = rfm.score(customer_totals(session, before=end_of_then).totals, since)
    return Overview(
        today=today,
        value=cohort_math.customer_value(data.totals, median_days_between_orders(session)),
        segments=rfm.summarise(scored),
        unidentified_orders=data.unidentified_orders,
        moves=rfm.moves(then, scored),
        moves_since=since,
    )


# --- one segment's customers -------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who a customer is, as far as staff may see: for the segment list and its CSV."""

    label: str  # an e-mail address, "Customer 12748" (imported) or "Deleted account 7"
    account_id: int | None
    email: str | None
    tier: str | None
    marketing: list[str]  # the marketing topics they confirmed (labels)


@dataclass(frozen=True)
class SegmentRow:
    """A customer of a segment, with their scores."""

    person: Person
    scored: rfm.Scored


@dataclass(frozen=True)
class SegmentPage:
    """One page of a segment's customers, best spenders first."""

    today: date
    summary: rfm.SegmentSummary
    page: Page[SegmentRow]


def _segment(slug: str) -> rfm.Segment:
    segment = rfm.SEGMENTS.get(slug)
    if segment is None:
        names = ", ".join(s.name for s in rfm.SEGMENT_LIST)
        raise CustomerAnalyticsError(f"There is no segment {slug[:40]!r}; they are {names}.", 404)
    return segment


def best_spenders_first(row: rfm.Scored) -> tuple[int, int, int, int | str]:
    """Most spent first, then most recent; then accounts by id, then guests by address."""
    key = row.totals.key
    guest = isinstance(key, str)
    return (-row.totals.spent_pence, row.recency_days, int(guest), key if guest else int(key))


def segment_members(
    session: Session, slug: str, today: date
) -> tuple[list[rfm.Scored], list[rfm.Scored]]:
    """The segment's customers (best spenders first) and all scored customers;
    CustomerAnalyticsError (404) for an unknown segment."""
    segment = _segment(slug)
    scored = rfm.score(customer_totals(session).totals, today)
    members = [row for row in scored if row.segment == segment]
    members.sort(key=best_spenders_first)
    return members, scored


def _people(session: Session, keys: Sequence[Hashable]) -> dict[Hashable, Person]:
    all_ids = [key for key in keys if isinstance(key, int)]
    users: dict[int, User] = {}
    badges: dict[int, str] = {}
    topics: dict[int, list[str]] = {}
    # In chunks: a statement takes at most 65,535 parameters on PostgreSQL (and 32,766 on
    # SQLite), and a whole segment's CSV can name more customers than that.
    for start in range(0, len(all_ids), LOOKUP_CHUNK):
        ids = all_ids[start : start + LOOKUP_CHUNK]
        users.update((u.id, u) for u in session.scalars(select(User).where(User.id.in_(ids))))
        badges.update(member_badges(session, ids))
        topics.update(marketing_topics(session, ids))
    people: dict[Hashable, Person] = {}
    for key in keys:
        if not isinstance(key, int):
            people[key] = Person(str(key), None, str(key), None, [])
            continue
        user = users.get(key)
        if user is None or user.deleted_at is not None:
            label = f"Deleted account {key}"
        elif user.email:
            label = user.email
        elif user.external_ref:
            label = f"Customer {user.external_ref}"
        else:
            label = f"Account {key}"
        email = user.email if user is not None and user.deleted_at is None else None
        people[key] = Person(label, key, email, badges.get(key), topics.get(key, []))
    return people


def segment_page(session: Session, slug: str, today: date, page: int) -> SegmentPage:
    """One page of a segment's customers; CustomerAnalyticsError for an unknown segment
    (404) or a page past the end (404)."""
    members, scored = segment_members(session, slug, today)
    check_page(page, len(members), SEGMENT_PAGE_SIZE)
    start = (page - 1) * SEGMENT_PAGE_SIZE
    shown = members[start : start + SEGMENT_PAGE_SIZE]
    people = _people(session, [row.totals.key for row in shown])
    summary = next(s for s in rfm.summarise(scored) if s.segment.slug == slug)
    items = [SegmentRow(people[row.totals.key], row) for row in shown]
    return SegmentPage(today, summary, Page(items, len(members), page, SEGMENT_PAGE_SIZE))


CSV_COLUMNS = (
    "customer",
    "account_id",
    "email",
    "tier",
    "marketing_emails",
    "orders",
    "last_order",
    "days_since_last_order",
    "spent",
    "r",
    "f",
    "m",
    "segment",
)


def segment_csv(
    session: Session, transaction: Transaction, actor: audit.Actor, slug: str, today: date
) -> str:
    """All of a segment's customers as CSV text (header first), best spenders first, read
    with `session`; the download is added to the audit log in a `transaction` of its own."""
    members, _scored = segment_members(session, slug, today)
    people = _people(session, [row.totals.key for row in members])
    # Not in the reading session: on SQLite a read transaction cannot start writing once
    # another request has written since it began ("database is locked" at once).
    with transaction() as tx:
        audit.record(
            tx, actor, "customers.export", f"segment {slug}", after={"customers": len(members)}
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in members:
        person, totals = people[row.totals.key], row.totals
        writer.writerow(
            [
                csv_cell(person.label),
                "" if person.account_id is None else str(person.account_id),
                csv_cell(person.email or ""),
                person.tier or "",
                "; ".join(person.marketing),
                str(totals.orders),
                totals.last_order.isoformat(),
                str(row.recency_days),
                plain_amount(totals.spent_pence),
                str(row.r),
                str(row.f),
                str(row.m),
                row.segment.name,
            ]
        )
    return out.getvalue()


# --- cohorts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CohortReport:
    """Retention and value per monthly cohort, newest cohort first."""

    today: date
    months: int
    cohorts: list[cohort_math.Cohort]
    average: cohort_math.CohortAverage


def parse_months(raw: str | None) -> int:
    """The ?months= value: a whole number from 1 to MAX_MONTHS (DEFAULT_MONTHS if empty)."""
    raw = (raw or "").strip()
    if not raw:
        return DEFAULT_MONTHS
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_MONTHS:
        raise CustomerAnalyticsError(
            f"Months must be a whole number from 1 to {MAX_MONTHS}, not {raw[:20]!r}."
        )
    return int(raw)


def cohort_report(session: Session, today: date, months: int) -> CohortReport:
    """The last `months` monthly cohorts with `months` months of retention and value."""
    found = cohort_math.cohorts(month_rows(session), today, months)
    return CohortReport(today, months, found, cohort_math.average(found, months))
