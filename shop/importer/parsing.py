"""Pure helpers for the Online Retail import: row parsing, skip reasons, names, prices, stock.

Nothing here touches a database, so all of it is unit-tested directly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from shop.money import to_minor

COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)

# Codes that are not goods: postage, carriage, fees, discounts, manual corrections, samples,
# bad-debt adjustments, cushion pads given away with cushions, and gift vouchers.
NON_PRODUCT_CODES = frozenset(
    {
        "POST",  # POSTAGE
        "DOT",  # DOTCOM POSTAGE
        "C2",  # CARRIAGE
        "D",  # Discount
        "M",  # Manual (also written "m")
        "S",  # SAMPLES
        "B",  # Adjust bad debt
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",  # CRUK Commission
        "PADS",  # PADS TO MATCH ALL CUSHIONS (priced at 0.001)
        "22016",  # Dotcomgiftshop Gift Voucher £100.00
        "23444",  # Next Day Carriage
        "23574",  # PACKING CHARGE
        "23702",  # High Resolution Image
    }
)
NON_PRODUCT_PREFIXES = ("GIFT_0001_",)  # gift_0001_10 ... gift_0001_50: gift vouchers

# Why a row is not imported. Each skipped row is counted once, under the first reason that
# applies, in this order.
MALFORMED = "malformed_row"
BAD_DEBT = "bad_debt_adjustment"
NON_PRODUCT = "non_product_code"
ZERO_QUANTITY = "zero_quantity"
STOCK_ADJUSTMENT = "stock_adjustment"
POSITIVE_RETURN = "positive_quantity_on_return"
BAD_PRICE = "zero_or_negative_price"
UNKNOWN_PRODUCT = "missing_description_unknown_product"
SKIP_REASONS = (
    MALFORMED,
    BAD_DEBT,
    NON_PRODUCT,
    ZERO_QUANTITY,
    STOCK_ADJUSTMENT,
    POSITIVE_RETURN,
    BAD_PRICE,
    UNKNOWN_PRODUCT,
)

MAX_CODE_LENGTH = 40
RECENT_DAYS = 91  # 13 weeks: "the final 3 months"
ACTIVE_DAYS = 182  # 26 weeks: "the last 6 months"
STOCK_WEEKS = 6


class MalformedRowError(ValueError):
    """A CSV row that cannot be read: wrong field count, bad number or bad date."""


@dataclass(frozen=True, slots=True)
class Row:
    """One parsed line of the dataset; money in pence, stock code in upper case.

    The data writes some codes both ways ("85123A" and "85123a"); they are one product.
    """

    invoice: str
    code: str
    description: str
    quantity: int
    invoiced_at: datetime
    unit_price_pence: int
    customer_ref: str | None
    country: str

    @property
    def is_return(self) -> bool:
        """True for a cancellation ("C" invoice)."""
        return self.invoice.startswith("C")


def parse_row(fields: list[str]) -> Row:
    """Parse the eight CSV fields of a row; raise MalformedRowError if they are unusable."""
    if len(fields) != len(COLUMNS):
        raise MalformedRowError(f"expected {len(COLUMNS)} fields, got {len(fields)}")
    invoice, code, description, quantity, when, price, customer, country = (
        f.strip() for f in fields
    )
    if not invoice or not code or len(invoice) > MAX_CODE_LENGTH or len(code) > MAX_CODE_LENGTH:
        raise MalformedRowError(f"bad invoice or stock code: {invoice!r} {code!r}")
    try:
        qty = int(quantity)
        invoiced_at = parse_when(when)
        price_pence = parse_price(price)
        customer_ref = parse_customer_ref(customer)
    except ValueError as exc:
        raise MalformedRowError(str(exc)) from exc
    code = code.upper()
    return Row(invoice, code, description, qty, invoiced_at, price_pence, customer_ref, country)


@lru_cache(maxsize=65536)
def parse_when(value: str) -> datetime:
    """Parse an InvoiceDate like "2010-12-01 08:26:00" (cached: invoices share times)."""
    when = datetime.fromisoformat(value)
    if when.tzinfo is not None:
        raise ValueError(f"unexpected time zone in {value!r}")
    return when


@lru_cache(maxsize=65536)
def parse_price(value: str) -> int:
    """Parse a UnitPrice in pounds ("2.55") to pence (255), exactly, without floats."""
    return to_minor(value)


def parse_customer_ref(value: str) -> str | None:
    """Return a CustomerID as a plain string ("17850"), or None when it is empty."""
    value = value.strip()
    if not value or value.lower() == "nan":
        return None
    if value.endswith(".0"):
        value = value[:-2]
    if not value.isdigit():
        raise ValueError(f"bad CustomerID: {value!r}")
    return value


def is_non_product_code(code: str) -> bool:
    """True for stock codes that are not goods (postage, fees, discounts, vouchers...)."""
    upper = code.strip().upper()
    return upper in NON_PRODUCT_CODES or upper.startswith(NON_PRODUCT_PREFIXES)


def skip_reason(row: Row) -> str | None:
    """Return why a parsed row is not imported, or None if it becomes an order line."""
    if row.invoice.startswith("A"):
        return BAD_DEBT
    if is_non_product_code(row.code):
        return NON_PRODUCT
    if row.quantity == 0:
        return ZERO_QUANTITY
    if row.quantity < 0 and not row.is_return:
        return STOCK_ADJUSTMENT
    if row.quantity > 0 and row.is_return:
        return POSITIVE_RETURN
    if row.unit_price_pence <= 0:
        return BAD_PRICE
    return None


# --- display names ------------------------------------------------------------------------

ACRONYMS = frozenset({"LED", "USB", "UK", "TV", "CD", "DVD", "VIP", "ABC", "DIY", "XL", "XXL"})
SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
)
ABBREVIATIONS = {
    "ASS": "Assorted",
    "ASST": "Assorted",
    "ASSTD": "Assorted",
    "COL": "Colour",
    "B'FLY": "Butterfly",
    "P'WEIGHT": "Paperweight",
}
UPPER_AFTER_DIGIT = frozenset({"D", "W", "V"})  # 3D, 25W, 12V; other units go lower: 60cm, 125g
_LETTERS = re.compile(r"[A-Za-z]+")


def _title_word(word: str, first: bool) -> str:
    """Title-case the letter runs of one word, keeping units, acronyms and small words."""
    upper = word.upper()
    if upper in ABBREVIATIONS:
        return ABBREVIATIONS[upper]
    if not first and word.lower() in SMALL_WORDS:
        return word.lower()

    def case(match: re.Match[str]) -> str:
        run = match.group(0)
        before = word[match.start() - 1] if match.start() else ""
        if before.isdigit():
            return run.upper() if run.upper() in UPPER_AFTER_DIGIT else run.lower()
        if before == "'":
            return run.lower()
        if run.upper() in ACRONYMS:
            return run.upper()
        return run[0].upper() + run[1:].lower()

    return _LETTERS.sub(case, word)


def clean_name(description: str) -> str:
    """Turn an UPPER CASE description into a display name ("T-Light Holder", "LED Lights")."""
    text = description.replace("Â£", "£").strip().lstrip("*").strip()
    text = re.sub(r",(?=\S)", ", ", text)
    words = text.split()
    if not words:
        return ""
    lower = sum(c.islower() for c in text)
    upper = sum(c.isupper() for c in text)
    if lower > upper:  # already written in mixed case ("Dr. Jam's Arouzer Stress Ball")
        return " ".join(words)
    return " ".join(_title_word(word, i == 0) for i, word in enumerate(words))


# --- aggregates ---------------------------------------------------------------------------


def most_common(counts: Counter[int]) -> int | None:
    """Return the most frequent value; a tie goes to the smallest value."""
    if not counts:
        return None
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0]


def typical_price(sale_prices: Counter[int], return_prices: Counter[int]) -> int:
    """The product price in pence: the most frequent positive unit price on sale lines.

    Wholesale customers often get a lower price for big quantities, and a few lines carry
    odd one-off prices, so the price charged most often is the one a shopper would see on
    the shelf. A tie goes to the lower price. A product that only appears on returns uses
    the most frequent price of its returns.
    """
    for counts in (sale_prices, return_prices):
        positive = Counter({price: n for price, n in counts.items() if price > 0})
        price = most_common(positive)
        if price is not None:
            return price
    raise ValueError("no positive price for this product")


def most_common_text(counts: Counter[str]) -> str:
    """The most frequent non-empty text; a tie goes to the one seen first."""
    for text, _n in counts.most_common():
        if text.strip():
            return text
    return ""


def stock_level(daily_net_units: dict[date, int], last_sale: date | None, data_end: date) -> int:
    """Units in stock: six weeks of recent net sales; 0 if unsold for 26 weeks.

    The full rule is in the docstring of `shop.importer.online_retail`.
    """
    if last_sale is None or (data_end - last_sale).days >= ACTIVE_DAYS:
        return 0
    for days in (RECENT_DAYS, ACTIVE_DAYS):
        start = data_end - timedelta(days=days)
        net = sum(n for day, n in daily_net_units.items() if day > start)
        if net > 0:
            return -(-STOCK_WEEKS * net // (days // 7))  # ceil(6 * net / weeks)
    return 0


def date_shift_days(last_invoice: datetime, now: date | datetime) -> int:
    """Whole days to add to every timestamp so that the last invoice falls on the day of
    `now` (a date: that day), or the day before when its time of day is still ahead, so no
    imported order is placed in the future."""
    moment = now if isinstance(now, datetime) else datetime.combine(now, datetime.max.time())
    days = (moment.date() - last_invoice.date()).days
    return days - 1 if last_invoice.time() > moment.time() else days
