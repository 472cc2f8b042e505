"""Wording helpers: counts in words (the noun's number, thousands separators), dates, countries."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from shop.wording import counted, country_name, long_date


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


def test_long_date_reads_dates_and_iso_texts() -> None:
    assert long_date(date(2028, 11, 5)) == "05 Nov 2028"
    assert long_date(datetime(2028, 11, 25, 14, 30)) == "25 Nov 2028"
    assert long_date("2028-11-25") == "25 Nov 2028"


def test_country_names_take_the_where_english_does() -> None:
    assert country_name("United Kingdom") == "the United Kingdom"
    assert country_name("Netherlands") == "the Netherlands"
    assert country_name("France") == "France"
