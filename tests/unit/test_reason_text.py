"""The library's reasons rendered with product names."""

from __future__ import annotations

from recommender import Recommendation
from recommender.reasons import because, like_you, popular
from shop.recommendation_types import ProductCard, reason_text

CARDS = {7: ProductCard(7, "Jumbo Bag Red Retrospot", 195, "GBP", None)}


def test_personal_reasons_name_the_product() -> None:
    rec = Recommendation("9", 1.0, because(7, "view"))
    assert reason_text(rec, CARDS) == "Because you viewed Jumbo Bag Red Retrospot"


def test_shoppers_like_you_name_the_product_and_count_the_peers() -> None:
    rec = Recommendation("9", 1.0, like_you(4, 7, "view"), {"peers": 4.0})
    assert (
        reason_text(rec, CARDS)
        == "4 shoppers who liked Jumbo Bag Red Retrospot bought this recently"
    )
    one = Recommendation("9", 1.0, like_you(1, 7, "purchase"), {"peers": 1.0})
    assert (
        reason_text(one, CARDS)
        == "A shopper who liked Jumbo Bag Red Retrospot bought this recently"
    )


def test_reasons_without_a_known_product_keep_the_library_text() -> None:
    assert reason_text(Recommendation("9", 1.0, like_you(3)), CARDS) == (
        "Bought recently by 3 shoppers like you"
    )
    assert reason_text(Recommendation("9", 1.0, like_you(2, 99)), CARDS) == (
        "2 shoppers who liked 99 bought this recently"
    )
    assert reason_text(Recommendation("9", 1.0, popular()), CARDS) == "Popular right now"
