"""The only adapter between the shop and `recommender/`.

It hands the shopper's interactions to the library and maps what comes back to products:
business filters (active, in stock), the merchandisers' placement settings and rules,
A/B variants, reason texts with product names, and an impression id on every list so
clicks can be attributed. A missing or broken model never breaks a page: the shop then
serves its best sellers.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, insert, or_, select
from sqlalchemy.orm import Session

from recommender import (
    MODELS,
    ActiveModel,
    EvaluationReport,
    Interactions,
    ModelStore,
    ModelUnavailableError,
    NoActiveVersionError,
    Recommendation,
    Recommender,
    TrainingParams,
    Trial,
    VersionNotFoundError,
    evaluate,
    reasons,
    time_split,
    tune,
)
from recommender import train as train_model
from shop.catalog.availability import not_launched_yet, on_sale_to, public_viewer
from shop.catalog.models import Product
from shop.db import utcnow
from shop.merchandising.config import (
    MAX_LIST_SIZE,
    STRATEGIES,
    MerchConfig,
    PlacementSettings,
    Rule,
)
from shop.merchandising.rules import Candidate, apply_rules
from shop.recommendation_data import (
    Shopper,
    bought_products,
    item_features,
    load_interactions,
    newest_event_id,
    shopper_interactions,
)
from shop.recommendation_models import Impression
from shop.recommendation_types import (
    PLACEMENTS,
    POPULAR_REASON,
    POPULAR_TITLE,
    SIMILAR_TITLE,
    TUNED_PARAMS,
    Assignment,
    Placement,
    ProductCard,
    RecommendationList,
    RecommendedProduct,
    Serving,
    ShopperState,
    default_params,
    product_card,
    reason_text,
)

# The rest of the shop reaches the library only through this module (and its two helper
# modules, recommendation_data and recommendation_types).
__all__ = [
    "MODELS",
    "PLACEMENTS",
    "TUNED_PARAMS",
    "EvaluationReport",
    "Interactions",
    "ModelStore",
    "ModelUnavailableError",
    "NoActiveVersionError",
    "RecommendationList",
    "RecommendationService",
    "Shopper",
    "TrainingParams",
    "Trial",
    "VersionNotFoundError",
    "default_params",
    "evaluate",
    "model_directory",
    "time_split",
    "tune",
    "with_placement",
]

log = logging.getLogger(__name__)

FALLBACK_VERSION = "fallback-popularity"
OWN_PRODUCT_SKIP = (
    "the product is the one this list goes with (on the page, in the cart or the order)"
)
NOT_A_PAST_PURCHASE_SKIP = (
    "this list only reorders the shopper's past purchases, and the product is not among "
    "those it ranks"
)
UNSELLABLE_TTL_S = 30.0
CACHE_SIZE = 20_000
MODEL_CHECK_S = 1.0
CARD_TTL_S = 10.0
VERSION_CACHE = 4
FAVOURITE_BOOST = 1.5
# Ask the model for more than a list shows, so rules and filters can still fill it.
CANDIDATE_FACTOR = 3
# Lists that promise personal picks: titled "Popular right now" when they fall back.
PERSONAL_PLACEMENTS = frozenset(
    {"home", "order", "order_email", "weekly_email", "picks_email", "segment_email"}
)
# Placements whose own title would promise more than best sellers ("Recommended for you",
# "Shoppers who bought this also bought"): without a model they say "Popular right now".
BEST_SELLER_TITLED = frozenset({"home", "product", "cart"})


@dataclass
class _Unsellable:
    ids: frozenset[int] = frozenset()
    loaded_at: float = -1e9


def _no_assignment(_session: Session, _shopper: Shopper, _placement: str) -> Assignment | None:
    return None


@dataclass
class RecommendationService:
    """Serving and training for one app: the model store, the active model and caches."""

    store: ModelStore
    placements: dict[str, Placement] = field(default_factory=lambda: dict(PLACEMENTS))
    pending_events: Callable[[Shopper], list[dict[str, Any]]] = lambda _s: []
    log_impression: Callable[[dict[str, Any]], None] = lambda _row: None
    model_check_s: float = MODEL_CHECK_S
    live_config: Callable[[Session], MerchConfig] | None = None
    assign: Callable[[Session, Shopper, str], Assignment | None] = _no_assignment
    favourites: Callable[[Session, int], frozenset[int]] = lambda _s, _u: frozenset()
    enabled: bool = True

    def __post_init__(self) -> None:
        self.active = ActiveModel(self.store)
        self._unsellable = _Unsellable()
        self._card_cache: dict[int, tuple[ProductCard, float]] = {}
        self._model: tuple[str, Recommender] | None = None
        self._model_checked = -1e9
        self._versions: OrderedDict[str, Recommender] = OrderedDict()
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[Any, ...], tuple[list[Recommendation], str]] = OrderedDict()
        self._warned: str | None = None
        self._model_problem: str | None = None

    # --- model and settings -----------------------------------------------------------------

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
                news = str(exc) != self._model_problem
                self._model_problem = str(exc)
            if news:  # once per fault; a fault that comes back after a mend is news again
                log.warning("recommendations fall back to best sellers: %s", exc)
            return None
        with self._lock:
            self._model, self._model_checked = found, now
            mended, self._model_problem = self._model_problem is not None, None
        if mended:
            log.info("recommendations use model version %s again", found[0])
        return found

    def version(self, version_id: str) -> tuple[str, Recommender] | None:
        """A stored version by id (an A/B variant), or None when it cannot be loaded."""
        with self._lock:
            if version_id in self._versions:
                self._versions.move_to_end(version_id)
                return version_id, self._versions[version_id]
        try:
            loaded = self.store.load(version_id)
        except ModelUnavailableError as exc:
            self._warn(str(exc))
            return None
        with self._lock:
            self._versions[version_id] = loaded
            while len(self._versions) > VERSION_CACHE:
                self._versions.popitem(last=False)
        return version_id, loaded

    def _warn(self, message: str) -> None:
        if message != self._warned:  # log once per problem, not on every page
            log.warning("recommendations fall back to best sellers: %s", message)
            self._warned = message

    def tuned_params(self) -> TrainingParams:
        """The parameters `flask recommender tune` stored, or the shop's defaults."""
        path = self.store.directory / TUNED_PARAMS
        if path.exists():
            try:
                return TrainingParams.load(path)
            except (ValueError, KeyError) as exc:
                self._warn(f"{TUNED_PARAMS} is unreadable ({exc}); using the defaults")
        return default_params()

    def default_config(self) -> MerchConfig:
        """The settings when nothing has been published: the app's placements, no rules."""
        return MerchConfig(
            training=self.tuned_params().to_dict(),
            placements={name: p.settings() for name, p in self.placements.items()},
        )

    def config_from(self, data: Mapping[str, Any], revision_id: int | None = None) -> MerchConfig:
        """A stored settings document read over this app's defaults."""
        base = self.default_config()
        return MerchConfig.from_dict(
            data,
            default_training=base.training,
            default_placements=base.placements,
            revision_id=revision_id,
        )

    def serving(self, session: Session, shopper: Shopper, placement: str) -> Serving:
        """The live way to serve this shopper's placement, with their A/B variant if any.

        A variant may bring other settings and rules (a published revision), another model
        version or popularity only; the live never-recommend and exclude rules apply in
        every variant.
        """
        config = self.live_config(session) if self.live_config else self.default_config()
        model = self.model()
        assignment = self.assign(session, shopper, placement)
        if assignment is None:
            return Serving(config, model)
        if assignment.config is not None:
            # An arm's own published revision; the live never-recommend and exclude rules
            # still apply, so a product banned since the experiment started stays out.
            config = assignment.config.with_safety_rules_of(config)
        if assignment.model_version is not None:
            model = self.version(assignment.model_version) or model
        if assignment.popularity_only:
            settings = replace(config.placement(placement, self._settings(placement)))
            placements = {**config.placements, placement: replace(settings, strategy="popular")}
            config = replace(config, placements=placements)
        return Serving(config, model, variant=assignment.label)

    def _settings(self, name: str) -> PlacementSettings:
        return self.placements[name].settings()

    def _resolve(
        self, session: Session, shopper: Shopper, name: str, serving: Serving | None
    ) -> tuple[Serving, Placement]:
        """The given way of serving (a preview) or the live one, and the placement under it."""
        serving = serving or self.serving(session, shopper, name)
        return serving, self._placement(serving, name)

    def _placement(self, serving: Serving, name: str) -> Placement:
        settings = serving.config.placement(name, self._settings(name))
        return replace(
            self.placements[name],
            size=settings.size,
            allow_repurchase=settings.allow_repurchase,
            strategy=settings.strategy,
        )

    def unsellable(self, session: Session) -> frozenset[int]:
        """Ids of products inactive, out of stock or not launched to everyone yet (cached for
        a few seconds)."""
        with self._lock:
            if time.monotonic() - self._unsellable.loaded_at < UNSELLABLE_TTL_S:
                return self._unsellable.ids
        ids = frozenset(session.scalars(select(Product.id).where(_not_sellable())))
        with self._lock:
            self._unsellable = _Unsellable(ids, time.monotonic())
        return ids

    # --- placements -------------------------------------------------------------------------

    def home(
        self, session: Session, shopper: Shopper
    ) -> tuple[RecommendationList, RecommendationList]:
        """The home page's two lists: recommended for you, and buy it again."""
        state = self._state(session, shopper)
        return (
            self.for_home(session, shopper, state=state),
            self.buy_again(session, shopper, state=state),
        )

    def for_home(
        self,
        session: Session,
        shopper: Shopper,
        *,
        state: ShopperState | None = None,
        serving: Serving | None = None,
    ) -> RecommendationList:
        """Recommended for you, or Popular right now for a visitor with no history."""
        serving, placement = self._resolve(session, shopper, "home", serving)
        if not self.enabled:
            return self._empty(placement)
        if serving.model is None or placement.strategy == "popular" or not shopper.personalized:
            already = self._already_bought(session, shopper, placement)
            if serving.model is None:
                return self._fallback(session, shopper, placement, serving, (), skip=already)
            return self._popular(session, shopper, placement, serving, (), skip=already)
        version, model = serving.model
        k = self._candidates(serving, placement)

        def compute(history: Interactions) -> tuple[list[Recommendation], str]:
            recs = model.for_user(
                history,
                k=k,
                exclude=self.unsellable(session) | self._bought_before(session, shopper, placement),
                repurchase=placement.allow_repurchase,
            )
            return recs, personal_or_popular(recs)

        recs, strategy = self._personal(session, shopper, placement, serving, k, compute, state)
        title = placement.title if strategy == "personal" else POPULAR_TITLE
        return self._finish(session, shopper, placement, serving, recs, version, strategy, title)

    def buy_again(
        self,
        session: Session,
        shopper: Shopper,
        *,
        state: ShopperState | None = None,
        serving: Serving | None = None,
    ) -> RecommendationList:
        """Things the customer bought before and is likely to buy again."""
        serving, placement = self._resolve(session, shopper, "buy_again", serving)
        if not self.enabled or placement.strategy == "popular" or not shopper.personalized:
            return self._empty(placement)
        k = self._candidates(serving, placement)
        if serving.model is None:
            return self._buy_again_without_model(session, shopper, placement, serving, k)
        version, model = serving.model

        def compute(history: Interactions) -> tuple[list[Recommendation], str]:
            bought = set(history.of_kinds(["purchase"]).items.tolist())
            if not bought:
                return [], "buy_again"
            recs = model.for_user(
                history, k=k * 3, exclude=self.unsellable(session), repurchase=True
            )
            # Whatever ranked a past purchase here, the reason shown is the purchase itself.
            picked = [
                replace(r, reason=reasons.buy_again(r.item)) for r in recs if r.item in bought
            ]
            return picked[:k], "buy_again"

        recs, strategy = self._personal(session, shopper, placement, serving, k, compute, state)
        if not recs:
            return self._empty(placement)
        return self._finish(session, shopper, placement, serving, recs, version, strategy)

    def for_product(
        self,
        session: Session,
        shopper: Shopper,
        product_id: int,
        *,
        serving: Serving | None = None,
    ) -> RecommendationList:
        """Shoppers who bought this also bought: co-purchases, then similar items."""
        serving, placement = self._resolve(session, shopper, "product", serving)
        if not self.enabled:
            return self._empty(placement)
        already = self._already_bought(session, shopper, placement)
        if serving.model is None:
            return self._fallback(session, shopper, placement, serving, (product_id,), skip=already)
        if placement.strategy == "popular":
            return self._popular(
                session, shopper, placement, serving, exclude=(product_id,), skip=already
            )
        version, model = serving.model
        k = self._candidates(serving, placement)
        exclude = set(self.unsellable(session)) | {product_id} | already
        recs = model.bought_together(product_id, k=k, exclude=exclude)
        strategy = "bought_together"
        if len(recs) < k:
            strategy = "bought_together+similar" if recs else "similar"
            exclude |= {r.item for r in recs}
            similar = model.similar_items(product_id, k=k - len(recs), exclude=exclude)
            recs += below(similar, min((r.score for r in recs), default=None))
        if not recs:  # a product the model does not know yet (new since training)
            return self._popular(
                session, shopper, placement, serving, exclude=(product_id,), skip=already
            )
        shown = self._finish(
            session, shopper, placement, serving, recs, version, strategy, shown_with={product_id}
        )
        if any(item.reason_code == "similar" for item in shown.items):
            # "Shoppers who bought this also bought" would not be true of similar items.
            shown = replace(shown, title=SIMILAR_TITLE)
        return shown

    def for_cart(
        self,
        session: Session,
        shopper: Shopper,
        product_ids: Sequence[int],
        *,
        serving: Serving | None = None,
    ) -> RecommendationList:
        """Frequently bought together with everything in the cart."""
        serving, placement = self._resolve(session, shopper, "cart", serving)
        if not self.enabled or not product_ids:
            return self._empty(placement)
        already = self._already_bought(session, shopper, placement)
        if serving.model is None:
            return self._fallback(session, shopper, placement, serving, product_ids, skip=already)
        if placement.strategy == "popular":
            return self._popular(
                session, shopper, placement, serving, exclude=product_ids, skip=already
            )
        version, model = serving.model
        exclude = set(self.unsellable(session)) | set(product_ids) | already
        k = self._candidates(serving, placement)
        recs = model.bought_together(list(product_ids), k=k, exclude=exclude)
        if not recs:  # nothing in the cart is known to the model, or bought with anything
            return self._popular(
                session, shopper, placement, serving, exclude=product_ids, skip=already
            )
        return self._finish(
            session,
            shopper,
            placement,
            serving,
            recs,
            version,
            "bought_together",
            shown_with=set(product_ids),
        )

    def for_order(
        self,
        session: Session,
        shopper: Shopper,
        product_ids: Sequence[int],
        placement_name: str = "order",
        *,
        log_in_session: bool = False,
        serving: Serving | None = None,
    ) -> RecommendationList:
        """You might also like, after an order (page or e-mail), without what was bought.

        With log_in_session the impression is written in the caller's transaction (an
        e-mail rendered while the order is being paid), not by the background writer.
        """
        serving, placement = self._resolve(session, shopper, placement_name, serving)
        if not self.enabled:
            return self._empty(placement)
        own = session if log_in_session else None
        if serving.model is None or placement.strategy == "popular" or not shopper.personalized:
            already = self._already_bought(session, shopper, placement)
            if serving.model is None:
                return self._fallback(
                    session, shopper, placement, serving, product_ids, own, skip=already
                )
            return self._popular(
                session, shopper, placement, serving, product_ids, own, skip=already
            )
        version, model = serving.model
        history = self._history(session, shopper, serving, None)
        recs = model.for_user(
            history,
            k=self._candidates(serving, placement),
            exclude=set(self.unsellable(session))
            | set(product_ids)
            | self._bought_before(session, shopper, placement),
            repurchase=placement.allow_repurchase,
        )
        return self._finish(
            session,
            shopper,
            placement,
            serving,
            recs,
            version,
            personal_or_popular(recs),
            log_session=own,
            shown_with=set(product_ids),
        )

    # --- building lists ---------------------------------------------------------------------

    def _already_bought(self, session: Session, shopper: Shopper, placement: Placement) -> set[int]:
        """What the shopper bought, when this placement leaves re-purchases out (only with
        their consent to personalization: otherwise their history is not read)."""
        if placement.allow_repurchase or not shopper.personalized:
            return set()
        return bought_products(session, shopper)

    def _bought_before(self, session: Session, shopper: Shopper, placement: Placement) -> set[int]:
        """What a visitor without an account bought before the history a personal list reads
        (their last day), when the placement leaves re-purchases out. A member's history
        holds every purchase, so the model leaves those out itself."""
        if shopper.user_id is not None:
            return set()
        return self._already_bought(session, shopper, placement)

    def _candidates(self, serving: Serving, placement: Placement) -> int:
        pins = sum(1 for r in serving.config.rules if r.type == "pin")
        return placement.size * CANDIDATE_FACTOR + pins

    def _state(self, session: Session, shopper: Shopper) -> ShopperState:
        return ShopperState(self.pending_events(shopper), newest_event_id(session, shopper))

    def _personal(
        self,
        session: Session,
        shopper: Shopper,
        placement: Placement,
        serving: Serving,
        k: int,
        compute: Callable[[Interactions], tuple[list[Recommendation], str]],
        state: ShopperState | None,
    ) -> tuple[list[Recommendation], str]:
        """A shopper's raw list, recomputed whenever they have done something new.

        The cache key holds the shopper's newest stored event id and their events still in
        the writer's buffer, so a click invalidates it at once; it also holds the stock
        snapshot, refreshed every UNSELLABLE_TTL_S (a product sold out meanwhile is dropped
        by `_finish`, which checks the shown products afresh). Rules are applied afterwards,
        on every request.
        """
        if not serving.cached:
            return compute(self._history(session, shopper, serving, []))
        state = state or self._state(session, shopper)
        self.unsellable(session)
        key = (
            placement.name,
            k,
            placement.allow_repurchase,
            serving.model[0] if serving.model else "",
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
        if state.history is None:  # the page's other lists, missing the cache too, reuse it
            state.history = shopper_interactions(session, shopper, state.pending)
        value = compute(state.history)
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def _history(
        self,
        session: Session,
        shopper: Shopper,
        serving: Serving,
        pending: list[dict[str, Any]] | None,
    ) -> Interactions:
        """The shopper's interactions for one list: the serving's own copy when it has one,
        else read with the serving's pending events (or `pending`, or the writer's)."""
        if serving.history is not None:
            return serving.history
        if serving.pending is not None:
            pending = serving.pending
        elif pending is None:
            pending = self.pending_events(shopper)
        return shopper_interactions(session, shopper, pending)

    def _cards(self, session: Session, ids: set[int]) -> dict[int, ProductCard]:
        """Names and prices of products, from a cache refreshed every CARD_TTL_S."""
        now = time.monotonic()
        with self._lock:
            found = {
                i: c for i in ids if (c := self._card_cache.get(i)) and now - c[1] < CARD_TTL_S
            }
        missing = ids - found.keys()
        if missing:
            loaded = {p.id: product_card(p) for p in _products_by_id(session, missing).values()}
            with self._lock:
                for product_id, card in loaded.items():
                    self._card_cache[product_id] = (card, now)
            found |= {i: (c, now) for i, c in loaded.items()}
        return {i: entry[0] for i, entry in found.items()}

    def _finish(
        self,
        session: Session,
        shopper: Shopper,
        placement: Placement,
        serving: Serving,
        recs: Sequence[Recommendation],
        version: str,
        strategy: str,
        title: str | None = None,
        *,
        log_session: Session | None = None,
        shown_with: Collection[int] = (),
    ) -> RecommendationList:
        """Map the model's items to products, apply the rules, cut to size and log it.

        `shown_with` are the products the list accompanies (the product page's own product,
        the cart's, the order's): the model leaves them out, and so must a pin.
        """
        rules = self._favourite_boosts(session, shopper) + serving.config.rules_for(
            placement.name, utcnow()
        )
        own_pins = [r for r in rules if r.type == "pin" and r.product_id in shown_with]
        rules = [r for r in rules if r not in own_pins]
        pinned = {r.product_id for r in rules if r.type == "pin" and r.product_id is not None}
        sellable_ids = {int(r.item) for r in recs} | pinned
        reason_ids = {int(r.reason.item) for r in recs if r.reason.item is not None}
        cards = self._cards(session, sellable_ids | reason_ids)
        # The cached set keeps most unsellable products out cheaply; a product deactivated
        # or sold out since it was cached is caught here, so its dead link is never shown.
        unsellable = self.unsellable(session) | unsellable_now(session, sellable_ids)
        candidates = [
            Candidate(
                int(r.item),
                float(r.score),
                reason_text(r, cards),
                r.reason.code,
                cards[int(r.item)].category_id,
            )
            for r in recs
            if int(r.item) in cards and int(r.item) not in unsellable
        ]
        not_bought: list[Rule] = []
        if placement.name == "buy_again":  # a pin may reorder past purchases, never add one
            ranked = {int(r.item) for r in recs}
            # A sellable product left out for that reason says so; an unsellable one is
            # skipped as such below (the model leaves unsellable past purchases out too).
            not_bought = [
                r
                for r in rules
                if r.type == "pin"
                and r.product_id is not None
                and r.product_id not in ranked
                and r.product_id in cards
                and r.product_id not in unsellable
            ]
            rules = [r for r in rules if r not in not_bought]
            pinned &= ranked
        pinnable = {
            pid: Candidate(pid, 0.0, "Featured by the shop", "pinned", cards[pid].category_id)
            for pid in pinned
            if pid in cards and pid not in unsellable
        }
        outcome = apply_rules(candidates, rules, placement.size, pinnable)
        skipped = [
            *((rule, OWN_PRODUCT_SKIP) for rule in own_pins),
            *((rule, NOT_A_PAST_PURCHASE_SKIP) for rule in not_bought),
            *outcome.skipped,
        ]
        for rule, why in skipped:
            log.info("rule %s skipped on %s: %s", rule.id, placement.name, why)
        items = [
            RecommendedProduct(cards[c.product_id], c.score, c.reason, c.reason_code, c.moved_by)
            for c in outcome.items
        ]
        shown = RecommendationList(
            placement.name,
            title or placement.title,
            items,
            uuid.uuid4().hex,
            version,
            strategy,
            serving.variant,
            tuple(f"{rule.label()}: {why}" for rule, why in skipped),
        )
        return self._logged(shopper, shown, serving, log_session)

    def _favourite_boosts(self, session: Session, shopper: Shopper) -> list[Rule]:
        """A boost for each category the member chose as a favourite (before the
        merchandisers' rules, so their pins and exclusions still win)."""
        if shopper.user_id is None or not shopper.personalized:
            return []
        return [
            Rule(f"favourite-{category}", "boost", category_id=category, factor=FAVOURITE_BOOST)
            for category in sorted(self.favourites(session, shopper.user_id))
        ]

    def _popular(
        self,
        session: Session,
        shopper: Shopper,
        placement: Placement,
        serving: Serving,
        exclude: Iterable[int],
        log_session: Session | None = None,
        skip: Collection[int] = (),
    ) -> RecommendationList:
        """Recently popular items from the model (the "popularity only" strategy).

        `exclude` are the products the list goes with; `skip` others to leave out.
        """
        assert serving.model is not None
        version, model = serving.model
        exclude = set(exclude)
        skip = set(self.unsellable(session)) | exclude | set(skip)
        recs = model.popular(k=self._candidates(serving, placement), exclude=skip)
        promises_more = placement.name in PERSONAL_PLACEMENTS | BEST_SELLER_TITLED
        title = POPULAR_TITLE if promises_more else placement.title
        return self._finish(
            session,
            shopper,
            placement,
            serving,
            recs,
            version,
            "popular",
            title,
            log_session=log_session,
            shown_with=exclude,
        )

    def _fallback(
        self,
        session: Session,
        shopper: Shopper,
        placement: Placement,
        serving: Serving,
        exclude: Iterable[int],
        log_session: Session | None = None,
        skip: Collection[int] = (),
    ) -> RecommendationList:
        """Best sellers from the catalogue, when there is no usable model.

        `exclude` are the products the list goes with; `skip` others to leave out.
        """
        exclude = set(exclude)
        skip = exclude | set(skip)
        query = (
            select(Product.id, Product.order_count)
            .where(on_sale_to(public_viewer()), Product.stock_qty > 0)
            .order_by(Product.order_count.desc(), Product.id)
            .limit(self._candidates(serving, placement) + len(skip))
        )
        recs = [
            Recommendation(product_id, float(orders), POPULAR_REASON)
            for product_id, orders in session.execute(query)
            if product_id not in skip
        ]
        title = POPULAR_TITLE if placement.name in BEST_SELLER_TITLED else placement.title
        return self._finish(
            session,
            shopper,
            placement,
            serving,
            recs,
            FALLBACK_VERSION,
            "popular",
            title,
            log_session=log_session,
            shown_with=exclude,
        )

    def _buy_again_without_model(
        self, session: Session, shopper: Shopper, placement: Placement, serving: Serving, k: int
    ) -> RecommendationList:
        """The shopper's own purchases, most often bought first, when there is no model."""
        history = self._history(session, shopper, serving, None).of_kinds(["purchase"])
        counts: dict[Any, tuple[int, float]] = {}
        for item, when in zip(history.items.tolist(), history.timestamps.tolist(), strict=True):
            times, last = counts.get(item, (0, float("-inf")))
            counts[item] = (times + 1, max(last, when))
        unsellable = self.unsellable(session)
        ranked = sorted(
            (item for item in counts if int(item) not in unsellable),
            key=lambda item: counts[item],
            reverse=True,
        )[:k]
        recs = [Recommendation(i, float(counts[i][0]), reasons.buy_again(i)) for i in ranked]
        if not recs:
            return self._empty(placement)
        return self._finish(
            session, shopper, placement, serving, recs, FALLBACK_VERSION, "buy_again"
        )

    def _empty(self, placement: Placement) -> RecommendationList:
        return RecommendationList(placement.name, placement.title, [], "", "", "none")

    def _logged(
        self,
        shopper: Shopper,
        shown: RecommendationList,
        serving: Serving,
        session: Session | None = None,
    ) -> RecommendationList:
        """Record the impression: by the batch writer, or in the given session's transaction."""
        if not shown.items or not serving.record or not shopper.counted:
            return shown
        linked = shopper.personalized and shopper.recorded
        row = {
            "rec_id": shown.rec_id,
            "placement": shown.placement,
            "model_version": shown.model_version,
            "strategy": shown.strategy,
            "variant": shown.variant,
            # Lists shown to someone who refused personalization are counted, not linked.
            "visitor_id": shopper.visitor_id if linked else "anonymous",
            "user_id": shopper.user_id if linked else None,
            "product_ids": [item.product.id for item in shown.items],
            "created_at": utcnow(),
        }
        if session is not None:
            session.execute(insert(Impression), [row])
        else:
            self.log_impression(row)
        return shown

    # --- preview ----------------------------------------------------------------------------

    def preview(
        self,
        session: Session,
        shopper: Shopper,
        config: MerchConfig,
        *,
        product_id: int | None = None,
        cart: Sequence[int] = (),
        order: Sequence[int] = (),
        pending: list[dict[str, Any]] | None = None,
    ) -> dict[str, RecommendationList]:
        """Every placement for one shopper under `config`, not logged and not cached (the
        shopper's history is read once for all of them)."""
        history = shopper_interactions(session, shopper, pending or [])
        serving = Serving(
            config, self.model(), record=False, cached=False, pending=pending or [], history=history
        )
        lists = {
            "home": self.for_home(session, shopper, serving=serving),
            "buy_again": self.buy_again(session, shopper, serving=serving),
            "cart": self.for_cart(session, shopper, cart, serving=serving),
            "order": self.for_order(session, shopper, order, serving=serving),
            "order_email": self.for_order(session, shopper, order, "order_email", serving=serving),
            # What the weekly e-mail (loyalty.campaigns) asks for: no order to go with.
            "weekly_email": self.for_order(session, shopper, [], "weekly_email", serving=serving),
            # ... and the monthly personal picks e-mail (loyalty.picks).
            "picks_email": self.for_order(session, shopper, [], "picks_email", serving=serving),
            # ... and a merchandiser's mailing to a segment (loyalty.segment_mailings).
            "segment_email": self.for_order(session, shopper, [], "segment_email", serving=serving),
        }
        if product_id is not None:
            lists["product"] = self.for_product(session, shopper, product_id, serving=serving)
        return lists

    # --- training ---------------------------------------------------------------------------

    def train(
        self,
        session: Session,
        params: TrainingParams | None = None,
        *,
        activate: bool = True,
        metadata: Mapping[str, Any] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> str:
        """Train on every recorded interaction, save a version and (by default) activate it."""
        data = load_interactions(session)
        if not len(data):
            raise ValueError("there are no interactions to train on yet")
        model = train_model(
            data,
            params or default_params(),
            now=time.time(),
            progress=progress,
            item_features=item_features(session),
        )
        info = {"source": "shop", "trained_at": utcnow().isoformat(), **(metadata or {})}
        version = self.store.save(model, info)
        if activate:
            self.store.activate(version)
        return version


# --- mapping results to products ------------------------------------------------------------


def below(recs: Sequence[Recommendation], floor: float | None) -> list[Recommendation]:
    """The same best-first list, rescored to rank under `floor` in its own order: fill-ins
    from another signal, whose scores are on another scale, come after what they complete."""
    if floor is None:
        return list(recs)
    step = max(abs(floor), 1.0) / (len(recs) + 1)
    return [replace(r, score=floor - (rank + 1) * step) for rank, r in enumerate(recs)]


def personal_or_popular(recs: Sequence[Recommendation]) -> str:
    """The strategy a personal list really used: a history of products the model does not
    know yet (or none) gives popular items only."""
    return "personal" if any(r.reason.code != POPULAR_REASON.code for r in recs) else "popular"


def unsellable_now(session: Session, ids: Collection[int]) -> frozenset[int]:
    """Which of these products are inactive, out of stock or not launched to everyone right
    now (one indexed query)."""
    if not ids:
        return frozenset()
    query = select(Product.id).where(Product.id.in_(list(ids)), _not_sellable())
    return frozenset(session.scalars(query))


def _not_sellable() -> ColumnElement[bool]:
    # Early access is a member's own view of the catalogue; recommendations (also shown
    # to others, cached, and sent by e-mail) only carry products launched to everyone.
    return or_(Product.active.is_(False), Product.stock_qty <= 0, not_launched_yet(public_viewer()))


def _products_by_id(session: Session, ids: set[int]) -> dict[int, Product]:
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}


def model_directory(instance_path: str | Path) -> Path:
    """Where trained model versions are kept for this app."""
    return Path(instance_path) / "models"


def with_placement(
    placements: Mapping[str, Placement], name: str, **changes: Any
) -> dict[str, Placement]:
    """A copy of the placements with one of them changed (title, size, repurchase, strategy);
    ValueError names what is wrong with a change."""
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "title": (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty text"),
        "size": (
            lambda v: type(v) is int and 1 <= v <= MAX_LIST_SIZE,
            f"a whole number from 1 to {MAX_LIST_SIZE}",
        ),
        "allow_repurchase": (lambda v: isinstance(v, bool), "true or false"),
        "strategy": (lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}"),
    }
    for key, value in changes.items():
        if key not in checks:
            raise ValueError(f"placement {name!r}: unknown setting {key!r}")
        valid, expected = checks[key]
        if not valid(value):
            raise ValueError(f"placement {name!r}: {key} must be {expected}, not {value!r}")
    updated = dict(placements)
    updated[name] = replace(updated[name], **changes)
    return updated
