"""The Online Retail importer against a real database, on a small synthetic file."""

from __future__ import annotations

import csv
import gzip
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Category, Product
from shop.db import db
from shop.importer.cli import import_online_retail_command
from shop.importer.models import ImportRun
from shop.importer.online_retail import (
    DatasetMissingError,
    ImportSummary,
    import_online_retail,
)
from shop.orders.models import Order, OrderLine
from shop.tracking.models import Event

HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
HEART = "WHITE HANGING HEART T-LIGHT HOLDER"
CAKESTAND = "REGENCY CAKESTAND 3 TIER"
UK = "United Kingdom"

ROWS = [
    # customer 12345: a sale with postage (postage is not a product)
    ["536001", "85123A", HEART, "6", "2011-12-01 08:26:00", "2.55", "12345", UK],
    ["536001", "22423", CAKESTAND, "2", "2011-12-01 08:26:00", "12.75", "12345", UK],
    ["536001", "POST", "POSTAGE", "1", "2011-12-01 08:26:00", "18.00", "12345", UK],
    # customer 12346 in France: the same product twice on one invoice
    ["536002", "85123A", HEART, "12", "2011-12-05 10:00:00", "2.55", "12346", "France"],
    ["536002", "85123a", HEART, "4", "2011-12-05 10:00:00", "2.95", "12346", "France"],
    # a guest order: the last invoice of the file
    ["536003", "22423", CAKESTAND, "1", "2011-12-09 12:50:00", "10.95", "", UK],
    ["536003", "85099B", "JUMBO BAG RED RETROSPOT", "10", "2011-12-09 12:50:00", "1.95", "", UK],
    # a return by 12345
    ["C536004", "22423", CAKESTAND, "-1", "2011-12-06 09:00:00", "12.75", "12345", UK],
    # rows that are skipped
    ["536005", "85099B", "check", "-5", "2011-12-07 11:00:00", "0", "", UK],
    ["536006", "85099B", "", "3", "2011-12-07 11:00:00", "0", "", UK],
    ["A563185", "B", "Adjust bad debt", "1", "2011-08-12 14:50:00", "11062.06", "", UK],
    ["536007", "99999", "", "1", "2011-12-07 11:00:00", "1.00", "12345", UK],
    ["536008", "22423", CAKESTAND, "six", "2011-12-07 11:00:00", "12.75", "12345", UK],
    ["536008", "22423", CAKESTAND, "1", "not a date", "12.75", "12345", UK],
    ["536009", "gift_0001_20", "Gift Voucher", "1", "2011-12-07 11:00:00", "16.67", "", UK],
    # an old sale: no sale for 26 weeks means no stock
    ["536010", "84879", "BIRD ORNAMENT", "8", "2011-03-01 09:00:00", "1.69", "12346", "France"],
]
TODAY = date(2024, 1, 31)
SHIFT_DAYS = 4436  # 2011-12-09 -> 2024-01-31


def write_dataset(path: Path, rows: list[list[str]] = ROWS) -> Path:
    """Write rows as the dataset's CSV, gzipped when the name ends in .gz."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "online_retail.csv.gz")


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every imported row as plain tuples, to compare two runs."""
    tables: dict[str, tuple[Any, ...]] = {
        "categories": (Category.id, Category.slug, Category.name, Category.position),
        "products": (
            Product.id,
            Product.sku,
            Product.name,
            Product.description,
            Product.category_id,
            Product.price_pence,
            Product.stock_qty,
            Product.order_count,
            Product.created_at,
        ),
        "users": (User.id, User.external_ref, User.name, User.country, User.created_at),
        "orders": (
            Order.id,
            Order.number,
            Order.kind,
            Order.user_id,
            Order.total_pence,
            Order.placed_at,
            Order.status,
        ),
        "lines": (
            OrderLine.id,
            OrderLine.order_id,
            OrderLine.product_id,
            OrderLine.quantity,
            OrderLine.unit_price_pence,
            OrderLine.line_total_pence,
        ),
        "events": (
            Event.id,
            Event.user_id,
            Event.product_id,
            Event.order_id,
            Event.quantity,
            Event.created_at,
        ),
    }
    return {
        name: [tuple(row) for row in session.execute(select(*cols).order_by(cols[0])).all()]
        for name, cols in tables.items()
    }


def test_import_creates_the_expected_rows(session: Session, dataset: Path) -> None:
    summary = import_online_retail(session, dataset, today=TODAY)

    assert summary.rows_read == 16
    assert summary.rows_imported == 8
    assert summary.skipped == {
        "malformed_row": 2,
        "bad_debt_adjustment": 1,
        "non_product_code": 2,
        "stock_adjustment": 1,
        "zero_or_negative_price": 1,
        "missing_description_unknown_product": 1,
    }
    assert (summary.products, summary.customers, summary.orders, summary.returns) == (4, 2, 4, 1)
    assert (summary.lines, summary.events, summary.categories) == (8, 5, 18)
    assert summary.date_shift_days == SHIFT_DAYS

    assert count(session, Product) == 4
    assert count(session, User) == 2
    assert count(session, Order) == 5
    assert count(session, OrderLine) == 8
    assert count(session, Event) == 5
    assert count(session, Category) == 18


def test_products(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    products = {p.sku: p for p in session.scalars(select(Product))}
    assert set(products) == {"85123A", "22423", "85099B", "84879"}

    heart = products["85123A"]
    assert heart.name == "White Hanging Heart T-Light Holder"
    assert heart.price_pence == 255  # 2.55 twice, 2.95 once
    assert heart.currency == "GBP"
    assert heart.order_count == 2
    assert heart.stock_qty == 11  # ceil(6 * 22 / 13)
    assert heart.active is True
    assert heart.category is not None and heart.category.slug == "candles"
    assert heart.description == ""  # for merchants to write: search would match statistics

    cakestand = products["22423"]
    assert cakestand.price_pence == 1095  # 12.75 and 10.95 once each: the lower one
    assert cakestand.order_count == 2  # the return does not count
    assert cakestand.stock_qty == 1  # 3 sold - 1 returned: ceil(6 * 2 / 13)
    assert cakestand.category is not None and cakestand.category.slug == "kitchen-dining"

    bag = products["85099B"]
    assert (bag.price_pence, bag.order_count, bag.stock_qty) == (195, 1, 5)
    assert bag.category is not None and bag.category.name == "Bags"

    ornament = products["84879"]
    assert (ornament.price_pence, ornament.stock_qty) == (169, 0)  # unsold for 26 weeks
    assert ornament.category is not None and ornament.category.slug == "home-decor"


def test_categories_follow_display_order(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    rows = session.execute(select(Category.position, Category.slug).order_by(Category.position))
    ordered = [slug for _position, slug in rows]
    assert ordered[0] == "bags"
    assert ordered[-1] == "gifts-more"
    assert len(ordered) == 18


def test_customers_cannot_log_in(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    users = {u.external_ref: u for u in session.scalars(select(User))}
    assert set(users) == {"12345", "12346"}
    assert users["12345"].name == "Customer 12345"
    assert users["12346"].country == "France"
    assert users["12345"].email is None and users["12345"].password_hash is None
    assert users["12345"].can_login is False


def test_orders_returns_and_guests(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    orders = {o.number: o for o in session.scalars(select(Order))}
    assert set(orders) == {"536001", "536002", "536003", "C536004", "536010"}
    users = {u.external_ref: u.id for u in session.scalars(select(User))}

    first = orders["536001"]
    assert (first.kind, first.status, first.source) == ("sale", "delivered", "import")
    assert first.user_id == users["12345"]
    assert (first.subtotal_pence, first.shipping_pence, first.total_pence) == (4080, 0, 4080)
    assert first.placed_at == datetime(2024, 1, 23, 8, 26)  # shifted 4436 days

    second = orders["536002"]
    assert second.total_pence == 12 * 255 + 4 * 295
    assert second.country == "France"
    lines = sorted((line.sku, line.quantity, line.unit_price_pence) for line in second.lines)
    assert lines == [("85123A", 4, 295), ("85123A", 12, 255)]

    guest = orders["536003"]
    assert guest.user_id is None
    assert guest.total_pence == 1095 + 10 * 195
    assert guest.placed_at == datetime(2024, 1, 31, 12, 50)  # the last invoice is "today"

    refund = orders["C536004"]
    assert (refund.kind, refund.status) == ("return", "refunded")
    assert refund.user_id == users["12345"]
    assert refund.total_pence == -1275
    [line] = refund.lines
    assert (line.quantity, line.unit_price_pence, line.line_total_pence) == (-1, 1275, -1275)
    assert line.name == "Regency Cakestand 3 Tier"


def test_purchase_events(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    events = session.scalars(select(Event).order_by(Event.id)).all()
    assert len(events) == 5
    assert {e.kind for e in events} == {"purchase"}
    assert {e.visitor_id for e in events} == {"import"}
    assert all(e.user_id is not None and e.order_id is not None for e in events)
    guest_order = session.scalar(select(Order.id).where(Order.number == "536003"))
    return_order = session.scalar(select(Order.id).where(Order.number == "C536004"))
    assert guest_order not in {e.order_id for e in events}
    assert return_order not in {e.order_id for e in events}
    heart = session.scalar(select(Product.id).where(Product.sku == "85123A"))
    heart_events = sorted((e.quantity, e.created_at) for e in events if e.product_id == heart)
    assert heart_events == [
        (4, datetime(2024, 1, 27, 10, 0)),
        (6, datetime(2024, 1, 23, 8, 26)),
        (12, datetime(2024, 1, 27, 10, 0)),
    ]


def test_date_shift_is_recorded_and_reused(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    second = import_online_retail(session, dataset, today=date(2030, 6, 1))
    runs = session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
    assert [run.date_shift_seconds for run in runs] == [SHIFT_DAYS * 86400] * 2
    assert [run.source for run in runs] == ["online_retail"] * 2
    assert runs[0].summary["products"] == 4
    assert runs[1].summary["products"] == 0
    assert runs[0].finished_at is not None
    assert second.date_shift_days == SHIFT_DAYS


def test_no_shift_keeps_the_dataset_dates(session: Session, dataset: Path) -> None:
    summary = import_online_retail(session, dataset, today=TODAY, shift_dates=False)
    assert summary.date_shift_days == 0
    last = session.scalar(select(func.max(Order.placed_at)))
    assert last == datetime(2011, 12, 9, 12, 50)
    run = session.scalars(select(ImportRun)).one()
    assert run.date_shift_seconds == 0


def test_second_run_changes_nothing(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    session.flush()
    before = snapshot(session)
    again = import_online_retail(session, dataset, today=TODAY)
    after = snapshot(session)
    assert after == before
    assert (again.products, again.customers, again.orders, again.returns) == (0, 0, 0, 0)
    assert (again.lines, again.events, again.categories) == (0, 0, 0)
    assert again.already_present == {"products": 4, "customers": 2, "orders": 5}
    assert count(session, ImportRun) == 2


def test_existing_rows_are_left_alone(session: Session, dataset: Path) -> None:
    import_online_retail(session, dataset, today=TODAY)
    heart = session.scalars(select(Product).where(Product.sku == "85123A")).one()
    heart.name = "Renamed by a merchandiser"
    heart.price_pence = 999
    session.flush()
    import_online_retail(session, dataset, today=TODAY)
    session.refresh(heart)
    assert (heart.name, heart.price_pence) == ("Renamed by a merchandiser", 999)


def test_new_invoices_are_added_on_a_later_run(session: Session, tmp_path: Path) -> None:
    first = write_dataset(tmp_path / "first.csv.gz", ROWS[:3])
    import_online_retail(session, first, today=TODAY)
    assert count(session, Order) == 1
    summary = import_online_retail(session, write_dataset(tmp_path / "all.csv.gz"), today=TODAY)
    assert (summary.orders, summary.returns, summary.products) == (3, 1, 2)
    assert count(session, Order) == 5
    assert count(session, OrderLine) == 8


def test_uncompressed_csv(session: Session, tmp_path: Path) -> None:
    summary = import_online_retail(session, write_dataset(tmp_path / "retail.csv"), today=TODAY)
    assert (summary.products, summary.orders, summary.lines) == (4, 4, 8)
    assert count(session, OrderLine) == 8


def test_malformed_rows_do_not_abort(session: Session, tmp_path: Path) -> None:
    rows = [
        ["x"],
        ["536001", "85123A", HEART, "1", "2011-12-01 08:26:00", "abc", "12345", UK],
        ["536001", "85123A", HEART, "1", "2011-12-01 08:26:00", "2.55", "12345", UK, "extra"],
        ROWS[0],
    ]
    summary = import_online_retail(session, write_dataset(tmp_path / "bad.csv", rows))
    assert summary.skipped == {"malformed_row": 3}
    assert (summary.rows_read, summary.rows_imported, summary.lines) == (4, 1, 1)


def test_missing_file(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "online_retail.csv.gz"
    with pytest.raises(DatasetMissingError) as caught:
        import_online_retail(session, path)
    message = str(caught.value)
    assert str(path) in message
    assert "SHOP_DATA_DIR" in message
    assert "https://archive.ics.uci.edu/dataset/352/online+retail" in message
    assert count(session, ImportRun) == 0


def test_progress_is_reported(session: Session, dataset: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    import_online_retail(session, dataset, today=TODAY, progress=lambda *a: calls.append(a))
    phases = list(dict.fromkeys(phase for phase, _done, _total in calls))
    assert phases == ["read", "categories", "products", "customers", "orders", "lines", "events"]
    last = {phase: (done, total) for phase, done, total in calls}
    assert last["categories"] == (18, 18)
    assert last["lines"] == (8, 8)
    assert last["events"] == (5, 5)
    assert last["read"][0] == last["read"][1] == dataset.stat().st_size


def test_summary_text(session: Session, dataset: Path) -> None:
    summary = import_online_retail(session, dataset, today=TODAY)
    text = summary.as_text()
    assert text.splitlines()[0] == "Online Retail import"
    assert "rows read" in text and "16" in text
    assert "non_product_code" in text
    assert "date shift (days)" in text and "4,436" in text
    assert isinstance(summary, ImportSummary)


def test_cli_imports_from_the_data_dir(app: Flask) -> None:
    folder = Path(app.config["SHOP_DATA_DIR"]) / "online-retail"
    folder.mkdir(parents=True)
    write_dataset(folder / "online_retail.csv.gz")
    result = app.test_cli_runner().invoke(import_online_retail_command, ["--no-shift-dates"])
    assert result.exit_code == 0, result.output
    assert "Online Retail import" in result.output
    assert "order lines created" in result.output
    with db.transaction() as session:
        assert count(session, Order) == 5
        assert session.scalar(select(func.max(Order.placed_at))) == datetime(2011, 12, 9, 12, 50)


def test_cli_reports_a_missing_file(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(import_online_retail_command, [str(tmp_path / "x.gz")])
    assert result.exit_code == 1
    assert "SHOP_DATA_DIR" in result.stderr
    assert "archive.ics.uci.edu/dataset/352/online+retail" in result.stderr
