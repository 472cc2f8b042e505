"""Why an item is shown: a short text plus the item and interaction kind behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from recommender.keys import Key

PERSONAL = "personal"
BUY_AGAIN = "buy_again"
POPULAR = "popular"
SIMILAR = "similar"
BOUGHT_TOGETHER = "bought_together"
LIKE_YOU = "like_you"

BECAUSE_TEMPLATES: Mapping[str, str] = {
    "purchase": "Because you bought {item}",
    "view": "Because you viewed {item}",
    "cart_add": "Because you added {item} to your cart",
}
GENERIC_BECAUSE = "Because of your interest in {item}"
POPULAR_TEXT = "Popular right now"


@dataclass(frozen=True)
class Reason:
    """Why a recommendation was made.

    Attributes
    ----------
    code : str
        "personal", "buy_again", "like_you", "popular", "similar" or "bought_together".
    text : str
        A sentence for the shopper, naming the item by its key (the shop may re-render it
        with the product's name from `item` and `kind`).
    item : str or int or None
        The item that contributed most.
    kind : str or None
        The user's interaction kind with that item ("purchase", "view", ...).
    """

    code: str
    text: str
    item: Key | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Recommendation:
    """One recommended item.

    Attributes
    ----------
    item : str or int
        The item's key.
    score : float
        Higher is better; comparable within one list only.
    reason : Reason
    details : mapping of str to float
        Extra figures (support, confidence and lift for "bought together").
    """

    item: Key
    score: float
    reason: Reason
    details: Mapping[str, float] = field(default_factory=dict)


def because(item: Key, kind: str | None) -> Reason:
    """ "Because you bought X" / "Because you viewed Y" / ..."""
    template = BECAUSE_TEMPLATES.get(kind or "", GENERIC_BECAUSE)
    return Reason(PERSONAL, template.format(item=item), item, kind)


def buy_again(item: Key) -> Reason:
    """The shopper bought this item before and it is often re-bought."""
    return Reason(BUY_AGAIN, f"Buy it again: you bought {item} before", item, "purchase")


def popular() -> Reason:
    """No personal signal: a recently popular item."""
    return Reason(POPULAR, POPULAR_TEXT)


def like_you(buyers: int, item: Key | None = None, kind: str | None = None) -> Reason:
    """Some of the shoppers most similar to this one bought the item recently; item is the
    shopper's item those shoppers share most (kind: the shopper's interaction with it)."""
    if item is None:
        who = "a shopper like you" if buyers == 1 else f"{buyers} shoppers like you"
        return Reason(LIKE_YOU, f"Bought recently by {who}")
    who = "A shopper" if buyers == 1 else f"{buyers} shoppers"
    return Reason(LIKE_YOU, f"{who} who liked {item} bought this recently", item, kind)


def similar_to(item: Key) -> Reason:
    """Similar to the item being looked at."""
    return Reason(SIMILAR, f"Similar to {item}", item)


def bought_with(item: Key) -> Reason:
    """Often bought together with an item in the basket."""
    return Reason(BOUGHT_TOGETHER, f"Often bought with {item}", item, "purchase")
