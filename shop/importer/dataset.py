"""Read the Online Retail CSV into memory and work out products, customers and invoices.

No database here: `read_dataset` streams the file once (csv + gzip, no pandas) and
`plan_products` / `plan_customers` turn the invoices into what the importer will insert.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from shop.catalog.categories import categorise
from shop.importer import parsing

Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 25_000


class DatasetFormatError(ValueError):
    """The file is not the Online Retail CSV (its header lacks the expected columns)."""


@dataclass(slots=True)
class Invoice:
    """One invoice of the dataset; lines are (stock code, quantity, unit price in pence)."""

    number: str
    is_return: bool
    customer_ref: str | None
    country: str
    placed_at: datetime
    lines: list[tuple[str, int, int]] = field(default_factory=list)


@dataclass
class Dataset:
    """Everything the import needs from the file, held in memory."""

    rows_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    descriptions: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def rows_imported(self) -> int:
        """Rows that became order lines."""
        return sum(len(invoice.lines) for invoice in self.invoices.values())

    @property
    def last_invoice_at(self) -> datetime | None:
        """The time of the latest imported invoice."""
        return max((i.placed_at for i in self.invoices.values()), default=None)


@dataclass(frozen=True)
class ProductPlan:
    """A product as it will be inserted."""

    sku: str
    name: str
    category: str
    description: str
    price_pence: int
    stock_qty: int
    order_count: int


@dataclass(frozen=True)
class CustomerPlan:
    """An imported customer: their most frequent country and first invoice."""

    ref: str
    country: str
    first_seen: datetime


def _open_rows(path: Path, progress: Progress | None) -> Generator[list[str], None, None]:
    """Yield the CSV records of a .csv or .csv.gz file, reporting progress in bytes."""
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        binary = gzip.GzipFile(fileobj=raw) if gzipped else raw
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="replace", newline="")
        for n, record in enumerate(csv.reader(text)):
            if progress and n % PROGRESS_EVERY == 0:
                progress("read", raw.tell(), size)
            yield record
        if progress:
            progress("read", size, size)


def read_dataset(path: Path, progress: Progress | None = None) -> Dataset:
    """Read the file, parse every row, count skipped rows and group the rest by invoice."""
    with closing(_open_rows(path, progress)) as records:
        return _read_records(path, records)


def _read_records(path: Path, records: Iterator[list[str]]) -> Dataset:
    data = Dataset()
    header = [name.strip() for name in next(records, [])]
    missing = [name for name in parsing.COLUMNS if name not in header]
    if missing:
        raise DatasetFormatError(f"{path} is not the Online Retail CSV: no {', '.join(missing)}")
    order = [header.index(name) for name in parsing.COLUMNS]
    width = len(header)
    codes: dict[str, str] = {}  # one string object per stock code keeps memory down
    for fields in records:
        data.rows_read += 1
        try:
            if len(fields) != width:
                raise parsing.MalformedRowError("wrong number of fields")
            row = parsing.parse_row([fields[i] for i in order])
        except parsing.MalformedRowError:
            data.skipped[parsing.MALFORMED] += 1
            continue
        reason = parsing.skip_reason(row)
        if reason:
            data.skipped[reason] += 1
            continue
        code = codes.setdefault(row.code, row.code)
        invoice = data.invoices.get(row.invoice)
        if invoice is None:
            invoice = Invoice(
                row.invoice, row.is_return, row.customer_ref, row.country, row.invoiced_at
            )
            data.invoices[row.invoice] = invoice
        elif row.invoiced_at < invoice.placed_at:
            invoice.placed_at = row.invoiced_at
        invoice.lines.append((code, row.quantity, row.unit_price_pence))
        if row.description:
            data.descriptions[code][row.description] += 1
    _drop_unknown_products(data)
    return data


def _drop_unknown_products(data: Dataset) -> None:
    """Skip lines whose stock code never has a description (no name for the product)."""
    for number in list(data.invoices):
        invoice = data.invoices[number]
        kept = [line for line in invoice.lines if line[0] in data.descriptions]
        if len(kept) != len(invoice.lines):
            data.skipped[parsing.UNKNOWN_PRODUCT] += len(invoice.lines) - len(kept)
            invoice.lines = kept
        if not kept:
            del data.invoices[number]


@dataclass
class _Stats:
    sale_prices: Counter[int] = field(default_factory=Counter)
    return_prices: Counter[int] = field(default_factory=Counter)
    orders: set[str] = field(default_factory=set)
    daily_net: Counter[date] = field(default_factory=Counter)
    last_sale: date | None = None


def plan_products(data: Dataset) -> list[ProductPlan]:
    """Work out every product's name, category, price, stock and popularity."""
    stats: dict[str, _Stats] = defaultdict(_Stats)
    for invoice in data.invoices.values():
        day = invoice.placed_at.date()
        for code, quantity, price in invoice.lines:
            s = stats[code]
            s.daily_net[day] += quantity
            if invoice.is_return:
                s.return_prices[price] += 1
                continue
            s.sale_prices[price] += 1
            s.orders.add(invoice.number)
            if s.last_sale is None or day > s.last_sale:
                s.last_sale = day
    last = data.last_invoice_at
    data_end = last.date() if last else date.today()
    plans = []
    for code in sorted(stats):
        s = stats[code]
        name = parsing.clean_name(parsing.most_common_text(data.descriptions[code]))[:200]
        slug = categorise(name)
        orders = len(s.orders)
        plans.append(
            ProductPlan(
                sku=code,
                name=name,
                category=slug,
                description="",  # the data has none; merchants write one in the console
                price_pence=parsing.typical_price(s.sale_prices, s.return_prices),
                stock_qty=parsing.stock_level(s.daily_net, s.last_sale, data_end),
                order_count=orders,
            )
        )
    return plans


def plan_customers(data: Dataset) -> list[CustomerPlan]:
    """Every customer with their most frequent invoice country and first invoice time."""
    countries: dict[str, Counter[str]] = defaultdict(Counter)
    first_seen: dict[str, datetime] = {}
    for invoice in data.invoices.values():
        ref = invoice.customer_ref
        if ref is None:
            continue
        countries[ref][invoice.country] += 1
        if ref not in first_seen or invoice.placed_at < first_seen[ref]:
            first_seen[ref] = invoice.placed_at
    return [
        CustomerPlan(ref, parsing.most_common_text(countries[ref]), first_seen[ref])
        for ref in sorted(countries, key=lambda r: (len(r), r))
    ]
