"""The category keyword rules: whole-word matching, rule order, display order, docs."""

from __future__ import annotations

import dataclasses
import re

import pytest

from shop.catalog import categories
from shop.catalog.categories import (
    CATEGORY_RULES,
    FALLBACK,
    CategoryRule,
    all_categories,
    categorise,
    category_name,
)


@pytest.mark.parametrize(
    ("description", "slug"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "candles"),
        ("JUMBO BAG RED RETROSPOT", "bags"),
        ("REGENCY CAKESTAND 3 TIER", "kitchen-dining"),
        ("PARTY BUNTING", "party"),
        ("ASSORTED COLOUR BIRD ORNAMENT", "home-decor"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS ", "christmas"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "kitchen-dining"),
        ("JUMBO STORAGE BAG SUKI", "bags"),
        ("WOODEN FRAME ANTIQUE WHITE ", "home-decor"),
        ("PACK OF 72 RETROSPOT CAKE CASES", "party"),
        ("DIAMANTE EARRINGS CRYSTAL", "jewellery"),
        ("SPACEBOY BIRTHDAY CARD", "cards-wrap"),
        ("PLAYING CARDS KEEP CALM & CARRY ON", "toys-games"),
        ("ROSES REGENCY TEACUP AND SAUCER ", "kitchen-dining"),
        ("HOT WATER BOTTLE KEEP CALM", "bath-beauty"),
        ("VINTAGE ZINC WATERING CAN", "garden"),
        ("HOME SWEET HOME METAL SIGN ", "signs-plaques"),
        ("RABBIT NIGHT LIGHT", "lights"),
        ("SMALL PURPLE BABUSHKA NOTEBOOK ", "stationery"),
        ("SEWING BOX RETROSPOT DESIGN ", "crafts-sewing"),
        ("WOODEN BOX OF DOMINOES", "toys-games"),
        ("RECYCLED ACAPULCO MAT RED", FALLBACK.slug),
        ("", FALLBACK.slug),
    ],
)
def test_categorise_real_descriptions(description: str, slug: str) -> None:
    assert categorise(description) == slug


def test_whole_words_only() -> None:
    assert categorise("BAGUETTE") == FALLBACK.slug  # not "bag"
    assert categorise("BAGUETTE DISH") == "kitchen-dining"
    assert categorise("SPRING") == FALLBACK.slug  # not "ring"
    assert categorise("PENGUIN") == FALLBACK.slug  # not "pen"
    assert categorise("SILVER RING") == "jewellery"


def test_case_plurals_and_stems() -> None:
    assert categorise("heart mug") == "kitchen-dining"
    assert categorise("Heart Mug") == "kitchen-dining"
    assert categorise("SET OF 3 BOXES") == "storage"  # box -> boxes
    assert categorise("SET OF 72 PAPER DOILIES") == "kitchen-dining"  # doily -> doilies
    assert categorise("SET OF 4 KNIVES") == "kitchen-dining"  # knife -> knives
    assert categorise("BLUE CANDLESTICK") == "candles"  # candle*
    assert categorise("GLASS TEA-LIGHT") == "candles"  # "tea light" across a hyphen


def test_first_matching_rule_wins() -> None:
    assert categorise("CHRISTMAS CANDLE") == "christmas"
    assert categorise("FAIRY CAKE CUSHION COVER") == "home-decor"  # the object beats the theme
    assert categorise("HEART MUG") == "kitchen-dining"
    assert categorise("HEART DECORATION") == "home-decor"


def test_rules_table_shape() -> None:
    assert len(CATEGORY_RULES) == 20
    assert all(isinstance(rule, CategoryRule) for rule in CATEGORY_RULES)
    assert (FALLBACK.slug, FALLBACK.name, FALLBACK.keywords) == ("gifts-more", "Gifts & more", ())
    for rule in CATEGORY_RULES:
        assert rule.keywords, rule.slug
        assert all(k == k.strip().lower() and k for k in rule.keywords), rule.slug
        assert len(set(rule.keywords)) == len(rule.keywords), rule.slug


def test_every_keyword_matches_its_own_text() -> None:
    order = [rule.slug for rule in CATEGORY_RULES]
    for index, rule in enumerate(CATEGORY_RULES):
        for keyword in rule.keywords:
            slug = categorise(keyword.rstrip("*").upper())
            assert slug != FALLBACK.slug, keyword
            assert order.index(slug) <= index, (keyword, slug)


def test_category_rule_is_frozen() -> None:
    rule = CATEGORY_RULES[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.slug = "other"  # type: ignore[misc]


def test_all_categories_display_order() -> None:
    listed = all_categories()
    slugs = [slug for slug, _name in listed]
    assert len(listed) == 18
    assert len(set(slugs)) == len(slugs)
    assert listed[-1] == ("gifts-more", "Gifts & more")
    assert listed[0] == ("bags", "Bags")
    names = [name for _slug, name in listed[:-1]]
    assert names == sorted(names, key=str.lower)
    assert set(slugs) == {rule.slug for rule in CATEGORY_RULES} | {FALLBACK.slug}


def test_category_name() -> None:
    assert category_name("kitchen-dining") == "Kitchen & dining"
    assert category_name("gifts-more") == "Gifts & more"
    with pytest.raises(KeyError):
        category_name("nope")


def _docstring_table() -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse the rules table in the module docstring (rows up to the catch-all)."""
    rows: list[list[str]] = []
    for line in (categories.__doc__ or "").splitlines():
        if not line.startswith("|"):
            continue
        number, name, slug, keywords = (cell.strip() for cell in line.strip("|").split("|"))
        if number == "-":  # the catch-all row ends the rules
            break
        if number == "#" or set(number) == {"-"}:  # header and separator
            continue
        if number:
            rows.append([slug, name, keywords])
        else:
            rows[-1][2] += " " + keywords
    return [(slug, name, tuple(re.split(r",\s*", kws))) for slug, name, kws in rows]


def test_docstring_table_matches_the_rules() -> None:
    documented = _docstring_table()
    in_code = [(rule.slug, rule.name, rule.keywords) for rule in CATEGORY_RULES]
    assert documented == in_code
