"""Online Retail import helpers without a database: rows, skip reasons, names, prices, stock."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from shop.importer import parsing
from shop.importer.dataset import DatasetFormatError, plan_customers, plan_products, read_dataset
from shop.importer.parsing import (
    MalformedRowError,
    clean_name,
    date_shift_days,
    is_non_product_code,
    parse_row,
    skip_reason,
    stock_level,
    typical_price,
)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def fields(
    invoice: str = "536365",
    code: str = "85123A",
    description: str = "WHITE HANGING HEART T-LIGHT HOLDER",
    quantity: str = "6",
    when: str = "2010-12-01 08:26:00",
    price: str = "2.55",
    customer: str = "17850",
    country: str = "United Kingdom",
) -> list[str]:
    return [invoice, code, description, quantity, when, price, customer, country]


# --- rows -----------------------------------------------------------------------------------


def test_parse_row() -> None:
    row = parse_row(fields())
    assert row.invoice == "536365"
    assert row.code == "85123A"
    assert row.description == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert row.quantity == 6
    assert row.invoiced_at == datetime(2010, 12, 1, 8, 26)
    assert row.unit_price_pence == 255
    assert isinstance(row.unit_price_pence, int)
    assert row.customer_ref == "17850"
    assert row.country == "United Kingdom"
    assert row.is_return is False


def test_parse_row_normalises() -> None:
    row = parse_row(fields(invoice="C536379", code="85123a", customer="", quantity="-1"))
    assert row.code == "85123A"
    assert row.customer_ref is None
    assert row.is_return is True
    assert parse_row(fields(customer="17850.0")).customer_ref == "17850"
    assert parse_row(fields(price="0.001")).unit_price_pence == 0
    assert parse_row(fields(price="38970.0")).unit_price_pence == 3_897_000
    assert parse_row(fields(price="-11062.06")).unit_price_pence == -1_106_206


@pytest.mark.parametrize(
    "bad",
    [
        fields(quantity="six"),
        fields(quantity="1.5"),
        fields(when="2010-13-45 08:26:00"),
        fields(when=""),
        fields(price="abc"),
        fields(price=""),
        fields(price="nan"),
        fields(customer="abc"),
        fields(code=""),
        fields(invoice=""),
        fields(code="X" * 41),
        fields()[:7],
        [*fields(), "extra"],
    ],
)
def test_parse_row_rejects_malformed(bad: list[str]) -> None:
    with pytest.raises(MalformedRowError):
        parse_row(bad)


@pytest.mark.parametrize(
    ("row_fields", "reason"),
    [
        (fields(), None),
        (fields(invoice="C536379", quantity="-1"), None),
        (fields(customer=""), None),
        (fields(invoice="A563185", code="B", price="11062.06", customer=""), "bad_debt_adjustment"),
        (fields(code="POST", description="POSTAGE", price="18.00"), "non_product_code"),
        (fields(code="m", description="Manual"), "non_product_code"),
        (fields(code="gift_0001_20", price="16.67"), "non_product_code"),
        (fields(code="BANK CHARGES", price="15.00"), "non_product_code"),
        (fields(quantity="0"), "zero_quantity"),
        (fields(quantity="-5", description="check", price="0"), "stock_adjustment"),
        (fields(invoice="C536379", quantity="3"), "positive_quantity_on_return"),
        (fields(price="0"), "zero_or_negative_price"),
        (fields(price="-1.00"), "zero_or_negative_price"),
        (fields(invoice="C536379", quantity="-1", price="0"), "zero_or_negative_price"),
    ],
)
def test_skip_reason(row_fields: list[str], reason: str | None) -> None:
    assert skip_reason(parse_row(row_fields)) == reason


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("POST", True),
        ("DOT", True),
        ("M", True),
        ("m", True),
        ("D", True),
        ("S", True),
        ("B", True),
        ("C2", True),
        ("CRUK", True),
        ("PADS", True),
        ("AMAZONFEE", True),
        ("BANK CHARGES", True),
        ("gift_0001_50", True),
        ("23444", True),  # Next Day Carriage
        ("85123A", False),
        ("DCGS0003", False),  # a real product sold through the website
        ("DCGSSGIRL", False),
        ("POSTER", False),
    ],
)
def test_is_non_product_code(code: str, expected: bool) -> None:
    assert is_non_product_code(code) is expected


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "White Hanging Heart T-Light Holder"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN ", "Set of 3 Cake Tins Pantry Design"),
        ("BUNNIES IN A BUCKET", "Bunnies in a Bucket"),
        ("POLYESTER FILLER PAD 30CMx30CM", "Polyester Filler Pad 30cmx30cm"),
        ("BAG 125g SWIRLY MARBLES", "Bag 125g Swirly Marbles"),
        ("15CM CHRISTMAS GLASS BALL 20 LIGHTS", "15cm Christmas Glass Ball 20 Lights"),
        ("3D DOG PICTURE PLAYING CARDS", "3D Dog Picture Playing Cards"),
        ("SILICON CUBE 25W, BLUE", "Silicon Cube 25W, Blue"),
        ("LED TEA LIGHTS", "LED Tea Lights"),
        ("*USB Office Mirror Ball", "USB Office Mirror Ball"),
        ("50'S CHRISTMAS GIFT BAG LARGE", "50's Christmas Gift Bag Large"),
        ("POPPY'S PLAYHOUSE KITCHEN", "Poppy's Playhouse Kitchen"),
        ('LETTER "A" BLING KEY RING', 'Letter "A" Bling Key Ring'),
        ("TEA,COFFEE,SUGAR TINS", "Tea, Coffee, Sugar Tins"),
        ("ASS COL LARGE SAND FROG P'WEIGHT", "Assorted Colour Large Sand Frog Paperweight"),
        ("PINK/WHITE RIBBED MELAMINE JUG", "Pink/White Ribbed Melamine Jug"),
        ("A4 WALL TIDY BLUE OFFICE", "A4 Wall Tidy Blue Office"),
        ("3 TRADITIONAl BISCUIT CUTTERS  SET", "3 Traditional Biscuit Cutters Set"),
        ("Dr. Jam's Arouzer Stress Ball", "Dr. Jam's Arouzer Stress Ball"),
        ("   ", ""),
    ],
)
def test_clean_name(raw: str, name: str) -> None:
    assert clean_name(raw) == name


# --- prices, quantities, stock, dates --------------------------------------------------------


def test_typical_price_is_most_frequent_sale_price() -> None:
    assert typical_price(Counter({255: 5, 295: 3, 210: 1}), Counter({199: 9})) == 255


def test_typical_price_tie_goes_to_lower_price() -> None:
    assert typical_price(Counter({295: 2, 255: 2}), Counter()) == 255


def test_typical_price_ignores_non_positive_and_falls_back_to_returns() -> None:
    assert typical_price(Counter({0: 9, 120: 1}), Counter()) == 120
    assert typical_price(Counter(), Counter({450: 2, 395: 1})) == 450
    with pytest.raises(ValueError):
        typical_price(Counter({0: 3}), Counter())


END = date(2011, 12, 9)


def test_stock_is_six_weeks_of_the_last_thirteen() -> None:
    sales = {date(2011, 12, 1): 26}
    assert stock_level(sales, date(2011, 12, 1), END) == 12  # 6 * 26 / 13
    assert stock_level({date(2011, 12, 1): 13}, date(2011, 12, 1), END) == 6
    assert stock_level({date(2011, 12, 1): 1}, date(2011, 12, 1), END) == 1  # rounds up
    assert stock_level({date(2011, 12, 1): 14}, date(2011, 12, 1), END) == 7  # 6.46 -> 7


def test_stock_window_edges() -> None:
    # 90 days before the end is inside the 13 weeks; 91 days is outside.
    inside = date(2011, 9, 10)
    outside = date(2011, 9, 9)
    assert (END - inside).days == 90
    assert stock_level({inside: 13}, inside, END) == 6
    # outside the 13 weeks, so the 26-week rate applies: ceil(6 * 13 / 26) = 3
    assert stock_level({outside: 13}, outside, END) == 3


def test_stock_zero_without_a_sale_in_26_weeks() -> None:
    old = date(2011, 6, 10)
    assert (END - old).days == 182
    assert stock_level({old: 500}, old, END) == 0
    assert stock_level({}, None, END) == 0


def test_stock_uses_net_units() -> None:
    day = date(2011, 12, 9)
    assert stock_level({day: 0}, day, END) == 0  # 80995 sold and 80995 returned
    # everything recent came back: the 26-week rate on the net units
    older = date(2011, 7, 1)
    assert stock_level({day: 0, older: 52}, day, END) == 12


def test_date_shift_days() -> None:
    last = datetime(2011, 12, 9, 12, 50)
    assert date_shift_days(last, date(2011, 12, 9)) == 0
    assert date_shift_days(last, date(2011, 12, 10)) == 1
    assert date_shift_days(last, date(2024, 1, 31)) == 4436
    assert date_shift_days(last, date(2011, 12, 1)) == -8
    # At a moment before 12:50, the last invoice goes to the day before: never in the future.
    assert date_shift_days(last, datetime(2026, 11, 24, 0, 47)) == 5463
    assert date_shift_days(last, datetime(2026, 11, 24, 12, 50)) == 5464
    assert datetime(2011, 12, 9, 12, 50) + timedelta(days=5463) < datetime(2026, 11, 24, 0, 47)


# --- reading a file -------------------------------------------------------------------------


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("\n".join([HEADER, *lines]) + "\n")
    return path


def test_read_dataset_groups_invoices_and_counts_skips(tmp_path: Path) -> None:
    path = write_gz(
        tmp_path / "data.csv.gz",
        [
            "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,UK",
            "536365,85123a,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 08:28:00,2.95,17850,UK",
            "536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.0,17850,UK",
            "536366,71053,,1,2010-12-01 08:30:00,3.39,,UK",
            "536367,71053,WHITE METAL LANTERN,oops,2010-12-01 08:30:00,3.39,,UK",
            "536368,22423,REGENCY CAKESTAND 3 TIER,2,2010-12-02 09:00:00,12.75,",
        ],
    )
    data = read_dataset(path)
    assert data.rows_read == 6
    assert data.skipped == Counter(
        {"non_product_code": 1, "malformed_row": 2, "missing_description_unknown_product": 1}
    )
    assert list(data.invoices) == ["536365"]
    invoice = data.invoices["536365"]
    assert invoice.lines == [("85123A", 6, 255), ("85123A", 2, 295)]
    assert invoice.placed_at == datetime(2010, 12, 1, 8, 26)
    assert data.rows_imported == 2
    [product] = plan_products(data)
    assert (product.sku, product.name, product.price_pence) == (
        "85123A",
        "White Hanging Heart T-Light Holder",
        255,
    )
    assert product.order_count == 1
    assert product.category == "candles"
    [customer] = plan_customers(data)
    assert (customer.ref, customer.country) == ("17850", "UK")


def test_read_dataset_rejects_another_csv(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DatasetFormatError, match="InvoiceNo"):
        read_dataset(path)


def test_skip_reasons_are_all_listed() -> None:
    assert parsing.SKIP_REASONS == (
        "malformed_row",
        "bad_debt_adjustment",
        "non_product_code",
        "zero_quantity",
        "stock_adjustment",
        "positive_quantity_on_return",
        "zero_or_negative_price",
        "missing_description_unknown_product",
    )
