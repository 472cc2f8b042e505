"""The shopping funnel: of the visitors in a period, how far each got towards paying.

A visitor is one browser (the visitor id cookie; it stays across signing in). Each visitor
counts once, at the furthest step they reached in the period:

1. **visited**: any tracked activity (a product, category or search page, a cart change,
   a click on a recommendation, signing in);
2. **viewed a product**;
3. **added to cart**;
4. **placed an order** (checked out, paid or not);
5. **paid** for an order.

A step's figure is the visitors who got at least that far, so a shopper who added to cart
from a list without opening the product counts as having viewed one, and the figures never
grow down the funnel. Pages that record nothing (the home page alone) are not visits
here. Left out: the imported order history (no clickstream), and staff's browsers (every
visitor id a staff account was ever used in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, literal, select, union_all
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.analytics.online import Period
from shop.importer.loading import VISITOR_ID as IMPORT_VISITOR
from shop.orders import states
from shop.orders.models import Order
from shop.tracking.models import EVENT_KINDS, Event

STEPS = (
    ("visited", "Visited"),
    ("viewed", "Viewed a product"),
    ("carted", "Added to cart"),
    ("ordered", "Placed an order"),
    ("paid", "Paid"),
)
VISITED, VIEWED, CARTED, ORDERED, PAID = range(len(STEPS))
# Purchases are counted from the orders (they also cover visitors who switched tracking off).
VISIT_KINDS = tuple(kind for kind in EVENT_KINDS if kind != "purchase")


@dataclass(frozen=True)
class Step:
    """Visitors who got at least as far as one step, and the share of the step before."""

    key: str
    label: str
    visitors: int
    of_previous: float | None  # None for the first step, or after a step nobody reached
    of_first: float | None


@dataclass(frozen=True)
class ShoppingFunnel:
    """The funnel of one period, next to the period of the same length just before it."""

    period: Period
    steps: list[Step]
    previous: list[Step]

    @property
    def previous_period(self) -> Period:
        """The period of the same length ending the day before this one starts."""
        return _previous(self.period)


def _previous(period: Period) -> Period:
    end = period.start - timedelta(days=1)
    return Period(end - timedelta(days=period.days - 1), end)


def _furthest_counts(session: Session, period: Period) -> list[int]:
    """Visitors by the furthest step they reached, indexed by step."""
    start, end = period.bounds()
    event_step = case(
        (Event.kind == "cart_add", CARTED), (Event.kind == "product_view", VIEWED), else_=VISITED
    )
    order_step = case((Order.status.in_(states.WERE_PAID), PAID), else_=ORDERED)
    staff = select(User.id).where(User.role.is_not(None))
    staff_browsers = select(Event.visitor_id).where(Event.user_id.in_(staff))
    reached = union_all(
        select(Event.visitor_id.label("visitor"), event_step.label("step")).where(
            Event.kind.in_(VISIT_KINDS),  # by kind and time: the events' (kind, time) index
            Event.created_at >= start,
            Event.created_at < end,
            Event.visitor_id != IMPORT_VISITOR,
            Event.visitor_id.not_in(staff_browsers),
        ),
        select(Order.visitor_id.label("visitor"), order_step.label("step")).where(
            Order.placed_at >= start,
            Order.placed_at < end,
            Order.kind == "sale",
            Order.visitor_id.is_not(None),
            Order.visitor_id != IMPORT_VISITOR,
            Order.visitor_id.not_in(staff_browsers),
        ),
    ).subquery()
    furthest = (
        select(reached.c.visitor, func.max(reached.c.step).label("furthest"))
        .group_by(reached.c.visitor)
        .subquery()
    )
    rows = session.execute(
        select(furthest.c.furthest, func.count(literal(1))).group_by(furthest.c.furthest)
    )
    counts = [0] * len(STEPS)
    for step, n in rows:
        counts[int(step)] += int(n)
    return counts


def _steps(counts: list[int]) -> list[Step]:
    at_least = [sum(counts[i:]) for i in range(len(counts))]
    first = at_least[0]
    steps = []
    for i, (key, label) in enumerate(STEPS):
        before = at_least[i - 1] if i else 0
        steps.append(
            Step(
                key=key,
                label=label,
                visitors=at_least[i],
                of_previous=at_least[i] / before if i and before else None,
                of_first=at_least[i] / first if first else None,
            )
        )
    return steps


def shopping_funnel(session: Session, period: Period) -> ShoppingFunnel:
    """The funnel of `period` and of the period of the same length before it."""
    return ShoppingFunnel(
        period=period,
        steps=_steps(_furthest_counts(session, period)),
        previous=_steps(_furthest_counts(session, _previous(period))),
    )
