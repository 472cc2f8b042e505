"""Full-text search on the real engines: FTS5 on SQLite, tsvector on PostgreSQL."""

from sqlalchemy.orm import Session

from shop.catalog.search import search_products
from tests import factories


def _names(session: Session, query: str, **kwargs: int) -> list[str]:
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
