"""Counts in words: the noun's number and thousands separators."""

from __future__ import annotations

import pytest

from shop.wording import counted


@pytest.mark.parametrize(
    ("count", "noun", "plural", "expected"),
    [
        (0, "member", None, "0 members"),
        (1, "member", None, "1 member"),
        (2, "e-mail", None, "2 e-mails"),
        (12_500, "point", None, "12,500 points"),
        (1, "reminder e-mail", None, "1 reminder e-mail"),
        (3, "category", "categories", "3 categories"),
    ],
)
def test_counted(count: int, noun: str, plural: str | None, expected: str) -> None:
    assert counted(count, noun, plural) == expected
