"""The console's catalogue service on a real database: filters, edits, creates, CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Category, Product
from shop.console import audit, catalog_admin
from shop.console.catalog_admin import (
    CatalogAdminError,
    CsvFileError,
    EditConflict,
    ProductFilters,
    ProductValues,
)
from shop.console.models import AuditEntry
from shop.pagination import PageError

ACTOR = audit.Actor(None, "tester@example.com")


def skus(session: Session, filters: ProductFilters, **kwargs: int) -> list[str]:
    return [p.sku for p in catalog_admin.product_page(session, filters, **kwargs).items]


def test_filters_search_and_pages(session: Session, items: dict[str, Product]) -> None:
    bags = items["jumbo"].category_id
    assert skus(session, ProductFilters()) == ["20725", "71053", "85099B", "85123A", "99999"]
    assert skus(session, ProductFilters(q="retrospot")) == ["20725", "85099B"]
    assert skus(session, ProductFilters(q="85123")) == ["85123A"]
    assert skus(session, ProductFilters(q="100%")) == []  # % is matched literally
    assert skus(session, ProductFilters(category_id=bags)) == ["20725", "85099B", "99999"]
    assert skus(session, ProductFilters(active=False)) == ["99999"]
    assert skus(session, ProductFilters(stock="out")) == ["20725"]
    assert skus(session, ProductFilters(stock="low")) == ["71053", "99999"]
    assert skus(session, ProductFilters(stock="in", active=True, category_id=bags)) == ["85099B"]
    page = catalog_admin.product_page(session, ProductFilters(), page=2, per_page=2)
    assert (page.total, page.pages, [p.sku for p in page.items]) == (5, 3, ["85099B", "85123A"])
    with pytest.raises(PageError):
        catalog_admin.product_page(session, ProductFilters(), page=4, per_page=2)


def values(product: Product, **changes: object) -> ProductValues:
    base = dict(
        name=product.name,
        description=product.description,
        price_pence=product.price_pence,
        stock_qty=product.stock_qty,
        category_id=product.category_id,
        active=product.active,
    )
    base.update(changes)
    return ProductValues(**base)  # type: ignore[arg-type]


def test_an_update_is_audited_with_only_what_changed(
    session: Session, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    catalog_admin.update_product(
        session, ACTOR, heart.id, values(heart, price_pence=350, active=False), opened=values(heart)
    )
    session.commit()
    stored = session.get(Product, heart.id)
    assert stored is not None and (stored.price_pence, stored.active, stored.stock_qty) == (
        350,
        False,
        50,
    )
    entry = session.scalar(select(AuditEntry))
    assert entry is not None
    assert (entry.action, entry.target, entry.actor_email) == (
        "product.update",
        "product 85123A",
        "tester@example.com",
    )
    assert entry.before == {"price_pence": 295, "active": True}
    assert entry.after == {"price_pence": 350, "active": False}


def test_a_stock_edit_does_not_overwrite_a_sale_made_meanwhile(
    session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    opened = values(lantern)  # stock 3
    session.execute(update(Product).where(Product.id == lantern.id).values(stock_qty=2))
    session.commit()
    with pytest.raises(EditConflict, match="nothing was saved") as conflict:
        catalog_admin.update_product(
            session, ACTOR, lantern.id, replace(opened, stock_qty=40), opened=opened
        )
    assert conflict.value.fields == ("stock_qty",) and conflict.value.saved.stock_qty == 2
    session.rollback()
    # Editing only the price leaves the changed stock alone.
    catalog_admin.update_product(
        session, ACTOR, lantern.id, replace(opened, price_pence=400), opened=opened
    )
    session.commit()
    stored = session.get(Product, lantern.id)
    assert stored is not None and (stored.stock_qty, stored.price_pence) == (2, 400)
    entry = session.scalar(select(AuditEntry))
    assert entry is not None and (entry.before, entry.after) == (
        {"price_pence": 339},
        {"price_pence": 400},
    )


def test_an_edit_from_a_stale_form_changes_nothing(
    session: Session, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    opened = values(heart)
    bags = items["jumbo"].category_id
    session.execute(
        update(Product)
        .where(Product.id == heart.id)
        .values(price_pence=350, active=False, category_id=bags)
    )
    session.commit()
    with pytest.raises(EditConflict) as conflict:
        catalog_admin.update_product(
            session, ACTOR, heart.id, replace(opened, name="Heart holder"), opened=opened
        )
    assert conflict.value.fields == ("price_pence", "category_id", "active")
    assert conflict.value.saved == replace(opened, price_pence=350, active=False, category_id=bags)
    session.rollback()
    stored = session.get(Product, heart.id)
    assert stored is not None
    assert (stored.name, stored.price_pence, stored.active) == (opened.name, 350, False)
    assert session.scalar(select(AuditEntry)) is None


def test_an_edit_checks_the_row_as_it_is_when_written(
    session: Session, items: dict[str, Product], database_url: str
) -> None:
    """Another save committed after the product was read but before the UPDATE still wins."""
    if database_url.startswith("sqlite"):
        pytest.skip("on SQLite a request's write transaction holds the lock from its first read")
    heart = items["heart"]
    opened = values(heart)
    session.get(Product, heart.id)  # this transaction has read the product as opened
    engine = session.get_bind()
    done: list[bool] = []

    def someone_else_saves(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE products") and not done:
            done.append(True)
            with engine.begin() as other:
                other.execute(update(Product).where(Product.id == heart.id).values(price_pence=350))

    event.listen(engine, "before_cursor_execute", someone_else_saves)
    try:
        with pytest.raises(EditConflict) as conflict:
            catalog_admin.update_product(
                session, ACTOR, heart.id, replace(opened, name="Heart holder"), opened=opened
            )
    finally:
        event.remove(engine, "before_cursor_execute", someone_else_saves)
    assert done
    assert conflict.value.fields == ("price_pence",)
    session.rollback()
    stored = session.get(Product, heart.id)
    assert stored is not None and (stored.name, stored.price_pence) == (opened.name, 350)


def test_create_needs_a_new_valid_sku(session: Session, items: dict[str, Product]) -> None:
    heart = items["heart"]
    with pytest.raises(CatalogAdminError, match="already exists") as taken:
        catalog_admin.create_product(session, ACTOR, "85123A", values(heart))
    assert taken.value.field == "sku"
    with pytest.raises(CatalogAdminError, match="not a valid SKU"):
        catalog_admin.create_product(session, ACTOR, "bad sku!", values(heart))
    with pytest.raises(CatalogAdminError, match="category"):
        catalog_admin.create_product(session, ACTOR, "NEW1", values(heart, category_id=9999))
    session.rollback()
    made = catalog_admin.create_product(session, ACTOR, "NEW1", values(heart, name="New thing"))
    session.commit()
    assert session.scalar(select(Product.name).where(Product.sku == "NEW1")) == "New thing"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.create"))
    assert entry is not None and entry.target == "product NEW1"
    assert entry.before is None and entry.after["price_pence"] == 295
    assert made.id is not None


def test_export_then_import_round_trips_and_changes_nothing(
    session: Session, items: dict[str, Product]
) -> None:
    items["jumbo"].description = "=HYPERLINK(evil)"
    session.commit()
    text = catalog_admin.export_csv(session)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "sku",
        "name",
        "description",
        "category",
        "price",
        "stock",
        "active",
        "launches_at",
    ]
    assert rows[1] == [
        "20725",
        "Lunch Bag Red Retrospot",
        rows[1][2],
        "bags",
        "1.65",
        "0",
        "yes",
        "",
    ]
    assert rows[3][2] == "'=HYPERLINK(evil)"  # a spreadsheet will not run it
    assert rows[5][-2:] == ["no", ""]
    report = catalog_admin.import_catalog(session, ACTOR, text.encode())
    session.commit()
    assert (report.created, report.updated, report.unchanged, report.errors) == ([], [], 5, [])
    assert session.scalar(select(AuditEntry)) is None  # nothing changed, nothing to audit
    jumbo = session.get(Product, items["jumbo"].id)
    assert jumbo is not None and jumbo.description == "=HYPERLINK(evil)"


def test_import_applies_good_rows_and_reports_bad_ones(
    session: Session, items: dict[str, Product]
) -> None:
    data = (
        b"sku,name,category,price,stock,active\n"
        b"85123A,,,3.10,45,\n"  # update price and stock only
        b"NEW-1,Paper Star,Candles,1.25,,\n"  # create; stock 0, active by default
        b"NEW-2,,bags,1.00,1,yes\n"  # a new product needs a name
        b"71053,,,abc,1,yes\n"  # bad price
        b"99999,,,,,yes\n"  # reactivate
    )
    report = catalog_admin.import_catalog(session, ACTOR, data)
    session.commit()
    assert report.created == ["NEW-1"]
    assert report.updated == ["85123A", "99999"]
    assert [(e.row, e.sku) for e in report.errors] == [(4, "NEW-2"), (5, "71053")]
    assert "needs a name" in report.errors[0].message
    heart = session.get(Product, items["heart"].id)
    assert heart is not None and (heart.price_pence, heart.stock_qty, heart.name) == (
        310,
        45,
        "White Hanging Heart T-Light Holder",
    )
    star = session.scalar(select(Product).where(Product.sku == "NEW-1"))
    candles = session.scalar(select(Category).where(Category.slug == "candles"))
    assert star is not None and candles is not None
    assert (star.price_pence, star.stock_qty, star.active, star.category_id) == (
        125,
        0,
        True,
        candles.id,
    )
    lantern = session.get(Product, items["lantern"].id)
    assert lantern is not None and lantern.price_pence == 339  # the bad row changed nothing
    retired = session.get(Product, items["retired"].id)
    assert retired is not None and retired.active
    entries = session.scalars(select(AuditEntry)).all()
    assert len(entries) == 1 and entries[0].action == "product.import"
    assert entries[0].before == {
        "85123A": {"price_pence": 295, "stock_qty": 50},
        "99999": {"active": False},
    }
    assert entries[0].after["created"] == ["NEW-1"]
    assert entries[0].after["errors"] == 2


def test_an_unreadable_file_changes_nothing(session: Session, items: dict[str, Product]) -> None:
    with pytest.raises(CsvFileError, match="UTF-8"):
        catalog_admin.import_catalog(session, ACTOR, "sku,name\n85123A,Caf\xe9\n".encode("cp1252"))
    session.rollback()
    heart = session.get(Product, items["heart"].id)
    assert heart is not None and heart.name == "White Hanging Heart T-Light Holder"
    assert session.scalar(select(AuditEntry)) is None


def test_import_audits_the_same_fields_as_the_form(
    session: Session, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    heart_description, candles = heart.description, heart.category_id
    catalog_admin.create_product(
        session, ACTOR, "FORM-1", values(heart, name="Paper star", description="Gold card.")
    )
    session.commit()
    by_form = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.create"))
    assert by_form is not None and by_form.after["description"] == "Gold card."
    data = (
        b"sku,name,description,category,price,stock,active\n"
        b"CSV-1,Tin star,Silver tin.,candles,1.50,4,no\n"
        b"CSV-2,Felt star,,,2.00,,\n"
        b"85123A,,Now in white and cream.,,,,\n"
    )
    catalog_admin.import_catalog(session, ACTOR, data)
    session.commit()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.import"))
    assert entry is not None
    changes = entry.after["changes"]
    assert changes["CSV-1"] == {
        "name": "Tin star",
        "description": "Silver tin.",
        "price_pence": 150,
        "stock_qty": 4,
        "category_id": candles,
        "active": False,
        "launches_at": None,
    }
    assert changes["CSV-2"]["description"] == ""
    for sku in ("CSV-1", "CSV-2"):
        assert changes[sku].keys() == by_form.after.keys()
        made = session.scalar(select(Product).where(Product.sku == sku))
        assert made is not None and changes[sku] == catalog_admin.snapshot(made)
    assert "CSV-1" not in entry.before and "CSV-2" not in entry.before
    assert entry.before["85123A"] == {"description": heart_description}
    assert changes["85123A"] == {"description": "Now in white and cream."}
