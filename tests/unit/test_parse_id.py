"""Ids typed or sent as text: only whole numbers a database id column can hold."""

import pytest

from shop.db import ID_MAX, parse_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("0", 0),
        (str(ID_MAX), ID_MAX),
        (str(ID_MAX + 1), None),
        ("9" * 5000, None),  # longer than int() even accepts by default
        ("", None),
        ("-1", None),
        ("1.0", None),
        ("١٢", None),  # Arabic-Indic digits: isdigit() but not an id
        ("abc", None),
    ],
)
def test_parse_id(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected
