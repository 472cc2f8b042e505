"""Console fixes from a QA round of whole workflows: each test fails without its fix."""

from __future__ import annotations

import io
import re
from datetime import datetime
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.db import db
from shop.merchandising.models import MerchRevision
from shop.personalization import service
from tests.console_support import client_as, confirmed, console_token

VERSIONS = "/console/recommendations/versions"


def _form_fields(page: str, action: str, *, holding: str = "") -> dict[str, str]:
    """The inputs (ticked checkboxes too) of the page's form posting to `action` (or of the
    first form with a field named `holding`)."""
    if holding:
        found = [
            form
            for form in re.findall(r"<form.*?</form>", page, re.S)
            if f'name="{holding}"' in form
        ]
        assert found, f"no form with a field {holding}"
        form = found[0]
    else:
        match = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
        assert match, f"no form posting to {action}"
        form = match.group(0)
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or ('type="checkbox"' in tag and "checked" not in tag):
            continue
        fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


def test_a_roll_back_sent_twice_goes_back_one_version_not_two(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    with app.app_context():
        first = service().store.active()
        second = service().train(db.session)
        third = service().train(db.session)
        assert service().store.active() == third
    merch = client_as(app, session, "merchandiser")
    button = _form_fields(merch.get(VERSIONS).get_data(as_text=True), f"{VERSIONS}/rollback")
    done = confirmed(merch, f"{VERSIONS}/rollback", button, follow_redirects=True)
    assert f"Rolled back: version {second} is live again." in done.get_data(as_text=True)
    # The confirmation page's button sent a second time:
    again_sent = {**button, "confirm": "1"}
    again = merch.post(f"{VERSIONS}/rollback", data=again_sent, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert f"Rolled back: version {second} is live again." not in page
    assert f"Not rolled back: version {second} is live now, not version {third}" in page
    with app.app_context():
        assert service().store.active() == second  # not first: one step back, as clicked
        assert service().store.active() != first
    session.rollback()
    rollbacks = session.scalars(
        select(AuditEntry.after).where(AuditEntry.action == "model.rollback")
    ).all()
    assert rollbacks == [second]

    # A page opened before the roll-back still rolls back once it is reloaded.
    button = _form_fields(merch.get(VERSIONS).get_data(as_text=True), f"{VERSIONS}/rollback")
    assert button["shown"] == second
    back = confirmed(merch, f"{VERSIONS}/rollback", button, follow_redirects=True)
    assert f"Rolled back: version {first} is live again." in back.get_data(as_text=True)
    # A form that does not say what it showed changes nothing.
    with app.app_context():
        service().store.activate(third)
    blind = merch.post(
        f"{VERSIONS}/rollback", data={"csrf_token": button["csrf_token"]}, follow_redirects=True
    )
    assert "the page did not say which version it showed" in blind.get_data(as_text=True)
    with app.app_context():
        assert service().store.active() == third


RECS = "/console/recommendations/"
RULES = "/console/recommendations/rules"


def _add_rule(client: FlaskClient, **fields: object) -> None:
    token = console_token(client, RULES)
    response = client.post(RULES, data={"csrf_token": token, **fields})
    assert response.status_code == 302, response.get_data(as_text=True)


def _draft_rule_notes(session: Session) -> list[str] | None:
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    return None if draft is None else [rule["note"] for rule in draft.data["rules"]]


def _publish(client: FlaskClient) -> int:
    fields = _form_fields(client.get(RECS).get_data(as_text=True), f"{RECS}publish")
    assert confirmed(client, f"{RECS}publish", fields).status_code == 302
    revision = db.session.scalar(
        select(MerchRevision.id)
        .where(MerchRevision.state == "published")
        .order_by(MerchRevision.id.desc())
    )
    assert revision is not None
    return revision


def test_a_stale_page_does_not_discard_a_colleagues_draft_changes(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    first = client_as(app, session, "merchandiser")
    second = client_as(app, session, "admin")
    _add_rule(first, type="exclude", product=shop["heart"].sku, note="one")
    with app.app_context():
        earlier = _publish(first)
        _add_rule(first, type="never", product=shop["jumbo"].sku, note="two")
        _publish(first)
    _add_rule(first, type="exclude", product=shop["lunchbox"].sku, note="mine")
    stale = first.get(RECS).get_data(as_text=True)  # opened before the colleague's rule
    _add_rule(second, type="diversity", max_per_category=2, note="theirs")
    everything = ["one", "two", "mine", "theirs"]

    discard = _form_fields(stale, f"{RECS}discard")
    page = confirmed(first, f"{RECS}discard", discard, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "The draft was discarded." not in text
    assert "so it was not discarded. Look at it again first." in text
    assert _draft_rule_notes(session) == everything
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "merch.discard")) is None

    # Reverting with "Discard my draft" ticked on the stale page throws nothing away either.
    revert = f"{RECS}revert/{earlier}"
    fields = {**_form_fields(stale, revert), "discard_draft": "y"}
    page = confirmed(first, revert, fields, follow_redirects=True)
    assert "so it was not discarded, and nothing was reverted" in page.get_data(as_text=True)
    assert _draft_rule_notes(session) == everything
    live = session.scalar(
        select(MerchRevision)
        .where(MerchRevision.state == "published")
        .order_by(MerchRevision.id.desc())
    )
    assert live is not None and [rule["note"] for rule in live.data["rules"]] == ["one", "two"]

    # Once the page shows the draft as it is, discarding it works.
    fresh = _form_fields(first.get(RECS).get_data(as_text=True), f"{RECS}discard")
    page = confirmed(first, f"{RECS}discard", fresh, follow_redirects=True)
    assert "The draft was discarded." in page.get_data(as_text=True)
    assert _draft_rule_notes(session) is None


def test_a_number_field_holding_only_spaces_says_what_to_enter_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    product = next(iter(items.values()))
    url = f"/console/products/{product.id}"
    fields = _form_fields(merch.get(url).get_data(as_text=True), url, holding="stock")
    response = merch.post(url, data={**fields, "stock": "   "})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the stock, a whole number." in page
    assert "Not a valid integer value." not in page and "Use a whole number from 0" not in page

    settings = _form_fields(merch.get(RECS).get_data(as_text=True), RECS, holding="weight_view")
    response = merch.post(RECS, data={**settings, "weight_view": " "})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter a weight." in page
    assert "Not a valid decimal value." not in page and "must be between 0 and 100" not in page


def test_the_same_settings_form_sent_twice_is_saved_once_not_called_a_colleagues_change(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    opened = _form_fields(merch.get(RECS).get_data(as_text=True), RECS, holding="weight_view")
    mine = {**opened, "weight_view": "2", "size_home": "5"}
    assert merch.post(RECS, data=mine).status_code == 302
    again = merch.post(RECS, data=mine, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert again.status_code == 200
    assert "Someone saved other settings" not in page
    assert "Settings saved in the draft." in page
    session.rollback()
    saves = session.scalars(select(AuditEntry).where(AuditEntry.action == "merch.settings")).all()
    assert len(saves) == 1
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None and draft.data["placements"]["home"]["size"] == 5

    # A stale form with other values is still refused.
    other = merch.post(RECS, data={**opened, "size_home": "6"})
    assert other.status_code == 409
    assert "Someone saved other settings" in other.get_data(as_text=True)


def test_a_launch_time_with_seconds_survives_a_later_edit_and_an_export_and_import(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    new = "/console/products/new"
    fields = _form_fields(merch.get(new).get_data(as_text=True), new, holding="sku")
    created = merch.post(
        new,
        data={
            **fields,
            "sku": "LAUNCH-1",
            "name": "Launch lamp",
            "price": "4.00",
            "stock": "3",
            "active": "y",
            "launches_at": "2031-03-01T09:00:30",
        },
    )
    assert created.status_code == 302
    url = created.headers["Location"]

    # Exporting the catalogue and importing it untouched changes nothing.
    exported = merch.get("/console/products/export.csv").get_data()
    token = console_token(merch, "/console/products/import")
    imported = merch.post(
        "/console/products/import",
        data={"csrf_token": token, "file": (io.BytesIO(exported), "catalogue.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    assert "0 created, 0 updated" in imported.get_data(as_text=True)

    # Changing the price changes the price only.
    fields = _form_fields(merch.get(url).get_data(as_text=True), url, holding="stock")
    assert merch.post(url, data={**fields, "price": "4.50"}).status_code == 302
    session.rollback()
    product = session.scalar(select(Product).where(Product.sku == "LAUNCH-1"))
    assert product is not None and product.launches_at == datetime(2031, 3, 1, 9, 0)
    changes = session.scalars(
        select(AuditEntry.after).where(AuditEntry.action.in_(("product.update", "product.import")))
    ).all()
    assert changes == [{"price_pence": 450}]


def test_the_rules_page_names_the_product_or_category_each_rule_acts_on(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    heart, tote = shop["heart"], shop["tote"]
    assert tote.category is not None
    _add_rule(merch, type="exclude", product=heart.sku)
    _add_rule(merch, type="boost", category=str(tote.category_id), factor="2")
    with app.app_context():
        _publish(merch)
    _add_rule(merch, type="never", product=str(tote.id))
    page = merch.get(RULES).get_data(as_text=True)
    draft = re.search(r'data-testid="draft-rules".*?</table>', page, re.S)
    live = re.search(r'data-testid="live-rules".*?</table>', page, re.S)
    assert draft and live
    named = re.findall(r'data-testid="rule-target">([^<]*)<', draft.group(0))
    assert [unescape(n) for n in named] == [
        f"{heart.name} (SKU {heart.sku})",
        tote.category.name,
        f"{tote.name} (SKU {tote.sku})",
    ]
    assert len(re.findall(r'data-testid="rule-target"', live.group(0))) == 2
