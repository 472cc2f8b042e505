"""Console fixes found by merchandiser QA on a live server: each test fails without its fix."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console import audit
from shop.console.models import AuditEntry
from tests import factories
from tests.console_support import client_as


def test_a_bad_audit_date_keeps_the_console_page_and_the_filters_as_typed(
    app: Flask, session: Session
) -> None:
    audit.record(session, audit.CLI_ACTOR, "merch.publish", "revision 1")
    session.commit()
    merchandiser = client_as(app, session, "merchandiser")

    response = merchandiser.get("/console/audit?action=merch.pub&since=yesterday")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Since: The date must look like 2026-11-23." in html
    # Still the console (its navigation), with both filters as typed to correct the date.
    assert 'href="/console/recommendations/rules"' in html
    assert 'name="action" value="merch.pub"' in html
    assert 'name="since" value="yesterday"' in html
    assert "Back to the shop" not in html


def test_an_audit_filter_matching_nothing_says_so_rather_than_no_changes_yet(
    app: Flask, session: Session
) -> None:
    entry = audit.record(session, audit.CLI_ACTOR, "merch.publish", "revision 1")
    entry.created_at = datetime(2026, 11, 24, 12, 0)
    session.commit()
    merchandiser = client_as(app, session, "merchandiser")

    filtered = merchandiser.get("/console/audit?action=product.").get_data(as_text=True)
    later = merchandiser.get("/console/audit?since=2026-11-25").get_data(as_text=True)
    unfiltered = merchandiser.get("/console/audit").get_data(as_text=True)

    for html in (filtered, later):
        assert "0 changes." in html
        assert "No changes match these filters." in html
        assert "No changes yet." not in html
    assert "1 change." in unfiltered and "revision 1" in unfiltered


def test_a_period_too_long_gives_its_length_with_a_thousands_separator(
    app: Flask, session: Session
) -> None:
    merchandiser = client_as(app, session, "merchandiser")

    response = merchandiser.get("/console/metrics/online?start=2020-01-01&end=2026-11-24")

    assert response.status_code == 400
    assert "The period covers 2,520 days; choose at most 365 days." in response.get_data(
        as_text=True
    )


def test_console_counts_have_thousands_separators_and_one_order_is_singular(
    app: Flask, session: Session
) -> None:
    bags = factories.category(session, "bags", "Bags")
    session.execute(
        insert(Product),
        [
            {
                "sku": f"BULK-{n:04d}",
                "name": f"Bulk item {n}",
                "description": "",
                "category_id": bags.id,
                "price_pence": 100,
                "currency": "GBP",
                "stock_qty": 2171,
                "active": True,
                "order_count": 1565,
            }
            for n in range(1200)
        ],
    )
    once = factories.product(session, bags, sku="ONCE", name="Sold once", orders=1)
    session.execute(
        insert(AuditEntry),
        [{"actor_email": "cli", "action": "merch.publish", "target": f"r{n}"} for n in range(1001)],
    )
    session.commit()
    bulk_id = session.scalar(select(Product.id).where(Product.sku == "BULK-0000"))
    merchandiser = client_as(app, session, "merchandiser")

    products = merchandiser.get("/console/products/").get_data(as_text=True)
    bulk = merchandiser.get(f"/console/products/{bulk_id}").get_data(as_text=True)
    single = merchandiser.get(f"/console/products/{once.id}").get_data(as_text=True)
    imports = merchandiser.get("/console/products/import").get_data(as_text=True)
    log = merchandiser.get("/console/audit").get_data(as_text=True)

    assert "1,201 products." in products
    assert ">2,171<" in products.replace(" ", "").replace("\n", "")
    assert "Sold in 1,565 orders." in bulk
    assert "Sold in 1 order." in single
    assert "at most 2 MB and 20,000 rows." in imports
    assert "1,001 changes." in log
