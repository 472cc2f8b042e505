"""Console fixes found by QA: each test fails without its fix."""

from __future__ import annotations

import io
import re
from html import escape, unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Tier
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.form_fields import CONTROL_MESSAGE, MULTILINE_CONTROL_MESSAGE
from shop.merchandising.models import MerchRevision
from shop.merchandising.revisions import NOT_SAID
from shop.payments.models import PaymentAttempt
from tests import factories
from tests.checkout_support import fresh, placed_order
from tests.console_support import client_as, console_token
from tests.web.page_forms import open_form, read_form
from tests.web.test_console_loyalty import _gold_form, _post, _second_browser, _with_tiers


def upload(client: FlaskClient, data: bytes):  # type: ignore[no-untyped-def]
    token = console_token(client, "/console/products/import")
    return client.post(
        "/console/products/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), "catalogue.csv")},
        content_type="multipart/form-data",
    )


def test_an_import_refuses_the_control_characters_the_product_form_refuses(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    client = client_as(app, session, "merchandiser")
    rows = [
        ("BAD-1", "Tab\there", ""),
        ("BAD-2", '"Two\nlines"', ""),
        ("BAD-3", "Line\u2028separator", ""),
        ("BAD-4", "evil\u202egpj.exe", ""),
        ("BAD-5", "Escape\x1bname", ""),
        ("BAD-6", "Bell", "rings\x07"),
        ("BAD-7", "Backwards", "text\u202ehere"),
        ("GOOD-1", "Clean name", '"Two\nlines\r\nand\ta tab"'),
    ]
    body = "sku,name,description,price\n" + "".join(
        f"{sku},{name},{description},1.00\n" for sku, name, description in rows
    )
    response = upload(client, body.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created, 0 updated, 0 unchanged, 7 rows with errors" in html
    assert html.count(escape(CONTROL_MESSAGE)) == 5
    assert html.count(escape(MULTILINE_CONTROL_MESSAGE)) == 2
    session.rollback()
    skus = set(session.scalars(select(Product.sku).where(Product.sku.like("%-_"))))
    assert skus == {"GOOD-1"}
    good = session.scalar(select(Product).where(Product.sku == "GOOD-1"))
    assert good is not None and good.description.startswith("Two\nlines")


RECS = "/console/recommendations/"


def _settings_form(page: str) -> dict[str, str]:
    """The recommendation settings form of a page, as a browser would submit it."""
    form = re.search(r'data-testid="settings-form".*?</form>', page, re.S)
    assert form
    values: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name = re.search(r'name="(\w+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="(\w+)"', tag)
        if not name or (kind and kind.group(1) == "checkbox" and "checked" not in tag):
            continue
        values[name.group(1)] = unescape(value.group(1)) if value else "y"
    for field in re.findall(r'<select[^>]*name="(\w+)".*?</select>', form.group(0), re.S):
        chosen = re.search(
            rf'name="{field}".*?<option[^>]*selected[^>]*value="([^"]*)"'
            rf'|name="{field}".*?<option[^>]*value="([^"]*)"[^>]*selected',
            form.group(0),
            re.S,
        )
        assert chosen, field
        values[field] = chosen.group(1) or chosen.group(2)
    return values


def test_a_refused_stale_settings_save_shows_the_saved_settings_and_can_be_resubmitted(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    first = client_as(app, session, "merchandiser")
    second = client_as(app, session, "admin")
    opened_by_first = _settings_form(first.get(RECS).get_data(as_text=True))
    theirs = {**_settings_form(second.get(RECS).get_data(as_text=True)), "size_home": "3"}
    assert second.post(RECS, data=theirs).status_code == 302

    stale = first.post(RECS, data={**opened_by_first, "weight_view": "2", "size_home": "7"})
    assert stale.status_code == 409
    shown = _settings_form(stale.get_data(as_text=True))
    current = _settings_form(first.get(RECS).get_data(as_text=True))
    assert shown["size_home"] == "3" and shown["weight_view"] == current["weight_view"] != "2"
    assert shown["opened"] == current["opened"] != opened_by_first["opened"]
    assert first.post(RECS, data={**shown, "size_home": "4"}).status_code == 302
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None and draft.data["placements"]["home"]["size"] == 4


def test_a_refused_stale_tier_save_shows_the_saved_tier_and_can_be_resubmitted(
    app: Flask, session: Session
) -> None:
    ids = _with_tiers(session)
    url = f"/console/loyalty/tiers/{ids['Gold']}"
    first, second = client_as(app, session, "admin"), _second_browser(app, session)
    first_opened = read_form(first.get(url).get_data(as_text=True)).values
    second_opened = read_form(second.get(url).get_data(as_text=True)).values
    assert _post(second, url, {**second_opened, "multiplier": "3"}).status_code == 302

    stale = _post(first, url, {**_gold_form(ids), "opened": first_opened["opened"]})
    assert stale.status_code == 409
    shown = read_form(stale.get_data(as_text=True)).values
    current = read_form(first.get(url).get_data(as_text=True)).values
    assert shown["multiplier"] == "3"
    assert shown["opened"] == current["opened"] != first_opened["opened"]
    assert first.post(url, data={**shown, "discount": "7"}).status_code == 302
    session.rollback()
    gold = session.get(Tier, ids["Gold"])
    assert gold is not None and (gold.multiplier_pct, gold.discount_bp) == (300, 700)


def test_a_settings_save_or_publish_that_does_not_say_what_it_showed_is_refused(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    form = _settings_form(merch.get(RECS).get_data(as_text=True))
    assert form["opened"]  # the page always sends it
    without = {name: value for name, value in form.items() if name != "opened"}
    for data in (without, {**without, "opened": ""}):
        refused = merch.post(RECS, data={**data, "size_home": "3"})
        assert refused.status_code == 409
        assert NOT_SAID in unescape(refused.get_data(as_text=True))
    assert merch.post(RECS, data={**form, "size_home": "3"}).status_code == 302

    page = merch.get("/console/recommendations/rules").get_data(as_text=True)
    opened = re.search(r'name="opened" value="([0-9a-f]+)"', page)
    assert opened  # the publish button always sends it
    token = console_token(merch, "/console/recommendations/rules")
    back = "/console/recommendations/rules"
    for extra in ({}, {"opened": ""}):
        response = merch.post(
            "/console/recommendations/publish",
            data={"csrf_token": token, "back": back, "confirm": "1", **extra},
        )
        assert response.status_code == 302
        assert NOT_SAID in unescape(merch.get(back).get_data(as_text=True))
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.state == "published")) is None
    published = merch.post(
        "/console/recommendations/publish",
        data={"csrf_token": token, "back": back, "opened": opened.group(1), "confirm": "1"},
    )
    assert published.status_code == 302
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.state == "published"))


def test_cancelling_suggests_a_refund_only_for_an_order_with_a_payment_left_to_refund(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    paid = factories.paid_order_with_address(session)
    session.add(
        PaymentAttempt(
            order_id=paid.id,
            attempt=1,
            idempotency_key="qa-paid-1",
            intent_id="pi_qa_paid_1",
            status="succeeded",
            amount_pence=paid.total_pence,
            currency=paid.currency,
        )
    )
    # Paid, but with no card payment to refund.
    no_payment = factories.paid_order_with_address(session, "HP-1002", "bob@example.com")
    session.commit()
    paid_id, no_payment_id = paid.id, no_payment.id
    client = client_as(app, session, "merchandiser")
    unpaid_id = placed_order(app, [(items["lantern"], 1)])
    token = console_token(client, f"/console/orders/{unpaid_id}")

    def cancel(order_id: int) -> tuple[int, str]:
        response = client.post(
            f"/console/orders/{order_id}/cancel",
            data={"cancel-csrf_token": token, "cancel-confirm": "1"},
        )
        return response.status_code, response.get_data(as_text=True)

    assert cancel(unpaid_id)[0] == 302
    status, page = cancel(unpaid_id)  # cancelled already: nothing to refund
    assert status == 400
    assert "only unpaid orders can be cancelled" in page and "Refund it instead." not in page
    status, page = cancel(no_payment_id)
    assert status == 400 and "Refund it instead." not in page
    status, page = cancel(paid_id)
    assert status == 400 and "only unpaid orders can be cancelled. Refund it instead." in page
    assert fresh(session, unpaid_id).status == "cancelled"
    assert fresh(session, paid_id).status == "paid"


def test_saving_a_product_form_unchanged_keeps_its_line_breaks_and_audits_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    heart = session.get(Product, items["heart"].id)
    assert heart is not None
    heart.description = "White metal.\nHolds a tea light.\n\nHang it up."
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/products/{heart.id}"
    form = open_form(client, path)
    assert form["description"] == "White metal.\nHolds a tea light.\n\nHang it up."
    # A browser sends a textarea's line breaks as CR LF.
    for sent in (
        form["description"].replace("\n", "\r\n"),
        form["description"].replace("\n", "\r"),
    ):
        response = client.post(path, data={**form, "description": sent})
        assert response.status_code == 302
        session.rollback()
        stored = session.get(Product, heart.id)
        assert stored is not None
        assert stored.description == "White metal.\nHolds a tea light.\n\nHang it up."
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "product.update")) is None
