"""docs/RECOMMENDER.md promises that everything in its "Public API" section is importable
from `recommender`."""

from __future__ import annotations

import re

import recommender
from shop.config import PROJECT_ROOT


def _api_section() -> str:
    text = (PROJECT_ROOT / "docs" / "RECOMMENDER.md").read_text(encoding="utf-8")
    start = text.index("## Public API")
    return text[start : text.index("\n## ", start + 1)]


def test_every_class_and_function_the_api_section_names_is_importable() -> None:
    section = _api_section()
    named = set(re.findall(r"`([A-Z][A-Za-z]+)[(.`]", section))  # classes, even nested
    named -= {"ACTIVE", "ValueError"}  # a file name and a built-in exception
    # Functions heading a row of a "| name |" table (the "| method |" tables are Model's).
    for table in re.findall(r"^\| name \|.*?(?=\n\n|\Z)", section, flags=re.MULTILINE | re.DOTALL):
        named |= set(re.findall(r"^\| `([a-z_]+)\(", table, flags=re.MULTILINE))
    assert {"SimilarParams", "train", "read_item_features_csv", "tune"} <= named
    assert sorted(named - set(recommender.__all__)) == []
    assert all(hasattr(recommender, name) for name in named)
