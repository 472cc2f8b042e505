"""Reading what shoppers did as recommender interactions (views, cart additions, purchases).

Training reads everything (`load_interactions`); serving reads one shopper's recent history
plus the events still waiting in the writer's buffer (`shopper_interactions`). A cart
addition the shopper later took back out of the cart, without buying the product in
between, does not count (`kept_cart_adds`); their view of the product still does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from recommender import Interactions
from shop.db import utcnow
from shop.tracking.models import UNDONE_KIND, Event

# Shop event kinds and the interaction kinds the recommender knows them as.
KINDS = {"product_view": "view", "cart_add": "cart_add", "purchase": "purchase"}
REMOVAL = "cart_remove"  # read to take back the cart additions before it; not passed on
UNDONE = UNDONE_KIND  # read to take back (part of) its order's purchase; not passed on
READ_KINDS = (*KINDS, REMOVAL, UNDONE)
VISITOR_HISTORY_LIMIT = 500
SESSION_WINDOW = timedelta(days=1)


@dataclass(frozen=True)
class Shopper:
    """Who a list is for: an account, an anonymous visitor, or both."""

    visitor_id: str
    user_id: int | None = None
    # False when they switched tracking-based personalization off: popular lists only.
    personalized: bool = True
    # False when the shop records nothing (SHOP_TRACKING=off): lists shown are counted but
    # not linked to the visitor or account.
    recorded: bool = True
    # False for a crawler: the lists it is shown are no impressions (nobody saw them).
    counted: bool = True


def _user_key(user_id: int | None, visitor_id: str) -> str:
    return f"u{user_id}" if user_id is not None else f"v{visitor_id}"


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def _interaction_query() -> Select[Any]:
    return select(
        Event.user_id,
        Event.visitor_id,
        Event.product_id,
        Event.kind,
        Event.created_at,
        Event.quantity,
        Event.order_id,
    ).where(Event.kind.in_(READ_KINDS), Event.product_id.is_not(None))


def kept_cart_adds(
    users: Sequence[str], items: Sequence[int], kinds: Sequence[str], times: Sequence[float]
) -> np.ndarray:
    """A mask of the rows (shop event kinds) that count: a removal from the cart drops the
    same shopper's additions of that product since they last bought it (or since an
    earlier removal), and is dropped itself."""
    kind = np.asarray(kinds)
    keep = kind != REMOVAL
    removals = np.flatnonzero(~keep)
    if removals.size == 0:
        return keep
    item = np.asarray(items)
    removed = {(users[i], int(item[i])) for i in removals}
    touched = np.isin(kind, ("cart_add", "purchase")) & np.isin(item, item[removals])
    rows = [i for i in np.flatnonzero(touched) if (users[i], int(item[i])) in removed]
    rows += removals.tolist()
    rows.sort(key=lambda i: times[i])  # stable: rows at one instant keep their read order
    in_cart: dict[tuple[str, int], list[int]] = {}
    for i in rows:
        pair = (users[i], int(item[i]))
        if kind[i] == "cart_add":
            in_cart.setdefault(pair, []).append(i)
        elif kind[i] == "purchase":
            in_cart.pop(pair, None)
        else:
            keep[in_cart.pop(pair, [])] = False
    return keep


def net_purchases(
    kinds: Sequence[str],
    items: Sequence[int],
    orders: Sequence[object],
    quantities: list[Any],
) -> np.ndarray:
    """A mask of the rows that count once purchases that came back are taken off: an
    undone row takes its quantity off the purchase of the same product on the same order
    (in `quantities`, which it changes), dropping the purchase when nothing is left; the
    undone rows are dropped themselves."""
    kind = np.asarray(kinds)
    keep = kind != UNDONE
    undone = np.flatnonzero(~keep)
    if undone.size == 0:
        return keep
    back: dict[tuple[object, int], float] = {}
    for i in undone:
        key = (orders[i], int(items[i]))
        back[key] = back.get(key, 0.0) + float(quantities[i] or 0)
    for i in np.flatnonzero(kind == "purchase"):
        returned = back.get((orders[i], int(items[i])))
        if returned is None or orders[i] is None:
            continue
        bought = quantities[i]
        left = float(bought) - returned if bought and bought == bought else 0.0  # nan: unknown
        if left > 0:
            quantities[i] = left
        else:
            keep[i] = False
    return keep


def load_interactions(session: Session, *, batch: int = 50_000) -> Interactions:
    """Every view, cart addition (not taken back) and purchase the shop recorded, as library
    interactions."""
    users: list[str] = []
    items: list[int] = []
    kinds: list[str] = []
    times: list[float] = []
    quantities: list[float] = []
    baskets: list[str] = []
    rows = session.execute(_interaction_query().execution_options(yield_per=batch))
    for user_id, visitor_id, product_id, kind, created_at, quantity, order_id in rows:
        users.append(_user_key(user_id, visitor_id))
        items.append(product_id)
        kinds.append(kind)
        times.append(_epoch(created_at))
        quantities.append(float(quantity) if quantity else np.nan)
        baskets.append(str(order_id) if order_id else "")
    keep = kept_cart_adds(users, items, kinds, times)
    keep &= net_purchases(kinds, items, baskets, quantities)
    if not keep.any():
        return Interactions.empty()
    return Interactions.from_arrays(
        np.asarray(users)[keep],
        np.asarray(items, dtype=np.int64)[keep],
        np.asarray([KINDS[kind] for kind, kept in zip(kinds, keep, strict=True) if kept]),
        np.asarray(times, dtype=np.float64)[keep],
        np.asarray(quantities, dtype=np.float64)[keep],
        [basket for basket, kept in zip(baskets, keep, strict=True) if kept],
    )


def bought_products(session: Session, shopper: Shopper) -> set[int]:
    """Every product the member (or, without an account, the visitor) ever bought."""
    if shopper.user_id is not None:
        query = select(Event.product_id).where(
            Event.user_id == shopper.user_id,
            Event.kind == "purchase",
            Event.product_id.is_not(None),
        )
        return set(session.scalars(query.distinct()))
    # `kind || ''` cannot use the kind index, so SQLite stays on the visitor index (on the
    # kind index it scanned every purchase in the shop); the database filters the rows,
    # not Python, so a visitor who browses a lot does not slow their own pages down.
    query = select(Event.product_id).where(
        Event.visitor_id == shopper.visitor_id,
        Event.kind.concat("") == "purchase",
        Event.product_id.is_not(None),
    )
    return set(session.scalars(query.distinct()))


def newest_event_id(session: Session, shopper: Shopper) -> int:
    """The id of the shopper's newest stored event (any kind); 0 when there is none."""
    column = Event.user_id if shopper.user_id is not None else Event.visitor_id
    value = shopper.user_id if shopper.user_id is not None else shopper.visitor_id
    return int(session.scalar(select(func.max(Event.id)).where(column == value)) or 0)


def shopper_interactions(
    session: Session, shopper: Shopper, pending: Sequence[Mapping[str, Any]] = ()
) -> Interactions:
    """The shopper's interactions, including events not yet written to the database.

    All of a member's interactions, as training sees them (anonymous events are linked to
    the account at sign-in), so every past purchase is known to the "already bought"
    filter and to buy-again; an anonymous visitor's last day, at most
    VISITOR_HISTORY_LIMIT events. Events still waiting in the writer's buffer are added,
    which is what makes today's clicks count at once.
    """
    # The time as the driver gives it (SQLite: text; PostgreSQL: a datetime), for numpy to
    # convert in one pass below: parsing each row's datetime separately dominated the read.
    moment = type_coerce(Event.created_at, String)
    query = select(Event.product_id, Event.kind, moment, Event.quantity, Event.order_id).where(
        Event.kind.in_(READ_KINDS), Event.product_id.is_not(None)
    )
    if shopper.user_id is not None:
        query = query.where(Event.user_id == shopper.user_id)
    else:
        since = utcnow() - SESSION_WINDOW
        query = (
            query.where(Event.visitor_id == shopper.visitor_id, Event.created_at >= since)
            .order_by(Event.visitor_id, Event.created_at.desc())
            .limit(VISITOR_HISTORY_LIMIT)
        )
    rows = [tuple(row) for row in session.execute(query)]
    stored = len(rows)
    rows += [
        (int(row["product_id"]), row["kind"], row["created_at"], None, None)
        for row in pending
        if row.get("kind") in READ_KINDS and row.get("product_id") is not None
    ]
    if not rows:
        return Interactions.empty()
    items, kinds, moments, quantities, orders = zip(*rows, strict=True)
    # Naive UTC times (text or datetimes) to microseconds in one numpy pass: a member may
    # have thousands.
    micros = np.asarray(moments, dtype="datetime64[us]").astype(np.int64)
    keep = _not_stored_twice(items, kinds, micros, stored)
    user = _user_key(shopper.user_id, shopper.visitor_id)
    if REMOVAL in kinds:  # most pages: no removal, so no per-row key list to build
        keep &= kept_cart_adds([user] * len(items), items, kinds, micros)
    if UNDONE in kinds:
        quantities = list(quantities)
        keep &= net_purchases(kinds, items, orders, quantities)
    if not keep.any():
        return Interactions.empty()
    if not keep.all():
        items, kinds, quantities = (
            [value for value, kept in zip(column, keep, strict=True) if kept]
            for column in (items, kinds, quantities)
        )
        micros = micros[keep]
    times = micros / 1e6
    return Interactions.from_arrays(
        np.full(len(items), user),
        np.asarray(items, dtype=np.int64),
        np.asarray([KINDS[kind] for kind in kinds]),
        times,
        np.asarray([float(q) if q else np.nan for q in quantities], dtype=np.float64),
    )


def _not_stored_twice(
    items: Sequence[int], kinds: Sequence[str], micros: np.ndarray, stored: int
) -> np.ndarray:
    """A mask dropping the writer's rows (after the first `stored`) that the table read
    already returned: one stored while the shopper's history was being read."""
    keep = np.ones(len(items), dtype=bool)
    if stored == 0 or stored == len(items):
        return keep
    recent = np.flatnonzero(micros[:stored] >= micros[stored:].min())
    seen = {(items[i], kinds[i], int(micros[i])) for i in recent}
    for i in range(stored, len(items)):
        keep[i] = (items[i], kinds[i], int(micros[i])) not in seen
    return keep


def dataset_instant(session: Session, moment: datetime) -> float:
    """A date in the imported dataset's own calendar as an instant in the shop's dates.

    The importer shifts the Online Retail dates so the demo looks recent; without an
    import the shift is 0.
    """
    from shop.importer.models import ImportRun

    shift = session.scalar(
        select(ImportRun.date_shift_seconds)
        .where(ImportRun.finished_at.is_not(None))
        .order_by(ImportRun.id.desc())
        .limit(1)
    )
    return moment.replace(tzinfo=UTC).timestamp() + float(shift or 0)


def item_features(session: Session) -> dict[int, str]:
    """Each product's name and category name: the text the content similarity reads."""
    from shop.catalog.models import Category, Product

    rows = session.execute(
        select(Product.id, Product.name, Category.name).outerjoin(
            Category, Category.id == Product.category_id
        )
    )
    return {pid: f"{name} {category or ''}".strip() for pid, name, category in rows}
