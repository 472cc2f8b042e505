"""One customer as staff see them: value and RFM segment, orders, loyalty, consent, activity.

The shop, the recommender and the loyalty programme each hold part of a customer; this
puts the parts side by side on one console page, and links to where each is managed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.membership import find_membership
from loyalty.models import Tier
from loyalty.preferences import marketing_topics
from shop.accounts.models import User
from shop.analytics import rfm
from shop.analytics.customer_data import customer_totals
from shop.analytics.customers import CustomerAnalyticsError
from shop.orders import states
from shop.orders.models import Order
from shop.tracking.models import Event

RECENT_ORDERS = 5
ACTIVITY_DAYS = 30
ACTIVITY_LABELS = {
    "product_view": "product views",
    "category_view": "category views",
    "search": "searches",
    "cart_add": "cart additions",
    "rec_click": "recommendation clicks",
    "purchase": "items bought",
    "purchase_undone": "items sent back or cancelled",
    "login": "sign-ins",
}


@dataclass(frozen=True)
class Loyalty:
    """The customer's membership, if they joined."""

    membership_id: int
    number: str
    status: str
    tier: str
    points: int


@dataclass(frozen=True)
class CustomerProfile:
    """Everything the console shows about one account."""

    today: date
    account: User
    scored: rfm.Scored | None  # None until they have a paid order they kept
    orders: int  # every order, whatever its status
    refunded: int  # sales refunded in full
    recent_orders: list[Order]
    loyalty: Loyalty | None
    marketing: list[str]
    activity: dict[str, int]  # label -> events in the last ACTIVITY_DAYS days
    last_seen: datetime | None

    @property
    def label(self) -> str:
        """The e-mail address, or the imported customer number, or the account id."""
        if self.account.deleted_at is not None:
            return f"Deleted account {self.account.id}"
        if self.account.email:
            return self.account.email
        if self.account.external_ref:
            return f"Customer {self.account.external_ref}"
        return f"Account {self.account.id}"


def _scored(session: Session, user_id: int, today: date) -> rfm.Scored | None:
    scored = rfm.score(customer_totals(session).totals, today)
    return next((row for row in scored if row.totals.key == user_id), None)


def _loyalty(session: Session, user_id: int) -> Loyalty | None:
    member = find_membership(session, user_id)
    if member is None:
        return None
    tier = session.get(Tier, member.tier_id)
    return Loyalty(
        member.id, member.number, member.status, tier.name if tier else "", member.points_balance
    )


def _activity(session: Session, user_id: int, since: datetime) -> dict[str, int]:
    rows = session.execute(
        select(Event.kind, func.count(Event.id))
        .where(
            Event.user_id == user_id,
            Event.kind.in_(list(ACTIVITY_LABELS)),
            Event.created_at >= since,
        )
        .group_by(Event.kind)
    )
    counts = {kind: n for kind, n in rows}
    return {label: int(counts[kind]) for kind, label in ACTIVITY_LABELS.items() if kind in counts}


def _last_seen(session: Session, user_id: int) -> datetime | None:
    return session.scalar(select(func.max(Event.created_at)).where(Event.user_id == user_id))


def customer_profile(session: Session, user_id: int, now: datetime) -> CustomerProfile:
    """One account's profile; CustomerAnalyticsError (404) for no such customer or staff."""
    account = session.get(User, user_id)
    if account is None or account.role is not None:
        raise CustomerAnalyticsError(f"There is no customer account {user_id}.", 404)
    mine = Order.user_id == user_id
    recent = session.scalars(
        select(Order).where(mine).order_by(Order.placed_at.desc(), Order.id.desc())
    ).fetchmany(RECENT_ORDERS)
    return CustomerProfile(
        today=now.date(),
        account=account,
        scored=_scored(session, user_id, now.date()),
        orders=session.scalar(select(func.count(Order.id)).where(mine)) or 0,
        refunded=session.scalar(
            select(func.count(Order.id)).where(
                mine, Order.kind == "sale", Order.status == states.REFUNDED
            )
        )
        or 0,
        recent_orders=list(recent),
        loyalty=_loyalty(session, user_id),
        marketing=marketing_topics(session, [user_id]).get(user_id, []),
        activity=_activity(session, user_id, now - timedelta(days=ACTIVITY_DAYS)),
        last_seen=_last_seen(session, user_id),
    )
