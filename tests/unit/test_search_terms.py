from shop.catalog.search import joined_alternatives, search_terms


def test_terms_are_lower_case_unique_words() -> None:
    assert search_terms("Red  RETROSPOT bag, red!") == ["red", "retrospot", "bag"]


def test_punctuation_and_fts_operators_are_dropped() -> None:
    assert search_terms('"heart" OR (NEAR) * -candle') == ["heart", "or", "near", "candle"]


def test_long_queries_are_cut() -> None:
    terms = search_terms("lantern " * 5000, max_chars=200)
    assert terms == ["lantern"]
    many = search_terms(" ".join(f"w{i}" for i in range(100)), max_terms=12)
    assert len(many) == 12


def test_empty_query_has_no_terms() -> None:
    assert search_terms("  !!  ") == []


def test_neighbouring_words_are_also_tried_as_one() -> None:
    assert joined_alternatives(["cake", "stand", "tier"]) == [
        ["cake", "stand", "tier"],
        ["cakestand", "tier"],
        ["cake", "standtier"],
    ]
    assert joined_alternatives(["mug"]) == [["mug"]]
