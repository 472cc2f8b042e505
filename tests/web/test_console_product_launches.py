"""Launch times in the console: the product form, the list, the CSV, and the early-access
hours of the programme settings."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.programme_news import programme_changes
from loyalty.settings import ProgrammeSettings
from shop.catalog.models import Product
from shop.console import audit, catalog_admin
from shop.console.models import AuditEntry
from tests.console_support import client_as
from tests.web.page_forms import open_form

LAUNCH = datetime(2030, 12, 1, 9, 0)
ACTOR = audit.Actor(None, "tester@example.com")


def test_a_launch_time_is_saved_shown_audited_and_taken_away(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    heart = items["heart"]
    path = f"/console/products/{heart.id}"
    form = open_form(client, path)
    assert form["launches_at"] == ""
    assert client.post(path, data={**form, "launches_at": "2030-12-01T09:00"}).status_code == 302
    session.rollback()
    assert session.get(Product, heart.id).launches_at == LAUNCH  # type: ignore[union-attr]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "product.update"))
    assert entry is not None
    assert (entry.before, entry.after) == (
        {"launches_at": None},
        {"launches_at": LAUNCH.isoformat()},
    )
    listing = client.get("/console/products/?q=heart").get_data(as_text=True)
    assert "launches 01 Dec 2030 09:00" in listing
    form = open_form(client, path)
    assert form["launches_at"] == "2030-12-01T09:00"
    assert client.post(path, data={**form, "launches_at": ""}).status_code == 302
    session.rollback()
    assert session.get(Product, heart.id).launches_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["tomorrow", "2030-13-01T09:00", "0001-01-01T00:00"])
def test_a_bad_launch_time_is_a_form_error(
    app: Flask, session: Session, items: dict[str, Product], typed: str
) -> None:
    client = client_as(app, session, "merchandiser")
    path = f"/console/products/{items['heart'].id}"
    response = client.post(path, data={**open_form(client, path), "launches_at": typed})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter a date and time, such as 2026-12-01 09:00." in html or "Choose a date" in html
    session.rollback()
    assert session.get(Product, items["heart"].id).launches_at is None  # type: ignore[union-attr]


def test_a_launch_set_by_someone_else_meanwhile_is_not_overwritten(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    heart = items["heart"]
    path = f"/console/products/{heart.id}"
    form = open_form(client, path)
    heart.launches_at = LAUNCH
    session.commit()
    response = client.post(path, data={**form, "price": "3.50"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Launches at (UTC)" in html and "01 Dec 2030 09:00 UTC" in html
    assert 'value="2030-12-01T09:00"' in html  # the form now shows the saved launch
    session.rollback()
    stored = session.get(Product, heart.id)
    assert stored is not None and (stored.launches_at, stored.price_pence) == (LAUNCH, 295)


def test_the_csv_sets_keeps_and_takes_away_launch_times(
    session: Session, items: dict[str, Product]
) -> None:
    data = b"sku,launches_at\n85123A,2030-12-01 09:00\n71053,2030-12-02\n85099B,\n20725,next week\n"
    items["jumbo"].launches_at = LAUNCH
    session.commit()
    report = catalog_admin.import_catalog(session, ACTOR, data)
    session.commit()
    assert sorted(report.updated) == ["71053", "85123A"] and report.unchanged == 1
    assert [(e.row, e.sku) for e in report.errors] == [(5, "20725")]
    assert "bad launch" in report.errors[0].message
    assert items["heart"].launches_at == LAUNCH
    assert items["lantern"].launches_at == datetime(2030, 12, 2)
    assert items["jumbo"].launches_at == LAUNCH  # a blank cell leaves it
    exported = catalog_admin.export_csv(session)
    assert "85123A,White Hanging Heart T-Light Holder," in exported
    assert ",2030-12-01 09:00\r\n" in exported
    catalog_admin.import_catalog(session, ACTOR, b"sku,launches_at\n85123A,none\n")
    session.commit()
    assert items["heart"].launches_at is None


def test_early_access_hours_are_a_programme_setting_members_are_told_about() -> None:
    before, after = ProgrammeSettings(), ProgrammeSettings(early_access_hours=72)
    assert programme_changes(before, after) == [
        "Tiers with early access can buy new products 72 hours before everyone else (was 48)."
    ]
