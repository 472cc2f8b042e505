"""The console's catalogue CSV parsing and value parsing (no app, no database)."""

from __future__ import annotations

import csv

import pytest

from shop.console.catalog_admin import (
    MAX_IMPORT_BYTES,
    CsvFileError,
    ImportRow,
    format_price,
    parse_active,
    parse_catalog_csv,
    parse_price,
    parse_stock,
)

CATS = {"candles", "bags"}


@pytest.mark.parametrize(
    ("text", "pence"),
    [
        ("2.95", 295),
        ("3", 300),
        ("10.5", 1050),
        ("£4.00", 400),
        (" 0.01 ", 1),
        ("99999.99", 9999999),
    ],
)
def test_prices_in_pounds_become_whole_pence(text: str, pence: int) -> None:
    assert parse_price(text) == pence
    assert isinstance(parse_price(text), int)


@pytest.mark.parametrize(
    "text", ["", "abc", "2.955", "-1", "0", "0.00", "1,50", "1e3", "NaN", "2.", ".5", "100000.01"]
)
def test_bad_prices_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_price(text)


def test_prices_format_back_to_pounds() -> None:
    assert [format_price(p) for p in (295, 5, 100000)] == ["2.95", "0.05", "1000.00"]


def test_stock_and_active_flags() -> None:
    assert parse_stock(" 12 ") == 12
    for bad in ("-1", "1.5", "", "lots", "99999999"):
        with pytest.raises(ValueError):
            parse_stock(bad)
    assert [parse_active(v) for v in ("yes", "No", "TRUE", "0", "y")] == [
        True,
        False,
        True,
        False,
        True,
    ]
    with pytest.raises(ValueError, match="not yes or no"):
        parse_active("maybe")


def test_good_rows_parse_and_blank_cells_mean_unchanged() -> None:
    data = (
        b"sku,name,description,category,price,stock,active\r\n"
        b'85123A,"Heart, white","Two\nlines",Candles,2.95,50,yes\r\n'
        b"71053,,,,,7,\r\n"
    )
    parsed = parse_catalog_csv(data, CATS)
    assert parsed.errors == []
    assert parsed.rows == [
        ImportRow(2, "85123A", "Heart, white", "Two\nlines", "candles", 295, 50, True),
        ImportRow(3, "71053", None, None, None, None, 7, None),
    ]


def test_bad_rows_are_reported_with_their_row_numbers() -> None:
    data = (
        b"sku,price,stock,active,category\n"
        b"A1,2.95,1,yes,bags\n"
        b",2.95,1,yes,bags\n"
        b"A2,two pounds,1,yes,bags\n"
        b"A3,1.00,-4,yes,bags\n"
        b"A4,1.00,1,perhaps,bags\n"
        b"A5,1.00,1,yes,shoes\n"
        b"A1,1.00,1,yes,bags\n"
        b"A6,1.00\n"
        b"\n"
        b"A7,1.00,2,no,\n"
    )
    parsed = parse_catalog_csv(data, CATS)
    assert [r.sku for r in parsed.rows] == ["A1", "A7"]
    got = [(e.row, e.sku, e.message.split(":")[0]) for e in parsed.errors]
    assert got == [
        (3, "", "the SKU is missing"),
        (4, "A2", "bad price"),
        (5, "A3", "bad stock"),
        (6, "A4", "bad active flag"),
        (7, "A5", "unknown category 'shoes'"),
        (8, "A1", "SKU A1 already appeared in row 2"),
        (9, "A6", "expected 5 cells, found 2"),
    ]
    assert parsed.rows[1].row == 11


def test_a_utf8_bom_and_formula_guards_are_handled() -> None:
    data = "\ufeffsku,name\nX1,'=SUM(A1)\nX2,Café\n".encode()
    rows = parse_catalog_csv(data, CATS).rows
    assert [(r.sku, r.name) for r in rows] == [("X1", "=SUM(A1)"), ("X2", "Café")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("sku,name\nX,Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"", "empty"),
        (b"name,price\nHeart,2.95\n", "sku column"),
        (b"sku,colour\nX,red\n", "unknown: 'colour'"),
        (b"sku,sku\nX,Y\n", "twice"),
        (b"x" * (MAX_IMPORT_BYTES + 1), "larger than"),
    ],
)
def test_files_that_cannot_be_read_are_refused_as_a_whole(data: bytes, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        parse_catalog_csv(data, CATS)


LIMIT = csv.field_size_limit()
HUGE = b"a" * 140_000


@pytest.mark.parametrize(
    ("data", "row"),
    [
        (b"sku,name\nA1,One\nA2,Two\nA3,Three\nA4," + HUGE + b"\n", 5),
        (b"sku,name\nA1," + HUGE + b"\n", 2),
        (b'sku,name\nA1,"' + HUGE + b'"\n', 2),
        (b"sku,name\nA1,One\n\nA2," + HUGE + b"\nA3,Three\n", 4),  # a blank line is a row
        # A quoted cell over several lines is one row, as in the per-row errors.
        (b'sku,description\nA1,"two\nlines"\nA2,' + HUGE + b"\n", 3),
        (b"sku," + HUGE + b"\nA1,One\n", 1),
    ],
)
def test_an_oversized_cell_names_its_row(data: bytes, row: int) -> None:
    with pytest.raises(CsvFileError) as refused:
        parse_catalog_csv(data, CATS)
    assert str(refused.value) == (
        f"Row {row}: a value is longer than {LIMIT} characters, so nothing was imported."
    )


def test_rows_are_numbered_alike_in_row_errors_and_file_errors() -> None:
    rows = b"sku,price\nA1,1.00\nA2,nope\n"
    assert [e.row for e in parse_catalog_csv(rows, CATS).errors] == [3]
    with pytest.raises(CsvFileError, match=r"^Row 3: "):
        parse_catalog_csv(b"sku,price\nA1,1.00\nA2," + HUGE + b"\n", CATS)
