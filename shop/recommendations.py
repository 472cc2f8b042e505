"""The only adapter between the shop and `recommender/`.

It reads events and orders, hands them to the library as interactions, and maps what comes
back to products: business filters (active, in stock), per-placement settings, reason texts
with product names, and an impression id on every list so clicks can be attributed.
A missing or broken model never breaks a page: the shop then serves its best sellers.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, func, insert, or_, select
from sqlalchemy.orm import Session

from recommender import (
    ActiveModel,
    Interactions,
    ModelStore,
    ModelUnavailableError,
    Recommendation,
    Recommender,
    TrainingParams,
)
from recommender import train as train_model
from shop.catalog.models import Product
from shop.db import utcnow
from shop.recommendation_models import Impression
from shop.tracking.models import Event

log = logging.getLogger(__name__)

# Shop event kinds and the interaction kinds the recommender knows them as.
KINDS = {"product_view": "view", "cart_add": "cart_add", "purchase": "purchase"}
FALLBACK_VERSION = "fallback-popularity"
PERSONAL_HISTORY_LIMIT = 500
SESSION_WINDOW = timedelta(days=1)
UNSELLABLE_TTL_S = 30.0
CACHE_SIZE = 20_000
MODEL_CHECK_S = 1.0
CARD_TTL_S = 10.0


# Chosen by `tune` on the Online Retail purchases before 2011-09-01 (see
# docs/RECOMMENDER.md); `flask recommender tune` writes a file that replaces them.
DEFAULT_PARAMS = {
    "model": "als",
    "model_params": {"factors": 64, "regularization": 10.0, "alpha": 0.25, "iterations": 30},
    "weighting": {"half_life_days": 90.0},
    "blend": {"popular": 0.25, "buy_again": 2.0, "buy_again_half_life_days": 180.0},
}


def default_params() -> TrainingParams:
    """The shop's training parameters when none have been tuned here."""
    return TrainingParams.from_dict(DEFAULT_PARAMS)


@dataclass(frozen=True)
class Placement:
    """Where a list is shown, with its merchandiser-tunable behaviour."""

    name: str
    title: str
    size: int = 8
    allow_repurchase: bool = False


PLACEMENTS: dict[str, Placement] = {
    p.name: p
    for p in (
        Placement("home", "Recommended for you", 8),
        Placement("buy_again", "Buy it again", 8, allow_repurchase=True),
        Placement("product", "Shoppers who bought this also bought", 6),
        Placement("cart", "Frequently bought together", 6),
        Placement("order", "You might also like", 4),
        Placement("order_email", "You might also like", 4),
    )
}


@dataclass(frozen=True)
class Shopper:
    """Who a list is for: an account, an anonymous visitor, or both."""

    visitor_id: str
    user_id: int | None = None


@dataclass(frozen=True)
class ShopperState:
    """What identifies a shopper's history right now: newest stored event, unwritten ones."""

    pending: list[dict[str, Any]]
    newest_event_id: int


@dataclass(frozen=True)
class ProductCard:
    """What a recommendation card shows of a product (kept briefly in memory)."""

    id: int
    name: str
    price_pence: int
    currency: str


@dataclass(frozen=True)
class RecommendedProduct:
    """A product in a recommendation list, with the reason to show."""

    product: ProductCard
    score: float
    reason: str
    reason_code: str


@dataclass(frozen=True)
class RecommendationList:
    """A list to render; `rec_id` goes on every link so clicks can be attributed."""

    placement: str
    title: str
    items: list[RecommendedProduct]
    rec_id: str
    model_version: str
    strategy: str

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass
class _Unsellable:
    ids: frozenset[int] = frozenset()
    loaded_at: float = -1e9


@dataclass
class RecommendationService:
    """Serving and training for one app: the model store, the active model and caches."""

    store: ModelStore
    placements: dict[str, Placement] = field(default_factory=lambda: dict(PLACEMENTS))
    pending_events: Callable[[Shopper], list[dict[str, Any]]] = lambda _s: []
    log_impression: Callable[[dict[str, Any]], None] = lambda _row: None
    model_check_s: float = MODEL_CHECK_S

    def __post_init__(self) -> None:
        self.active = ActiveModel(self.store)
        self._unsellable = _Unsellable()
        self._card_cache: dict[int, tuple[ProductCard, float]] = {}
        self._model: tuple[str, Recommender] | None = None
        self._model_checked = -1e9
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], tuple[list[Recommendation], str]] = OrderedDict()
        self._warned: str | None = None

    # --- model access -----------------------------------------------------------------------

    def model(self) -> tuple[str, Recommender] | None:
        """The active (version, recommender), or None when there is no usable model.

        The store's pointer file is checked at most once per model_check_s, so a newly
        activated version is served within that time.
        """
        now = time.monotonic()
        with self._lock:
            if self._model is not None and now - self._model_checked < self.model_check_s:
                return self._model
        try:
            found = self.active.get()
        except ModelUnavailableError as exc:
            with self._lock:
                self._model, self._model_checked = None, now
            message = str(exc)
            if message != self._warned:  # log once per problem, not on every page
                log.warning("recommendations fall back to best sellers: %s", message)
                self._warned = message
            return None
        with self._lock:
            self._model, self._model_checked = found, now
        return found

    def unsellable(self, session: Session) -> frozenset[int]:
        """Ids of inactive or out-of-stock products (cached for a few seconds)."""
        with self._lock:
            if time.monotonic() - self._unsellable.loaded_at < UNSELLABLE_TTL_S:
                return self._unsellable.ids
        ids = frozenset(
            session.scalars(
                select(Product.id).where(or_(Product.active.is_(False), Product.stock_qty <= 0))
            )
        )
        with self._lock:
            self._unsellable = _Unsellable(ids, time.monotonic())
        return ids

    # --- placements -------------------------------------------------------------------------

    def home(
        self, session: Session, shopper: Shopper
    ) -> tuple[RecommendationList, RecommendationList]:
        """The home page's two lists: recommended for you, and buy it again."""
        state = self._state(session, shopper)
        return self.for_home(session, shopper, state), self.buy_again(session, shopper, state)

    def for_home(
        self, session: Session, shopper: Shopper, state: ShopperState | None = None
    ) -> RecommendationList:
        """Recommended for you, or Popular right now for a visitor with no history."""
        placement = self.placements["home"]
        found = self.model()
        if found is None:
            return self._logged(shopper, self._fallback(session, placement, exclude=()))
        version, model = found

        def compute(history: Interactions) -> tuple[list[Recommendation], str]:
            recs = model.for_user(
                history,
                k=placement.size,
                exclude=self.unsellable(session),
                repurchase=placement.allow_repurchase,
            )
            return recs, "personal" if len(history) else "popular"

        recs, strategy = self._personal(session, shopper, placement, version, compute, state)
        title = placement.title if strategy == "personal" else "Popular right now"
        return self._logged(shopper, self._list(session, placement, recs, version, strategy, title))

    def buy_again(
        self, session: Session, shopper: Shopper, state: ShopperState | None = None
    ) -> RecommendationList:
        """Things the customer bought before and is likely to buy again."""
        placement = self.placements["buy_again"]
        found = self.model()
        if found is None:
            return self._empty(placement)
        version, model = found

        def compute(history: Interactions) -> tuple[list[Recommendation], str]:
            bought = set(history.of_kinds(["purchase"]).items.tolist())
            if not bought:
                return [], "buy_again"
            recs = model.for_user(
                history, k=placement.size * 3, exclude=self.unsellable(session), repurchase=True
            )
            picked = [
                replace(r, reason=replace(r.reason, code="buy_again"))
                for r in recs
                if r.item in bought
            ]
            return picked[: placement.size], "buy_again"

        recs, strategy = self._personal(session, shopper, placement, version, compute, state)
        if not recs:
            return self._empty(placement)
        return self._logged(shopper, self._list(session, placement, recs, version, strategy))

    def _cards(self, session: Session, ids: set[int]) -> dict[int, ProductCard]:
        """Names and prices of products, from a cache refreshed every CARD_TTL_S."""
        now = time.monotonic()
        with self._lock:
            found = {
                i: c for i in ids if (c := self._card_cache.get(i)) and now - c[1] < CARD_TTL_S
            }
        missing = ids - found.keys()
        if missing:
            loaded = {p.id: _card(p) for p in _products_by_id(session, missing).values()}
            with self._lock:
                for product_id, card in loaded.items():
                    self._card_cache[product_id] = (card, now)
            found |= {i: (c, now) for i, c in loaded.items()}
        return {i: entry[0] for i, entry in found.items()}

    def _state(self, session: Session, shopper: Shopper) -> ShopperState:
        return ShopperState(self.pending_events(shopper), _newest_event_id(session, shopper))

    def _personal(
        self,
        session: Session,
        shopper: Shopper,
        placement: Placement,
        version: str,
        compute: Callable[[Interactions], tuple[list[Recommendation], str]],
        state: ShopperState | None,
    ) -> tuple[list[Recommendation], str]:
        """A shopper's list, recomputed whenever they have done something new.

        The cache key holds the shopper's newest stored event id and their events still in
        the writer's buffer, so a click invalidates it at once; it also holds the stock
        snapshot, so a sold-out product leaves the lists within UNSELLABLE_TTL_S.
        """
        state = state or self._state(session, shopper)
        self.unsellable(session)
        key = (
            placement.name,
            placement.size,
            version,
            shopper,
            state.newest_event_id,
            len(state.pending),
            self._unsellable.loaded_at,
        )
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        value = compute(shopper_interactions(session, shopper, state.pending))
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def for_product(
        self, session: Session, shopper: Shopper, product_id: int
    ) -> RecommendationList:
        """Shoppers who bought this also bought: co-purchases, then similar items."""
        placement = self.placements["product"]
        found = self.model()
        if found is None:
            return self._empty(placement)
        version, model = found
        exclude = set(self.unsellable(session)) | {product_id}
        recs = model.bought_together(product_id, k=placement.size, exclude=exclude)
        strategy = "bought_together"
        if len(recs) < placement.size:
            exclude |= {r.item for r in recs}
            recs += model.similar_items(product_id, k=placement.size - len(recs), exclude=exclude)
            strategy = "bought_together+similar" if recs else "similar"
        return self._logged(shopper, self._list(session, placement, recs, version, strategy))

    def for_cart(
        self, session: Session, shopper: Shopper, product_ids: Sequence[int]
    ) -> RecommendationList:
        """Frequently bought together with everything in the cart."""
        placement = self.placements["cart"]
        found = self.model()
        if found is None or not product_ids:
            return self._empty(placement)
        version, model = found
        exclude = set(self.unsellable(session)) | set(product_ids)
        recs = model.bought_together(list(product_ids), k=placement.size, exclude=exclude)
        return self._logged(
            shopper, self._list(session, placement, recs, version, "bought_together")
        )

    def for_order(
        self,
        session: Session,
        shopper: Shopper,
        product_ids: Sequence[int],
        placement_name: str = "order",
        *,
        log_in_session: bool = False,
    ) -> RecommendationList:
        """You might also like, after an order (page or e-mail), without what was bought.

        With log_in_session the impression is written in the caller's transaction (an
        e-mail rendered while the order is being paid), not by the background writer.
        """
        placement = self.placements[placement_name]
        found = self.model()
        if found is None:
            shown = self._fallback(session, placement, exclude=product_ids)
            return self._logged(shopper, shown, session if log_in_session else None)
        version, model = found
        history = shopper_interactions(session, shopper, self.pending_events(shopper))
        recs = model.for_user(
            history,
            k=placement.size,
            exclude=set(self.unsellable(session)) | set(product_ids),
            repurchase=placement.allow_repurchase,
        )
        shown = self._list(session, placement, recs, version, "personal")
        return self._logged(shopper, shown, session if log_in_session else None)

    # --- building lists ---------------------------------------------------------------------

    def _list(
        self,
        session: Session,
        placement: Placement,
        recs: Sequence[Recommendation],
        version: str,
        strategy: str,
        title: str | None = None,
    ) -> RecommendationList:
        ids = [int(r.item) for r in recs]
        reason_ids = [int(r.reason.item) for r in recs if r.reason.item is not None]
        products = self._cards(session, set(ids) | set(reason_ids))
        sellable = self.unsellable(session)
        items = [
            RecommendedProduct(
                products[int(r.item)], r.score, _reason_text(r, products), r.reason.code
            )
            for r in recs
            if int(r.item) in products and int(r.item) not in sellable
        ][: placement.size]
        return RecommendationList(
            placement.name, title or placement.title, items, uuid.uuid4().hex, version, strategy
        )

    def _fallback(
        self, session: Session, placement: Placement, exclude: Iterable[int]
    ) -> RecommendationList:
        skip = set(exclude)
        query = (
            select(Product)
            .where(Product.active.is_(True), Product.stock_qty > 0)
            .order_by(Product.order_count.desc(), Product.id)
            .limit(placement.size + len(skip))
        )
        items = [
            RecommendedProduct(_card(p), float(p.order_count), "Popular right now", "popular")
            for p in session.scalars(query)
            if p.id not in skip
        ][: placement.size]
        title = "Popular right now" if placement.name == "home" else placement.title
        return RecommendationList(
            placement.name, title, items, uuid.uuid4().hex, FALLBACK_VERSION, "popular"
        )

    def _empty(self, placement: Placement) -> RecommendationList:
        return RecommendationList(placement.name, placement.title, [], "", "", "none")

    def _logged(
        self, shopper: Shopper, shown: RecommendationList, session: Session | None = None
    ) -> RecommendationList:
        """Record the impression: by the batch writer, or in the given session's transaction."""
        if not shown.items:
            return shown
        row = {
            "rec_id": shown.rec_id,
            "placement": shown.placement,
            "model_version": shown.model_version,
            "strategy": shown.strategy,
            "variant": None,
            "visitor_id": shopper.visitor_id,
            "user_id": shopper.user_id,
            "product_ids": [item.product.id for item in shown.items],
            "created_at": utcnow(),
        }
        if session is not None:
            session.execute(insert(Impression), [row])
        else:
            self.log_impression(row)
        return shown

    # --- training ---------------------------------------------------------------------------

    def train(
        self,
        session: Session,
        params: TrainingParams | None = None,
        *,
        activate: bool = True,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> str:
        """Train on every recorded interaction, save a version and (by default) activate it."""
        data = load_interactions(session)
        if not len(data):
            raise ValueError("there are no interactions to train on yet")
        model = train_model(data, params or default_params(), now=time.time(), progress=progress)
        version = self.store.save(model, {"source": "shop", "trained_at": utcnow().isoformat()})
        if activate:
            self.store.activate(version)
        return version


# --- reading interactions -------------------------------------------------------------------


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
    ).where(Event.kind.in_(KINDS), Event.product_id.is_not(None))


def load_interactions(session: Session, *, batch: int = 50_000) -> Interactions:
    """Every view, cart addition and purchase the shop recorded, as library interactions."""
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
        kinds.append(KINDS[kind])
        times.append(_epoch(created_at))
        quantities.append(float(quantity) if quantity else np.nan)
        baskets.append(str(order_id) if order_id else "")
    if not users:
        return Interactions.empty()
    return Interactions.from_arrays(
        np.asarray(users),
        np.asarray(items, dtype=np.int64),
        np.asarray(kinds),
        np.asarray(times, dtype=np.float64),
        np.asarray(quantities, dtype=np.float64),
        baskets,
    )


def _newest_event_id(session: Session, shopper: Shopper) -> int:
    """The id of the shopper's newest stored event (any kind); 0 when there is none."""
    column = Event.user_id if shopper.user_id is not None else Event.visitor_id
    value = shopper.user_id if shopper.user_id is not None else shopper.visitor_id
    return int(session.scalar(select(func.max(Event.id)).where(column == value)) or 0)


def shopper_interactions(
    session: Session, shopper: Shopper, pending: Sequence[Mapping[str, Any]] = ()
) -> Interactions:
    """The shopper's recent interactions, including events not yet written to the database.

    A member's newest PERSONAL_HISTORY_LIMIT interactions (anonymous events are linked to
    the account at sign-in); an anonymous visitor's last day. Events still waiting in the
    writer's buffer are added, which is what makes today's clicks count at once.
    """
    query = _interaction_query().limit(PERSONAL_HISTORY_LIMIT)
    if shopper.user_id is not None:
        query = query.where(Event.user_id == shopper.user_id).order_by(
            Event.user_id, Event.created_at.desc()
        )
    else:
        since = utcnow() - SESSION_WINDOW
        query = query.where(
            Event.visitor_id == shopper.visitor_id, Event.created_at >= since
        ).order_by(Event.visitor_id, Event.created_at.desc())
    rows = [
        (product_id, KINDS[kind], _epoch(created_at), float(quantity) if quantity else np.nan)
        for _u, _v, product_id, kind, created_at, quantity, _o in session.execute(query)
    ]
    rows += [
        (int(row["product_id"]), KINDS[row["kind"]], _epoch(row["created_at"]), np.nan)
        for row in pending
        if row.get("kind") in KINDS and row.get("product_id") is not None
    ]
    if not rows:
        return Interactions.empty()
    items, kinds, times, quantities = zip(*rows, strict=True)
    return Interactions.from_arrays(
        np.full(len(rows), _user_key(shopper.user_id, shopper.visitor_id)),
        np.asarray(items, dtype=np.int64),
        np.asarray(kinds),
        np.asarray(times, dtype=np.float64),
        np.asarray(quantities, dtype=np.float64),
    )


# --- mapping results to products ------------------------------------------------------------


def _card(product: Product) -> ProductCard:
    return ProductCard(product.id, product.name, product.price_pence, product.currency)


def _products_by_id(session: Session, ids: set[int]) -> dict[int, Product]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}


REASON_TEXTS = {
    ("buy_again", None): "You bought this before",
    ("personal", "purchase"): "Because you bought {name}",
    ("personal", "view"): "Because you viewed {name}",
    ("personal", "cart_add"): "Because you added {name} to your cart",
    ("similar", None): "Similar to {name}",
    ("bought_together", None): "Often bought with {name}",
}


def _reason_text(rec: Recommendation, products: Mapping[int, ProductCard]) -> str:
    """The library's reason, with the product's name in place of its id."""
    reason = rec.reason
    source = products.get(int(reason.item)) if reason.item is not None else None
    if source is None:
        return reason.text
    template = REASON_TEXTS.get((reason.code, reason.kind)) or REASON_TEXTS.get((reason.code, None))
    return template.format(name=source.name) if template else reason.text


def model_directory(instance_path: str | Path) -> Path:
    """Where trained model versions are kept for this app."""
    return Path(instance_path) / "models"


def with_placement(
    placements: Mapping[str, Placement], name: str, **changes: Any
) -> dict[str, Placement]:
    """A copy of the placements with one of them changed (size, repurchase)."""
    updated = dict(placements)
    updated[name] = replace(updated[name], **changes)
    return updated
