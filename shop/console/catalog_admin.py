"""Catalogue administration for the console: listing, editing, creating and CSV in and out.

Plain functions that take a session; every change adds an audit entry to the caller's
transaction, so the change and its record commit (or roll back) together.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shop.catalog.models import Category, Product, StockAlert
from shop.console import audit
from shop.form_fields import (
    CONTROL_MESSAGE,
    MULTILINE_CONTROL_MESSAGE,
    control_characters,
    date_in_range,
)
from shop.money import plain_amount as format_price
from shop.pagination import Page, check_page

LOW_STOCK = 5
STOCK_FILTERS = {
    "in": "In stock",
    "out": "Out of stock",
    "low": f"Low (1 to {LOW_STOCK})",
    "wanted": "Out of stock, shoppers waiting",
}
MAX_PRICE_PENCE = 10_000_000  # £100,000.00
MAX_STOCK = 1_000_000
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
CSV_COLUMNS = ("sku", "name", "description", "category", "price", "stock", "active", "launches_at")
LAUNCH_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
NO_LAUNCH = "none"  # the launches_at cell that takes a launch time away
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
PRICE_RE = re.compile(r"^£?\s*([0-9]{1,7})(?:\.([0-9]{1,2}))?$")
TRUE_WORDS = frozenset({"yes", "y", "true", "1", "active"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "inactive"})
# Cells a spreadsheet would run as a formula; the export prefixes them with an apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CatalogAdminError(ValueError):
    """A catalogue change that cannot be made; the message is safe to show."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CsvFileError(ValueError):
    """A whole CSV file that cannot be read (encoding, size, header); nothing is applied."""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --- parsing single values -------------------------------------------------------------


def parse_price(text: str) -> int:
    """Pounds as typed ('2.95', '£3', '10.5') to pence; raise ValueError with a clear message."""
    match = PRICE_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a price in pounds, such as 2.95")
    pence = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if pence <= 0:
        raise ValueError("The price must be more than zero")
    if pence > MAX_PRICE_PENCE:
        raise ValueError("The price is too large")
    return pence


def parse_stock(text: str) -> int:
    """A whole number of units from 0 to MAX_STOCK; raise ValueError otherwise."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 7:
        raise ValueError(f"{value!r} is not a whole number of units")
    if int(value) > MAX_STOCK:
        raise ValueError(f"stock may be at most {MAX_STOCK}")
    return int(value)


def parse_active(text: str) -> bool:
    """yes/no, true/false, 1/0 (any case) to a bool; raise ValueError otherwise."""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"{text.strip()!r} is not yes or no")


def to_the_minute(moment: datetime | None) -> datetime | None:
    """A launch time without seconds: the form, the list and the CSV export show whole
    minutes, so seconds kept would be dropped, unseen, by the next save or import."""
    return moment.replace(second=0, microsecond=0) if moment is not None else None


def parse_launch(text: str) -> datetime | None:
    """A launch time in UTC ('2026-12-01 09:00', or a date for midnight; seconds are dropped),
    or None for 'none'; raise ValueError otherwise."""
    value = text.strip()
    if value.lower() == NO_LAUNCH:
        return None
    for fmt in (*LAUNCH_FORMATS, "%Y-%m-%d"):
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if not date_in_range(moment.date()):
            raise ValueError(f"{value!r} is too far in the past or the future")
        return to_the_minute(moment)
    raise ValueError(f"{value!r} is not a date and time such as 2026-12-01 09:00, or none")


def check_sku(text: str) -> str:
    """A trimmed, upper-cased SKU of letters, digits and . _ / - (at most 40), as the importer
    stores them, so "abc-1" and "ABC-1" are one product; raise ValueError otherwise."""
    sku = text.strip().upper()
    if not sku:
        raise ValueError("the SKU is missing")
    if len(sku) > 40 or not SKU_RE.match(sku):
        raise ValueError(f"{sku[:40]!r} is not a valid SKU (letters, digits, . _ / -; max 40)")
    return sku


# --- listing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFilters:
    """What the product list shows: search text, category id, active flag and stock level."""

    q: str = ""
    category_id: int | None = None
    active: bool | None = None
    stock: str | None = None  # "in" | "out" | "low" | "wanted"


def _conditions(filters: ProductFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    q = filters.q.strip()
    if q:
        conditions.append(
            or_(
                Product.name.icontains(q, autoescape=True),
                Product.sku.icontains(q, autoescape=True),
            )
        )
    if filters.category_id is not None:
        conditions.append(Product.category_id == filters.category_id)
    if filters.active is not None:
        conditions.append(Product.active.is_(filters.active))
    if filters.stock == "in":
        conditions.append(Product.stock_qty > 0)
    elif filters.stock == "out":
        conditions.append(Product.stock_qty <= 0)
    elif filters.stock == "low":
        conditions.append(and_(Product.stock_qty > 0, Product.stock_qty <= LOW_STOCK))
    elif filters.stock == "wanted":
        conditions.append(and_(Product.stock_qty <= 0, _waiting().exists()))
    return conditions


def _waiting() -> Select[tuple[int]]:
    return select(StockAlert.id).where(StockAlert.product_id == Product.id)


def product_page(
    session: Session, filters: ProductFilters, *, page: int = 1, per_page: int = 50
) -> Page[Product]:
    """One page of products matching the filters, by SKU (those shoppers wait for: the
    most awaited first); PageError(404) past the end."""
    conditions = _conditions(filters)
    order: list[Any] = [Product.sku]
    if filters.stock == "wanted":
        waiting = _waiting().with_only_columns(func.count(StockAlert.id))
        order.insert(0, waiting.scalar_subquery().desc())
    total = session.scalar(select(func.count(Product.id)).where(*conditions)) or 0
    check_page(page, total, per_page)
    products = session.scalars(
        select(Product)
        .where(*conditions)
        .options(selectinload(Product.category))
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(products), total, page, per_page)


def categories(session: Session) -> list[Category]:
    """Every category in menu order."""
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def get_product(session: Session, product_id: int) -> Product | None:
    """The product with this id, or None."""
    return session.get(Product, product_id)


# --- editing and creating --------------------------------------------------------------


@dataclass(frozen=True)
class ProductValues:
    """The editable fields of a product (prices in pence)."""

    name: str
    description: str
    price_pence: int
    stock_qty: int
    category_id: int | None
    active: bool
    launches_at: datetime | None = None  # UTC; None: on sale whenever active


def snapshot(product: Product) -> dict[str, Any]:
    """The audited fields of a product as plain JSON-able values."""
    return {
        "name": product.name,
        "description": product.description,
        "price_pence": product.price_pence,
        "stock_qty": product.stock_qty,
        "category_id": product.category_id,
        "active": product.active,
        "launches_at": _audited(product.launches_at),
    }


def _audited(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def _check_category(session: Session, category_id: int | None) -> None:
    if category_id is not None and session.get(Category, category_id) is None:
        raise CatalogAdminError("That category does not exist.", "category")


# What a save checks against the form as it was opened. Stock is checked only when the form
# changes it: checkouts move it all the time, and a form that leaves it alone does not write it.
CHECKED_FIELDS = ("name", "description", "price_pence", "category_id", "active", "launches_at")


class EditConflict(CatalogAdminError):
    """The product changed after the form was opened, so nothing was saved.

    `saved` is the product as it is now; `fields` names the ProductValues fields that differ
    from the opened form (empty when the form did not say what it showed).
    """

    def __init__(self, saved: ProductValues, fields: tuple[str, ...] = ()) -> None:
        super().__init__(
            "This product was changed after you opened this page, so nothing was saved; "
            "check the form and save again."
        )
        self.saved = saved
        self.fields = fields


def product_values(product: Product) -> ProductValues:
    """The editable fields of a product as they are now."""
    return ProductValues(
        name=product.name,
        description=product.description,
        price_pence=product.price_pence,
        stock_qty=product.stock_qty,
        category_id=product.category_id,
        active=product.active,
        launches_at=product.launches_at,
    )


def _unchanged_since(attr: str, value: object) -> ColumnElement[bool]:
    column = getattr(Product, attr)
    return column.is_(None) if value is None else column == value


def update_product(
    session: Session,
    actor: audit.Actor,
    product_id: int,
    values: ProductValues,
    *,
    opened: ProductValues,
) -> Product:
    """Save an edit form and audit the difference, unless the product changed meanwhile.

    `opened` is the product as the form showed it. The change is a single UPDATE that only
    matches while the name, description, price, category, active flag and launch are still as opened
    (and the stock, when the form changes it), so a save never undoes a change that someone
    else committed after the form was opened, however close together the two saves are.
    Otherwise nothing is written and EditConflict says what is saved now.
    """
    product = session.get(Product, product_id)
    if product is None:
        raise CatalogAdminError("There is no such product.")
    _check_category(session, values.category_id)
    changes: dict[str, Any] = {attr: getattr(values, attr) for attr in CHECKED_FIELDS}
    conditions = [_unchanged_since(attr, getattr(opened, attr)) for attr in CHECKED_FIELDS]
    edits_stock = values.stock_qty != opened.stock_qty
    if edits_stock:
        changes["stock_qty"] = values.stock_qty
        conditions.append(Product.stock_qty == opened.stock_qty)
    result = session.execute(
        update(Product)
        .where(Product.id == product_id, *conditions)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    current = session.get(Product, product_id, populate_existing=True)
    if current is None:
        raise CatalogAdminError("There is no such product.")
    if getattr(result, "rowcount", 0) != 1:
        saved = product_values(current)
        if _already_saved(saved, values, edits_stock):
            return current  # the same edit sent twice (a double click): nothing to do
        fields = [attr for attr in CHECKED_FIELDS if getattr(saved, attr) != getattr(opened, attr)]
        if edits_stock and saved.stock_qty != opened.stock_qty:
            fields.append("stock_qty")
        raise EditConflict(saved, tuple(fields))
    # The UPDATE matched, so the row held the opened values (and its present stock, if the
    # form left that alone) just before it.
    before = snapshot(current) | {attr: _audited(getattr(opened, attr)) for attr in changes}
    old, new = audit.changed(before, snapshot(current))
    if new:
        audit.record(session, actor, "product.update", f"product {current.sku}", old, new)
    return current


def _already_saved(saved: ProductValues, values: ProductValues, edits_stock: bool) -> bool:
    """True when the product already holds every value the form sends."""
    same = all(getattr(saved, attr) == getattr(values, attr) for attr in CHECKED_FIELDS)
    return same and (not edits_stock or saved.stock_qty == values.stock_qty)


def create_product(
    session: Session, actor: audit.Actor, sku: str, values: ProductValues
) -> Product:
    """Add a product with a new SKU; CatalogAdminError when the SKU is taken."""
    try:
        sku = check_sku(sku)
    except ValueError as exc:
        raise CatalogAdminError(_sentence(str(exc)), "sku") from exc
    if session.scalar(select(Product.id).where(Product.sku == sku)) is not None:
        raise CatalogAdminError(f"A product with SKU {sku} already exists.", "sku")
    _check_category(session, values.category_id)
    product = Product(
        sku=sku,
        name=values.name,
        description=values.description,
        price_pence=values.price_pence,
        stock_qty=values.stock_qty,
        category_id=values.category_id,
        active=values.active,
        launches_at=values.launches_at,
    )
    session.add(product)
    try:
        session.flush()
    except IntegrityError as exc:  # another request took the SKU a moment ago
        raise CatalogAdminError(f"A product with SKU {sku} already exists.", "sku") from exc
    audit.record(session, actor, "product.create", f"product {sku}", None, snapshot(product))
    return product


# --- CSV export ------------------------------------------------------------------------


# A cell a spreadsheet would run as a formula gets a leading apostrophe, and so does one that
# already starts with an apostrophe, so that the import (`_unquote`) gives back exactly what
# was exported.
ESCAPED_START = (*FORMULA_START, "'")


def csv_cell(value: str) -> str:
    """The value as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value.startswith(ESCAPED_START) else value


def export_rows(session: Session) -> Iterable[list[str]]:
    """The catalogue as CSV rows (header first), ordered by SKU."""
    yield list(CSV_COLUMNS)
    query = select(Product).options(selectinload(Product.category)).order_by(Product.sku)
    for product in session.scalars(query):
        yield [
            csv_cell(product.sku),
            csv_cell(product.name),
            csv_cell(product.description or ""),
            product.category.slug if product.category else "",
            format_price(product.price_pence),
            str(product.stock_qty),
            "yes" if product.active else "no",
            product.launches_at.strftime(LAUNCH_FORMATS[0]) if product.launches_at else "",
        ]


def export_csv(session: Session) -> str:
    """The whole catalogue as CSV text: sku,name,description,category,price,stock,active,
    launches_at."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(export_rows(session))
    return out.getvalue()


# --- CSV import ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """A CSV row that was not applied: its row number in the file (header = 1) and why."""

    row: int
    sku: str
    message: str


@dataclass(frozen=True)
class ImportRow:
    """A parsed CSV row; None means the cell was blank (leave the field as it is)."""

    row: int
    sku: str
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price_pence: int | None = None
    stock_qty: int | None = None
    active: bool | None = None
    launch: datetime | str | None = None  # a time, NO_LAUNCH to take it away, None: unchanged


@dataclass
class ParsedCsv:
    """The good rows and the row errors of one file."""

    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if len(data) > MAX_IMPORT_BYTES:
        raise CsvFileError(
            f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it up."
        )
    if b"\x00" in data:
        raise CsvFileError("This is not a CSV text file (it contains binary data).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            f"The file is not UTF-8 text (bad byte at position {exc.start}); "
            "save it as 'CSV UTF-8' and try again."
        ) from exc


def _unquote(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(ESCAPED_START):
        return value[1:]
    return value


def _parse_row(number: int, record: Mapping[str, str], known_categories: set[str]) -> ImportRow:
    def cell(name: str) -> str | None:
        raw = record.get(name)
        if raw is None or raw.strip() == "":
            return None
        return _unquote(raw.strip())

    try:
        sku = check_sku(_unquote((record.get("sku") or "").strip()))
    except ValueError as exc:
        raise ValueError(str(exc)) from exc
    name = cell("name")
    if name is not None and len(name) > 200:
        raise ValueError("the name is longer than 200 characters")
    if name is not None and control_characters(name):
        raise ValueError(f"name: {CONTROL_MESSAGE}")  # as the product form says
    description = cell("description")
    if description is not None and len(description) > 5000:
        raise ValueError("the description is longer than 5000 characters")
    if description is not None and control_characters(description, multiline=True):
        raise ValueError(f"description: {MULTILINE_CONTROL_MESSAGE}")
    category = cell("category")
    if category is not None:
        category = category.lower()
        if category not in known_categories:
            raise ValueError(f"unknown category {category!r}")
    price_text, stock_text, active_text = cell("price"), cell("stock"), cell("active")
    try:
        price = parse_price(price_text) if price_text is not None else None
    except ValueError as exc:
        raise ValueError(f"bad price: {exc}") from exc
    try:
        stock = parse_stock(stock_text) if stock_text is not None else None
    except ValueError as exc:
        raise ValueError(f"bad stock: {exc}") from exc
    try:
        active = parse_active(active_text) if active_text is not None else None
    except ValueError as exc:
        raise ValueError(f"bad active flag: {exc}") from exc
    launch_text = cell("launches_at")
    try:
        launch = parse_launch(launch_text) if launch_text is not None else None
    except ValueError as exc:
        raise ValueError(f"bad launch: {exc}") from exc
    if launch is None and launch_text is not None:
        launch = NO_LAUNCH
    return ImportRow(number, sku, name, description, category, price, stock, active, launch)


def parse_catalog_csv(data: bytes, known_categories: Iterable[str]) -> ParsedCsv:
    """Read a catalogue CSV; bad rows become RowErrors, a bad file raises CsvFileError.

    The first line is a header naming some of CSV_COLUMNS (sku is required, any order).
    A blank cell leaves that field unchanged for an existing product.
    """
    text = _decode(data)
    if not text.strip():
        raise CsvFileError("The file is empty.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CsvFileError(_unreadable(1, exc)) from exc
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    if "sku" not in columns or unknown:
        raise CsvFileError(
            "The first line must be a header with a sku column and only these columns: "
            f"{', '.join(CSV_COLUMNS)}"
            + (f" (unknown: {', '.join(repr(u) for u in unknown[:5])})" if unknown else "")
            + "."
        )
    if len(set(columns)) != len(columns):
        raise CsvFileError("The header names a column twice.")
    known = {slug.lower() for slug in known_categories}
    parsed = ParsedCsv()
    seen: dict[str, int] = {}
    number = 1  # the row last read, counted as in RowError (a quoted line break is one row)
    try:
        for cells in reader:
            number += 1
            if number - 1 > MAX_IMPORT_ROWS:
                raise CsvFileError(f"The file has more than {MAX_IMPORT_ROWS} rows; split it up.")
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                at = columns.index("sku")
                sku = cells[at].strip()[:40] if len(cells) > at else ""
                message = f"expected {len(columns)} cells, found {len(cells)}"
                parsed.errors.append(RowError(number, sku, message))
                continue
            record = dict(zip(columns, cells, strict=True))
            try:
                row = _parse_row(number, record, known)
            except ValueError as exc:
                sku = (record.get("sku") or "").strip()[:40]
                parsed.errors.append(RowError(number, sku, str(exc)))
                continue
            if row.sku in seen:
                message = f"SKU {row.sku} already appeared in row {seen[row.sku]}"
                parsed.errors.append(RowError(number, row.sku, message))
                continue
            seen[row.sku] = number
            parsed.rows.append(row)
    except csv.Error as exc:  # raised while reading the row after `number`
        raise CsvFileError(_unreadable(number + 1, exc)) from exc
    return parsed


def _unreadable(row: int, exc: csv.Error) -> str:
    if str(exc).startswith("field larger than field limit"):
        problem = f"a value is longer than {csv.field_size_limit()} characters"
    else:
        problem = f"this is not readable CSV ({exc})"
    return f"Row {row}: {problem}, so nothing was imported."


@dataclass
class ImportReport:
    """What an import did: SKUs created, updated and unchanged, and the rows it skipped."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def applied(self) -> int:
        """Rows that changed the catalogue."""
        return len(self.created) + len(self.updated)


def _existing(session: Session, skus: list[str]) -> dict[str, Product]:
    found: dict[str, Product] = {}
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        for product in session.scalars(select(Product).where(Product.sku.in_(chunk))):
            found[product.sku] = product
    return found


def import_catalog(session: Session, actor: audit.Actor, data: bytes) -> ImportReport:
    """Create or update products by SKU from CSV bytes; good rows apply, bad ones are reported.

    Raises CsvFileError (nothing applied) when the file as a whole cannot be read.
    One audit entry records every change of the import, in the caller's transaction.
    """
    slugs = {slug.lower(): id_ for slug, id_ in session.execute(select(Category.slug, Category.id))}
    parsed = parse_catalog_csv(data, slugs)
    report = ImportReport(errors=list(parsed.errors))
    existing = _existing(session, [row.sku for row in parsed.rows])
    before_all: dict[str, Any] = {}
    after_all: dict[str, Any] = {}
    for row in parsed.rows:
        category_id = slugs[row.category] if row.category is not None else None
        product = existing.get(row.sku)
        if product is None:
            missing = [n for n, v in (("name", row.name), ("price", row.price_pence)) if v is None]
            if missing:
                report.errors.append(
                    RowError(row.row, row.sku, f"a new product needs a {' and a '.join(missing)}")
                )
                continue
            assert row.name is not None and row.price_pence is not None
            product = Product(
                sku=row.sku,
                name=row.name,
                description=row.description or "",
                price_pence=row.price_pence,
                stock_qty=row.stock_qty or 0,
                category_id=category_id,
                active=True if row.active is None else row.active,
                launches_at=row.launch if isinstance(row.launch, datetime) else None,
            )
            session.add(product)
            report.created.append(row.sku)
            after_all[row.sku] = snapshot(product)  # as the form's create records it
            continue
        before = snapshot(product)
        for attr, value in (
            ("name", row.name),
            ("description", row.description),
            ("price_pence", row.price_pence),
            ("stock_qty", row.stock_qty),
            ("category_id", category_id if row.category is not None else None),
            ("active", row.active),
        ):
            if value is not None:
                setattr(product, attr, value)
        if row.launch is not None:
            product.launches_at = row.launch if isinstance(row.launch, datetime) else None
        old, new = audit.changed(before, snapshot(product))
        if new:
            report.updated.append(row.sku)
            before_all[row.sku], after_all[row.sku] = old, new
        else:
            report.unchanged += 1
    session.flush()
    report.errors.sort(key=lambda e: e.row)
    if report.applied:
        audit.record(
            session,
            actor,
            "product.import",
            f"CSV import: {len(report.created)} created, {len(report.updated)} updated",
            before_all,
            {"created": report.created, "changes": after_all, "errors": len(report.errors)},
        )
    return report
