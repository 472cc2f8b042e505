"""The shop's recommendation vocabulary: placements, the lists it renders, how a list is
served, and the default training parameters. Plain values; `shop/recommendations.py` does
the serving."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recommender import Interactions, Reason, Recommendation, Recommender, TrainingParams
from shop.catalog.models import Product
from shop.merchandising.config import MerchConfig, PlacementSettings

# Chosen by `tune` on the Online Retail purchases before 2011-09-01 (see
# docs/RECOMMENDER.md); `flask recommender tune` writes a file that replaces them.
DEFAULT_PARAMS = {
    "model": "als",
    "model_params": {"factors": 64, "regularization": 10.0, "alpha": 0.25, "iterations": 30},
    "weighting": {"half_life_days": 90.0},
    "blend": {
        "popular": 0.25,
        "buy_again": 0.5,
        "buy_again_half_life_days": 180.0,
        "content": 0.25,
        "neighbours": 1.0,
        "popularity_penalty": 0.3,
    },
    "content": {"neighbours": 20},
    "neighbours": {"neighbours": 200, "recent_days": 30.0},
}


TUNED_PARAMS = "params.json"


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
    strategy: str = "personal"

    def settings(self) -> PlacementSettings:
        """The tunable part."""
        return PlacementSettings(self.size, self.allow_repurchase, self.strategy)


PLACEMENTS: dict[str, Placement] = {
    p.name: p
    for p in (
        Placement("home", "Recommended for you", 8),
        Placement("buy_again", "Buy it again", 8, allow_repurchase=True),
        Placement("product", "Shoppers who bought this also bought", 6),
        Placement("cart", "Frequently bought together", 6),
        Placement("order", "You might also like", 4),
        Placement("order_email", "You might also like", 4),
        Placement("weekly_email", "Picked for you this week", 6),
        Placement("picks_email", "Picked for you", 6),
        Placement("segment_email", "Picked for you", 6),
    )
}
POPULAR_TITLE = "Popular right now"
SIMILAR_TITLE = "You may also like"  # a product page's list with similar items in it
POPULAR_REASON = Reason("popular", POPULAR_TITLE)


@dataclass
class ShopperState:
    """What identifies a shopper's history right now: newest stored event, unwritten ones;
    and the history itself once read, so the lists of one page read it once."""

    pending: list[dict[str, Any]]
    newest_event_id: int
    history: Interactions | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ProductCard:
    """What a recommendation card shows of a product (kept briefly in memory)."""

    id: int
    name: str
    price_pence: int
    currency: str
    category_id: int | None = None


@dataclass(frozen=True)
class RecommendedProduct:
    """A product in a recommendation list, with the reason to show."""

    product: ProductCard
    score: float
    reason: str
    reason_code: str
    moved_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecommendationList:
    """A list to render; `rec_id` goes on every link so clicks can be attributed."""

    placement: str
    title: str
    items: list[RecommendedProduct]
    rec_id: str
    model_version: str
    strategy: str
    variant: str | None = None
    skipped_rules: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items)


@dataclass(frozen=True)
class Serving:
    """How one list is produced: which settings and rules, which model, and whether to log.

    The storefront uses the live state (or the shopper's A/B variant); the console's preview
    passes a draft, no logging and no cache.
    """

    config: MerchConfig
    model: tuple[str, Recommender] | None
    variant: str | None = None
    record: bool = True
    cached: bool = True
    pending: list[dict[str, Any]] | None = None
    # The shopper's history, read once for every list of a preview (which has no cache).
    history: Interactions | None = None


@dataclass(frozen=True)
class Assignment:
    """An A/B variant that changes how a placement is served for one visitor."""

    label: str
    model_version: str | None = None
    config: MerchConfig | None = None
    popularity_only: bool = False


def product_card(product: Product) -> ProductCard:
    return ProductCard(
        product.id, product.name, product.price_pence, product.currency, product.category_id
    )


REASON_TEXTS = {
    ("buy_again", None): "You bought this before",
    ("personal", "purchase"): "Because you bought {name}",
    ("personal", "view"): "Because you viewed {name}",
    ("personal", "cart_add"): "Because you added {name} to your cart",
    ("similar", None): "Similar to {name}",
    ("bought_together", None): "Often bought with {name}",
    ("like_you", None): "{peers} shoppers who liked {name} bought this recently",
    ("like_you", "one"): "A shopper who liked {name} bought this recently",
}


def reason_text(rec: Recommendation, products: Mapping[int, ProductCard]) -> str:
    """The library's reason, with the product's name in place of its id."""
    reason = rec.reason
    source = products.get(int(reason.item)) if reason.item is not None else None
    if source is None:
        return reason.text
    peers = int(rec.details.get("peers", 0))
    kind = "one" if reason.code == "like_you" and peers == 1 else reason.kind
    template = REASON_TEXTS.get((reason.code, kind)) or REASON_TEXTS.get((reason.code, None))
    return template.format(name=source.name, peers=peers) if template else reason.text
