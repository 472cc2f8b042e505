"""Full-text search on the real engines: FTS5 on SQLite, tsvector on PostgreSQL."""

from datetime import timedelta

from sqlalchemy.orm import Session

from shop.catalog.search import search_products
from shop.db import utcnow
from tests import factories


def _names(session: Session, query: str, **kwargs: int | str) -> list[str]:
    return [p.name for p in search_products(session, query, **kwargs).page.items]


def test_name_matches_rank_above_description_matches(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Gift Box", description="Holds a candle nicely")
    factories.product(session, cat, sku="B", name="Pillar Candle", description="Unscented wax")
    session.commit()
    assert _names(session, "candle") == ["Pillar Candle", "Gift Box"]


def test_stemming_and_prefixes_match(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Set of 3 Heart Candles")
    factories.product(session, cat, sku="B", name="Hanging Lanterns")
    session.commit()
    assert _names(session, "candle") == ["Set of 3 Heart Candles"]
    assert _names(session, "lantern") == ["Hanging Lanterns"]
    assert _names(session, "lant") == ["Hanging Lanterns"]


def test_all_words_first_then_any_word(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Red Retrospot Lunch Bag", orders=5)
    factories.product(session, cat, sku="B", name="Red Heart Cushion", orders=50)
    session.commit()
    both = search_products(session, "red bag")
    assert [p.name for p in both.page.items] == ["Red Retrospot Lunch Bag"]
    assert both.matched_all_terms
    either = search_products(session, "bag cushion")
    assert sorted(p.name for p in either.page.items) == [
        "Red Heart Cushion",
        "Red Retrospot Lunch Bag",
    ]
    assert not either.matched_all_terms


def test_inactive_products_are_not_found_and_updates_are_indexed(session: Session) -> None:
    cat = factories.category(session)
    old = factories.product(session, cat, sku="A", name="Paper Chain Kit", active=False)
    item = factories.product(session, cat, sku="B", name="Bunting")
    session.commit()
    assert _names(session, "paper") == []
    item.name = "Paper Bunting"
    session.commit()
    assert _names(session, "paper") == ["Paper Bunting"]
    assert old.active is False


def test_paging_and_totals(session: Session) -> None:
    cat = factories.category(session)
    for i in range(7):
        factories.product(session, cat, sku=f"M{i}", name=f"Mug number {i}", orders=i)
    session.commit()
    first = search_products(session, "mug", page=1, size=5)
    second = search_products(session, "mug", page=2, size=5)
    assert (first.page.total, len(first.page.items), len(second.page.items)) == (7, 5, 2)
    assert first.page.items[0].name == "Mug number 6"  # equal relevance: most ordered first


def test_a_one_letter_word_matches_whole_words_only(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Bold Candle Holder")
    factories.product(session, cat, sku="B", name="Blue Bag")
    factories.product(session, cat, sku="C", name="Set of 3 Heart Candles")
    session.commit()
    assert _names(session, "b") == []  # not every word that starts with b
    # "<b>bold</b> candle": no product has all three words; the stray "b" is left out of
    # the any-word fallback instead of matching "Blue Bag".
    fallback = search_products(session, "<b>bold</b> candle")
    assert sorted(p.name for p in fallback.page.items) == [
        "Bold Candle Holder",
        "Set of 3 Heart Candles",
    ]
    assert _names(session, "set of 3") == ["Set of 3 Heart Candles"]


def test_two_words_also_find_the_product_that_writes_them_as_one(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Regency Cakestand 3 Tier", orders=9)
    factories.product(session, cat, sku="B", name="Cake Tin", orders=5)
    factories.product(session, cat, sku="C", name="Vintage Cake Stand Sign", orders=1)
    session.commit()
    found = search_products(session, "cake stand")
    assert sorted(p.name for p in found.page.items) == [
        "Regency Cakestand 3 Tier",
        "Vintage Cake Stand Sign",
    ]
    assert found.matched_all_terms
    assert _names(session, "regency cake stand") == ["Regency Cakestand 3 Tier"]
    assert _names(session, "cake stand tier") == ["Regency Cakestand 3 Tier"]
    assert _names(session, "cake tin") == ["Cake Tin"]  # "caketin" adds nothing wrong


def test_a_word_is_also_read_as_two_when_nothing_matches_it(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="White Hanging Heart T-Light Holder", orders=9)
    factories.product(session, cat, sku="B", name="Red Retrospot Lunch Bag", orders=5)
    factories.product(session, cat, sku="C", name="Light Garland", orders=7)
    factories.product(session, cat, sku="D", name="Tea Light Candles", orders=3)
    session.commit()
    assert _names(session, "tlight") == ["White Hanging Heart T-Light Holder"]
    found = search_products(session, "tlight holder")
    assert [p.name for p in found.page.items] == ["White Hanging Heart T-Light Holder"]
    assert found.matched_all_terms
    assert _names(session, "lunchbag") == ["Red Retrospot Lunch Bag"]
    assert _names(session, "tealights") == ["Tea Light Candles"]
    assert sorted(_names(session, "light")) == [
        "Light Garland",
        "Tea Light Candles",
        "White Hanging Heart T-Light Holder",
    ]
    assert _names(session, "xqzlight") == []


def _codes_catalogue(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="85123A", name="White Hanging Heart T-Light Holder")
    factories.product(session, cat, sku="22423", name="Regency Cakestand 3 Tier", orders=90)
    factories.product(session, cat, sku="84029G", name="Knitted Union Flag Hot Water Bottle")
    factories.product(session, cat, sku="84029E", name="Red Woolly Hottie White Heart", orders=1)
    factories.product(session, cat, sku="22424", name="Enamel Bread Bin Cream", orders=50)
    session.commit()


def test_an_item_code_finds_its_product_in_any_case(session: Session) -> None:
    _codes_catalogue(session)
    assert _names(session, "85123A") == ["White Hanging Heart T-Light Holder"]
    assert _names(session, " 85123a ") == ["White Hanging Heart T-Light Holder"]
    assert _names(session, "84029g") == ["Knitted Union Flag Hot Water Bottle"]
    found = search_products(session, "22423")
    assert [p.name for p in found.page.items] == ["Regency Cakestand 3 Tier"]
    assert found.matched_all_terms


def test_the_start_of_a_code_finds_the_products_with_codes_that_start_so(session: Session) -> None:
    _codes_catalogue(session)
    # In code order, whatever their popularity.
    assert _names(session, "8402") == [
        "Red Woolly Hottie White Heart",
        "Knitted Union Flag Hot Water Bottle",
    ]
    assert _names(session, "2242") == ["Regency Cakestand 3 Tier", "Enamel Bread Bin Cream"]
    assert _names(session, "2242") == _names(session, "2242 ")
    assert _names(session, "84") == []  # too short to be read as a code
    # Only a whole query is read as a code: here the words decide.
    assert "Knitted Union Flag Hot Water Bottle" not in _names(session, "8402 heart")


def test_exact_code_first_then_word_matches_then_codes_that_start_so(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="HEART-9", name="Ribbon Reel", orders=99)
    factories.product(session, cat, sku="HEART-2", name="Heart Bunting", orders=50)
    factories.product(session, cat, sku="21733", name="Red Hanging Heart T-Light Holder", orders=9)
    factories.product(session, cat, sku="HEART", name="Gift Voucher")
    factories.product(session, cat, sku="HEART-3", name="Paper Doily")
    session.commit()
    found = search_products(session, "heart")
    assert [p.name for p in found.page.items] == [
        "Gift Voucher",  # its code is the query
        # Word matches, ranked as before; one whose code also starts so is listed once.
        "Heart Bunting",
        "Red Hanging Heart T-Light Holder",
        "Paper Doily",  # codes that start with the query, in code order
        "Ribbon Reel",
    ]
    assert found.page.total == 5
    pages = [search_products(session, "heart", page=n, size=2).page for n in (1, 2, 3)]
    assert [p.total for p in pages] == [5, 5, 5]
    assert [p.name for page in pages for p in page.items] == [p.name for p in found.page.items]


def test_code_search_keeps_hidden_products_out(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="85123A", name="Heart Holder", active=False)
    later = factories.product(session, cat, sku="85123B", name="Star Holder")
    later.launches_at = utcnow() + timedelta(days=3)
    factories.product(session, cat, sku="85123C", name="Moon Holder")
    session.commit()
    assert _names(session, "85123a") == []
    assert _names(session, "85123b") == []
    assert _names(session, "85123") == ["Moon Holder"]


def test_code_characters_are_not_wildcards(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="GIFT_0001_20", name="Voucher")
    factories.product(session, cat, sku="GIFTX0001", name="Box")
    factories.product(session, cat, sku="GIFT*0001", name="Tag")
    session.commit()
    assert _names(session, "gift_0001") == ["Voucher"]
    assert _names(session, "gift%") == []
    assert _names(session, "gift*") == []


def test_among_equal_matches_the_more_often_bought_product_comes_first(session: Session) -> None:
    cat = factories.category(session)
    # The short name is bm25's favourite; the best seller has the long name.
    factories.product(session, cat, sku="A", name="Heart Doormat", orders=0)
    factories.product(session, cat, sku="B", name="White Hanging Heart T-Light Holder", orders=2200)
    factories.product(session, cat, sku="C", name="Heart of Wicker Small", orders=120)
    session.commit()
    assert _names(session, "heart") == [
        "White Hanging Heart T-Light Holder",
        "Heart of Wicker Small",
        "Heart Doormat",
    ]


def test_a_best_seller_matching_only_in_its_description_stays_below_name_matches(
    session: Session,
) -> None:
    cat = factories.category(session)
    factories.product(
        session, cat, sku="A", name="Jumbo Bag", description="Room for a candle", orders=5000
    )
    factories.product(session, cat, sku="B", name="Pillar Candle", orders=0)
    session.commit()
    assert _names(session, "candle") == ["Pillar Candle", "Jumbo Bag"]


def test_the_hits_can_be_sorted_by_price_name_or_popularity(session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="A", name="Brass Lantern", price=900, orders=5)
    factories.product(session, cat, sku="B", name="Anchor Lantern", price=300, orders=50)
    factories.product(session, cat, sku="C", name="Copper Lantern", price=600, orders=500)
    factories.product(session, cat, sku="D", name="Cotton Bag", price=100, orders=9000)
    session.commit()
    assert _names(session, "lantern", sort="price_asc") == [
        "Anchor Lantern",
        "Copper Lantern",
        "Brass Lantern",
    ]
    assert _names(session, "lantern", sort="price_desc")[0] == "Brass Lantern"
    assert _names(session, "lantern", sort="name")[0] == "Anchor Lantern"
    assert _names(session, "lantern", sort="popular")[0] == "Copper Lantern"
    results = search_products(session, "lantern", sort="cheapest-first")
    assert results.sort == "relevance" and results.page.total == 3
    # Matching any word when none matches all keeps the chosen order too.
    found = search_products(session, "lantern zeppelin", sort="price_asc")
    assert not found.matched_all_terms
    assert found.page.items[0].name == "Anchor Lantern"
