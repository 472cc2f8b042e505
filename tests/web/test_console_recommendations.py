"""The recommendation console: settings and rules in a draft, preview, publish, revert,
retraining in the background, and the storefront serving exactly what the preview showed."""

from __future__ import annotations

import re
import shutil
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console import audit
from shop.console.models import AuditEntry, TrainingJob
from shop.db import db, utcnow
from shop.merchandising import experiments, training_jobs
from shop.merchandising.config import Rule
from shop.merchandising.experiments import VariantSpec
from shop.merchandising.models import MerchRevision
from shop.merchandising.revisions import live_revision_id
from shop.personalization import service
from shop.recommendation_data import Shopper
from tests import factories
from tests.console_support import client_as, confirmed, console_token, review_lines
from tests.helpers import csrf_token, sign_in
from tests.web.page_forms import read_form

RULES = "/console/recommendations/rules"
DISCARD = "/console/recommendations/discard"


def editing_rules(session: Session) -> list[Rule]:
    """The draft's rules as stored."""
    from shop.merchandising import editing

    return editing.draft_rules(session)


def _add_rule(client: FlaskClient, **fields: object) -> tuple[int, str]:
    token = console_token(client, RULES)
    response = client.post(RULES, data={"csrf_token": token, **fields})
    return response.status_code, response.get_data(as_text=True)


def _publish(client: FlaskClient, note: str = "") -> None:
    bar = client.get(RULES).get_data(as_text=True)
    token = console_token(client, RULES)
    opened = re.search(r'name="opened" value="([0-9a-f]+)"', bar)
    assert opened, "no publish button"
    response = confirmed(
        client,
        "/console/recommendations/publish",
        {"csrf_token": token, "note": note, "opened": opened.group(1)},
    )
    assert response.status_code == 302
    assert "Published" in client.get(RULES).get_data(as_text=True)


def _draft_bar_form(client: FlaskClient, action: str) -> dict[str, str]:
    """The fields of the draft bar's publish or discard form, as the rules page shows it."""
    bar = client.get(RULES).get_data(as_text=True)
    form = re.search(rf'<form[^>]*action="{action}".*?</form>', bar, re.S)
    assert form, f"no form posting to {action}"
    fields = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', form.group(0)):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        assert name and value
        fields[name.group(1)] = value.group(1)
    return fields


def _ids(html: str, testid: str) -> list[int]:
    match = re.search(rf'data-testid="{testid}".*?</ol>', html, re.S)
    assert match, f"no list {testid}"
    return [int(i) for i in re.findall(r'data-product-id="(\d+)"', match.group(0))]


def _storefront_home_ids(html: str) -> list[int]:
    match = re.search(r'data-testid="recs-home".*?</section>', html, re.S)
    assert match
    return [int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', match.group(0))]


def test_a_pin_is_previewed_in_the_draft_then_served_exactly_after_publishing(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    target = shop["retired"].id  # inactive: cannot be pinned
    status, page = _add_rule(merch, type="pin", placements=["home"], product=target, position=1)
    assert status == 400 and "is inactive and cannot be pinned" in page

    pinned = shop["lunchbox"]
    status, page = _add_rule(merch, type="pin", placements=["home"], product=pinned.sku, position=1)
    assert status == 302, page
    shopper = trained[4]  # a bag buyer: lunch box is not new to the cluster, pin it first anyway
    preview = merch.get(f"/console/recommendations/preview?shopper={shopper.email}")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    draft, live = _ids(html, "preview-draft-home"), _ids(html, "preview-live-home")
    assert draft[0] == pinned.id
    assert "pin at 1 product" in html and "draft differs" in html
    emails = ("order_email", "weekly_email", "picks_email", "segment_email")
    for placement in ("buy_again", "cart", "order", *emails):
        assert f'data-testid="preview-row-{placement}"' in html, placement
    assert _ids(html, "preview-live-weekly_email")  # the member's weekly picks
    assert _ids(html, "preview-live-picks_email")  # the monthly personal picks
    assert live != draft

    shopper_client = app.test_client()
    sign_in(shopper_client, shopper.email, factories.PASSWORD)
    before = _storefront_home_ids(shopper_client.get("/").get_data(as_text=True))
    assert before == live  # the live column is what the storefront serves now

    _publish(merch, "pin the lunch box")
    after_publish = merch.get(f"/console/recommendations/preview?shopper={shopper.email}")
    live_now = _ids(after_publish.get_data(as_text=True), "preview-live-home")
    assert live_now == draft
    home = shopper_client.get("/").get_data(as_text=True)
    served = _storefront_home_ids(home)
    assert served == live_now
    # A pin is the shop's choice, not a personal pick: said so, to everyone who sees it.
    assert "Featured by the shop" in home and "Picked for you" not in home

    session.rollback()
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["merch.rule.add", "merch.publish"]
    assert session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1)) is None


def _storefront_ids(html: str, placement: str) -> list[int]:
    match = re.search(rf'data-testid="recs-{placement}".*?</section>', html, re.S)
    return (
        [int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', match.group(0))]
        if match
        else []
    )


def test_a_pin_never_brings_back_the_product_its_list_goes_with(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    pinned = shop["jumbo"]
    status, page = _add_rule(
        merch, type="pin", placements=["product", "cart", "order"], product=pinned.id, position=1
    )
    assert status == 302, page
    _publish(merch)
    visitor = app.test_client()
    elsewhere = visitor.get(f"/products/{shop['heart'].id}").get_data(as_text=True)
    assert _storefront_ids(elsewhere, "product")[0] == pinned.id  # the pin works
    own_page = visitor.get(f"/products/{pinned.id}").get_data(as_text=True)
    assert pinned.id not in _storefront_ids(own_page, "product")
    token = console_token(visitor, f"/products/{pinned.id}")
    visitor.post("/cart/add", data={"csrf_token": token, "product_id": pinned.id, "quantity": 1})
    cart = _storefront_ids(visitor.get("/cart").get_data(as_text=True), "cart")
    assert cart and pinned.id not in cart

    with app.app_context():
        after_order = service().for_order(db.session, Shopper("v", trained[0].id), [pinned.id])
    assert after_order.items and pinned.id not in [i.product.id for i in after_order.items]
    assert any("the one this list goes with" in why for why in after_order.skipped_rules)


def test_rule_form_errors_are_clear_and_nothing_is_saved(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    heart, jumbo = shop["heart"], shop["jumbo"]
    cases = [
        ({"type": "pin", "product": "NOPE", "position": 1}, "There is no product"),
        ({"type": "pin", "position": 1}, "A pin needs a product"),
        ({"type": "boost", "product": heart.sku, "factor": "0"}, "greater than 0"),
        ({"type": "bury", "product": heart.sku, "factor": "-2"}, "greater than 0"),
        ({"type": "boost", "product": heart.sku, "factor": "sNaN"}, "Enter a number"),
        ({"type": "boost", "product": heart.sku, "factor": "NaN"}, "Enter a number"),
        ({"type": "bury", "product": heart.sku, "factor": "1e-320"}, "from 0.01 to 1,000"),
        ({"type": "boost", "product": heart.sku, "factor": "5000"}, "from 0.01 to 1,000"),
        (
            {"type": "pin", "product": "99999999999999999999999", "position": 1},
            "There is no product",
        ),
        (
            {
                "type": "exclude",
                "product": heart.sku,
                "starts_at": "2026-12-10T00:00",
                "ends_at": "2026-12-01T00:00",
            },
            "The end must be after the start",
        ),
        ({"type": "diversity"}, "Allow at least 1 item per category"),
        (
            {"type": "exclude", "product": heart.sku, "starts_at": "0001-01-01T00:00"},
            "Choose a date from 1 January 1900 to 31 December 2999",
        ),
        (
            {"type": "exclude", "product": heart.sku, "ends_at": "9999-12-31T23:59"},
            "Choose a date from 1 January 1900 to 31 December 2999",
        ),
        ({"type": "diversity", "max_per_category": "1_0"}, "Not a valid integer value."),
        ({"type": "pin", "product": heart.sku, "position": 99}, "From 1 to 24"),
        (
            {"type": "exclude", "product": heart.sku, "ends_at": "2001-01-01T00:00"},
            "The end is in the past: the rule would never apply.",
        ),
        (
            {"type": "pin", "product": heart.sku, "position": 3, "category": heart.category_id},
            "A pin is for a product, not a category: leave it empty.",
        ),
        (
            {"type": "pin", "position": 3, "category": heart.category_id},
            "A pin is for a product, not a category: leave it empty.",
        ),
        (
            {"type": "boost", "product": heart.sku, "factor": "1"},
            "A boost by a factor of 1 leaves every score as it is: choose a factor other "
            "than 1 (say 2).",
        ),
        (
            {"type": "bury", "category": heart.category_id, "factor": "1.000"},
            "A bury by a factor of 1 leaves every score as it is",
        ),
    ]
    for fields, message in cases:
        status, page = _add_rule(merch, **fields)
        assert status == 400, fields
        assert message in page, (fields, message)
        assert "Added to the draft" not in page
        if fields.get("category"):
            assert "A pin needs a product." not in page
    status, _ = _add_rule(merch, type="pin", product=heart.sku, position=2)
    assert status == 302
    status, page = _add_rule(merch, type="pin", placements=["home"], product=jumbo.sku, position=2)
    assert status == 400 and "Position 2 is already pinned by rule r1" in page
    # The same rule twice would stack (x2 and x2 make x4): refused where they overlap.
    assert _add_rule(merch, type="boost", product=jumbo.sku, factor="2")[0] == 302
    status, page = _add_rule(
        merch, type="boost", placements=["cart"], product=jumbo.sku, factor="3"
    )
    assert status == 400 and "That repeats boost x2 product" in page
    assert _add_rule(merch, type="diversity", placements=["home"], max_per_category="2")[0] == 302
    status, page = _add_rule(merch, type="diversity", placements=["home"], max_per_category="1")
    assert status == 400 and "at most 2 per category (rule r3)" in page
    # A bury of a boosted product pulls it both ways: refused where both apply.
    status, page = _add_rule(merch, type="bury", placements=["cart"], product=jumbo.sku, factor="2")
    assert status == 400 and "That contradicts boost x2 product" in page
    # Another kind of rule, or the same one elsewhere, is a rule of its own.
    assert _add_rule(merch, type="bury", product=heart.sku, factor="2")[0] == 302
    assert _add_rule(merch, type="diversity", placements=["cart"], max_per_category="1")[0] == 302
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None
    assert [r["id"] for r in draft.data["rules"]] == ["r1", "r2", "r3", "r4", "r5"]

    # A never-recommended product cannot be pinned: the pin could never show it.
    candle = shop["candle"]
    assert _add_rule(merch, type="never", product=candle.sku)[0] == 302
    status, page = _add_rule(merch, type="pin", placements=["cart"], product=candle.sku, position=3)
    assert status == 400
    assert (
        f"Pillar Candle is never recommended by never recommend product {candle.id} (rule r6) "
        "in an overlapping placement and period: remove that rule to pin it."
    ) in page


def test_a_pinned_product_cannot_be_excluded_or_never_recommended_where_the_pin_applies(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    jumbo, tote = shop["jumbo"], shop["tote"]
    soon = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    later = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    assert (
        _add_rule(merch, type="pin", placements=["home"], product=jumbo.sku, position=1)[0] == 302
    )
    assert _add_rule(merch, type="pin", product=tote.sku, position=2, ends_at=soon)[0] == 302
    pinned = f"Jumbo Bag Red Retrospot is pinned by pin at 1 product {jumbo.id} (rule r1)"
    refused = [
        ({"type": "never", "product": jumbo.sku}, "Never recommending it would keep the pin"),
        (
            {"type": "exclude", "placements": ["home", "cart"], "product": jumbo.sku},
            "Excluding it would keep the pin",
        ),
        (
            {"type": "exclude", "placements": ["home"], "category": jumbo.category_id},
            "Excluding its category would keep the pin",
        ),
    ]
    for fields, why in refused:
        status, page = _add_rule(merch, **fields)
        assert status == 400, fields
        assert f"{pinned} in an overlapping placement and period. {why}" in page, fields
        assert "remove or change that pin first." in page
    status, page = _add_rule(merch, type="exclude", placements=["cart"], product=tote.sku)
    assert status == 400 and "Canvas Tote is pinned by pin at 2 product" in page
    # Where or when the pin does not apply, the product can be kept out.
    assert _add_rule(merch, type="exclude", placements=["cart"], product=jumbo.sku)[0] == 302
    assert _add_rule(merch, type="never", product=tote.sku, starts_at=later)[0] == 302
    # And the other way round: a pin where an exclusion applies is refused as well.
    status, page = _add_rule(merch, type="pin", placements=["cart"], product=jumbo.sku, position=3)
    assert status == 400
    assert (
        f"Jumbo Bag Red Retrospot is excluded by exclude product {jumbo.id} (rule r3) in an "
        "overlapping placement and period: remove that rule to pin it."
    ) in page
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None
    assert [(r["id"], r["type"]) for r in draft.data["rules"]] == [
        ("r1", "pin"),
        ("r2", "pin"),
        ("r3", "exclude"),
        ("r4", "never"),
    ]


def test_settings_go_to_the_draft_and_change_the_storefront_only_when_published(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    page = merch.get("/console/recommendations/").get_data(as_text=True)
    token = console_token(merch, "/console/recommendations/")
    values = {
        m.group(1): m.group(2)
        for tag in re.findall(r"<input[^>]*>", page)
        if (m := re.search(r'name="(\w+)".*value="([^"]*)"', tag))
    }
    assert values["size_home"] == "8" and values["weight_purchase"] == "5.0"
    form = {
        "csrf_token": token,
        "weight_view": "1",
        "weight_cart_add": "3",
        "weight_purchase": "5",
        "half_life_days": "60",
        "model": "als",
        "factors": "16",
        **{f"size_{name}": "2" for name in service_placements(app)},
        **{f"strategy_{name}": "personal" for name in service_placements(app)},
        "opened": values["opened"],
    }
    bad = merch.post("/console/recommendations/", data={**form, "weight_view": "-1"})
    assert bad.status_code == 400 and "Number must be between 0 and 100" in bad.get_data(True)
    bad = merch.post("/console/recommendations/", data={**form, "size_home": "0"})
    assert bad.status_code == 400
    bad = merch.post("/console/recommendations/", data={**form, "strategy_home": "evil"})
    assert bad.status_code == 400 and "Not a valid choice." in bad.get_data(True)
    for field, text in (("weight_view", "sNaN"), ("half_life_days", "Infinity"), ("alpha", "NaN")):
        bad = merch.post("/console/recommendations/", data={**form, field: text})
        assert bad.status_code == 400, (field, text)
        assert "Enter a number, such as 1.5." in bad.get_data(True)
    assert merch.post("/console/recommendations/", data=form).status_code == 302

    shopper_client = app.test_client()
    sign_in(shopper_client, trained[0].email, factories.PASSWORD)
    assert len(_storefront_home_ids(shopper_client.get("/").get_data(as_text=True))) > 2
    token = console_token(merch, RULES)
    too_long = merch.post(
        "/console/recommendations/publish",
        data={"csrf_token": token, "note": "x" * 201},
        follow_redirects=True,
    )
    assert too_long.status_code == 200
    assert "The note is too long" in too_long.get_data(as_text=True)
    assert len(_storefront_home_ids(shopper_client.get("/").get_data(as_text=True))) > 2
    _publish(merch)
    assert len(_storefront_home_ids(shopper_client.get("/").get_data(as_text=True))) == 2
    session.rollback()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "merch.settings"))
    assert entry is not None
    assert entry.after["training"]["weighting"]["half_life_days"] == 60.0
    assert entry.after["training"]["model_params"]["factors"] == 16


def test_switching_the_model_does_not_carry_the_old_models_values_over(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    page = merch.get("/console/recommendations/").get_data(as_text=True)
    shown = read_form(page).values
    assert shown["model"] == "als" and float(shown["regularization"]) == 10.0
    token = console_token(merch, "/console/recommendations/")
    switched = {**shown, "csrf_token": token, "model": "bpr", "factors": "48"}
    assert merch.post("/console/recommendations/", data=switched).status_code == 302
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.state == "draft"))
    assert draft is not None
    params = draft.data["training"]["model_params"]
    assert draft.data["training"]["model"] == "bpr"
    assert params["factors"] == 48  # changed on the form: kept
    assert params.get("regularization", 0.01) == 0.01  # ALS's 10.0 was only shown: not kept


def test_saving_settings_keeps_the_tuned_settings_the_form_does_not_show(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    with app.app_context():
        tuned = dict(service().default_config().training)
    assert tuned["blend"]["content"] > 0 and tuned["model_params"]["regularization"] != 0.05
    merch = client_as(app, session, "merchandiser")
    token = console_token(merch, "/console/recommendations/")
    form = {
        "csrf_token": token,
        "weight_view": "1",
        "weight_cart_add": "3",
        "weight_purchase": "5",
        "half_life_days": "90",
        **{f"size_{name}": "8" for name in service_placements(app)},
        **{f"strategy_{name}": "personal" for name in service_placements(app)},
    }

    def draft_training() -> dict[str, object]:
        session.rollback()
        draft = session.scalar(select(MerchRevision).where(MerchRevision.state == "draft"))
        assert draft is not None
        return dict(draft.data["training"])

    def save(model: str) -> int:
        opened = _settings_page_form(merch)["opened"]  # what the page shows now
        data = {**form, "model": model, "opened": opened}
        return merch.post("/console/recommendations/", data=data).status_code

    assert save("als") == 302
    saved = draft_training()
    assert saved["blend"] == tuned["blend"] and saved["content"] == tuned["content"]
    assert saved["model_params"] == tuned["model_params"]

    # Another model and back, with the parameter fields left empty: the tuned ones return.
    for model in ("popularity", "als"):
        assert save(model) == 302
    saved = draft_training()
    assert saved["model"] == "als" and saved["model_params"] == tuned["model_params"]
    assert saved["blend"] == tuned["blend"]


def service_placements(app: Flask) -> list[str]:
    with app.app_context():
        return list(service().placements)


def test_revert_to_an_earlier_revision_and_discard_a_draft(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    assert _add_rule(merch, type="exclude", product=shop["heart"].sku)[0] == 302
    _publish(merch, "first")
    assert _add_rule(merch, type="never", product=shop["jumbo"].sku)[0] == 302
    _publish(merch, "second")
    session.rollback()
    first, second = session.scalars(
        select(MerchRevision).where(MerchRevision.state == "published").order_by(MerchRevision.id)
    ).all()
    assert len(second.data["rules"]) == 2
    assert _add_rule(merch, type="diversity", max_per_category=1)[0] == 302
    token = console_token(merch, RULES)
    page = merch.get("/console/recommendations/").get_data(as_text=True)
    assert f'id="discard-draft-{first.id}"' in page  # offered only while there is a draft
    # A draft is never thrown away silently: reverting needs "Discard my draft" ticked.
    response = merch.post(f"/console/recommendations/revert/{first.id}", data={"csrf_token": token})
    assert response.status_code == 302
    page = merch.get("/console/recommendations/").get_data(as_text=True)
    assert "There are unpublished changes in the draft" in page
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None and [r["type"] for r in draft.data["rules"]][-1] == "diversity"
    opened = _draft_bar_form(merch, DISCARD)["opened"]
    response = confirmed(
        merch,
        f"/console/recommendations/revert/{first.id}",
        {"csrf_token": token, "discard_draft": "y", "opened": opened},
    )
    assert response.status_code == 302
    session.rollback()
    discarded = session.scalar(select(AuditEntry).where(AuditEntry.action == "merch.discard"))
    assert discarded is not None and discarded.target.startswith("draft, reverting to revision")
    assert discarded.before is not None
    assert [r["type"] for r in discarded.before["rules"]][-1] == "diversity"
    live = session.scalars(
        select(MerchRevision).where(MerchRevision.state == "published").order_by(MerchRevision.id)
    ).all()[-1]
    assert [r["id"] for r in live.data["rules"]] == ["r1"]
    assert session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1)) is None
    page = merch.get("/console/recommendations/").get_data(as_text=True)
    assert "reverted to revision" in page
    response = merch.post("/console/recommendations/discard", data={"csrf_token": token})
    assert response.status_code == 302
    assert "There is no draft to discard" in merch.get("/console/recommendations/").get_data(True)


def test_preview_an_anonymous_session_and_bad_preview_input(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    viewed = f"{shop['jumbo'].sku},{shop['tote'].sku}"
    page = merch.get(f"/console/recommendations/preview?viewed={viewed}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "an anonymous visitor who viewed" in html
    ids = _ids(html, "preview-live-home")
    assert shop["lunchbox"].id in ids  # the bag cluster
    assert _ids(html, "preview-live-product")  # the last viewed product's page
    missing = merch.get("/console/recommendations/preview?shopper=nobody@example.com")
    assert missing.status_code == 400 and "No customer matches" in missing.get_data(True)
    bad = merch.get("/console/recommendations/preview?viewed=NOPE")
    assert bad.status_code == 400 and "There is no product" in bad.get_data(True)
    page = bad.get_data(True)  # the message sits under the field that holds NOPE
    assert (
        page.index('name="viewed"')
        < page.index("There is no product")
        < page.index('name="product"')
    )
    huge = "99999999999999999999999"
    for query in (
        f"shopper={huge}",
        f"viewed={huge}",
        f"viewed={shop['jumbo'].sku}&product={huge}",
    ):
        bad = merch.get(f"/console/recommendations/preview?{query}")
        assert bad.status_code == 400, query
        assert huge in bad.get_data(True), query


def _train_and_wait(merch: FlaskClient, **form: str) -> tuple[int, dict[str, Any]]:
    """Start a retrain from the versions page and wait for it; (job id, its last state)."""
    token = console_token(merch, "/console/recommendations/versions")
    data = {"csrf_token": token, "settings": "draft", **form}
    response = merch.post("/console/recommendations/train", data=data)
    assert response.status_code == 302
    job_id = int(re.search(r"job=(\d+)", response.headers["Location"]).group(1))
    deadline = time.monotonic() + 60
    while True:
        state = merch.get(f"/console/recommendations/train/{job_id}.json").get_json()
        if state["status"] != "running" or time.monotonic() > deadline:
            return job_id, dict(state)
        time.sleep(0.2)


@pytest.mark.parametrize("lift", [0.4, 1.7])
def test_a_retrain_asked_to_activate_goes_live_only_if_it_beats_popularity(
    app: Flask,
    session: Session,
    shop: dict[str, Product],
    trained: list[User],
    monkeypatch: pytest.MonkeyPatch,
    lift: float,
) -> None:
    from recommender.evaluation import EvaluationReport

    monkeypatch.setattr(EvaluationReport, "lift", lambda self, view, name="precision": lift)
    with app.app_context():
        live_before = service().store.active()
    merch = client_as(app, session, "merchandiser")
    _job_id, state = _train_and_wait(merch, activate="y")
    assert state["status"] == "succeeded", state
    session.rollback()
    audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "model.activate")).all()
    with app.app_context():
        live = service().store.active()
    if lift < 1:
        assert live == live_before != state["version"]
        assert (
            "Not activated: on the evaluation it recommends new items worse than "
            in (state["message"])
        )
        assert "(0.40x)" in state["message"]
        assert audited == []
    else:
        assert live == state["version"] and state["message"].endswith("and activated it")
        [entry] = audited
        assert (entry.actor_email, entry.before, entry.after) == (
            "merchandiser@example.com",
            live_before,
            state["version"],
        )


def test_retraining_runs_in_the_background_and_a_second_start_is_refused(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    job_id, state = _train_and_wait(merch)
    assert state["status"] == "succeeded", state
    token = console_token(merch, "/console/recommendations/versions")
    assert state["progress"] == 1.0 and state["version"]
    with app.app_context():
        metadata = service().store.metadata(state["version"])
        assert metadata["source"] == "console"
        assert {r["model"] for r in metadata["evaluation"]["results"]} >= {"model", "popularity"}
        assert service().store.active() != state["version"]  # not activated unless asked
    page = merch.get("/console/recommendations/versions").get_data(as_text=True)
    row = re.search(rf"<tr>\s*<td>{state['version']}.*?</tr>", page, re.S)
    assert row and "<td>console</td>" in row.group(0) and "<td>als</td>" in row.group(0)

    session.add(TrainingJob(status="running", running_slot=1, params={}, message="busy"))
    session.commit()
    response = merch.post(
        "/console/recommendations/train",
        data={"csrf_token": token, "settings": "live"},
        follow_redirects=True,
    )
    assert "A retrain is already running" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(TrainingJob.id).order_by(TrainingJob.id.desc())) == job_id + 1
    assert merch.get("/console/recommendations/train/999.json").status_code == 404
    too_long = merch.get("/console/recommendations/train/99999999999999999999999.json")
    assert too_long.status_code == 404 and "error" in too_long.get_json()

    response = confirmed(
        merch,
        f"/console/recommendations/versions/{state['version']}/activate",
        {"csrf_token": token},
    )
    assert response.status_code == 302
    with app.app_context():
        assert service().store.active() == state["version"]
    confirmed(
        merch,
        "/console/recommendations/versions/rollback",
        {"csrf_token": token, "shown": state["version"]},
    )
    with app.app_context():
        assert service().store.active() != state["version"]
    bad = merch.post(
        "/console/recommendations/versions/nope/activate",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert bad.status_code == 200 and "cannot be activated" in bad.get_data(as_text=True)
    missing = merch.post(
        "/console/recommendations/versions/20991231T000000Z-abcdef/activate",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    text = missing.get_data(as_text=True)
    assert "cannot be activated: there is no such version." in text
    with app.app_context():
        assert str(service().store.directory) not in text


def test_a_retrain_that_died_with_its_server_stops_blocking_within_minutes(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    now = utcnow()
    dead = TrainingJob(
        status="running",
        running_slot=1,
        params={},
        message="Evaluating on a time split",
        started_at=now - timedelta(minutes=7),
        heartbeat_at=now - timedelta(minutes=6),
    )
    session.add(dead)
    session.commit()
    merch = client_as(app, session, "merchandiser")
    state = merch.get(f"/console/recommendations/train/{dead.id}.json").get_json()
    assert state["status"] == "failed" and "the server stopped while it ran" in state["error"]
    session.rollback()
    assert session.get(TrainingJob, dead.id).running_slot is None

    # One that beat a moment ago is alive, however long ago it started.
    alive = TrainingJob(
        status="running",
        running_slot=1,
        params={},
        started_at=now - timedelta(hours=3),
        heartbeat_at=utcnow(),
    )
    session.add(alive)
    session.commit()
    page = merch.get("/console/recommendations/versions").get_data(as_text=True)
    assert f'data-job="{alive.id}" data-poll=' in page
    token = console_token(merch, "/console/recommendations/versions")
    response = merch.post(
        "/console/recommendations/train",
        data={"csrf_token": token, "settings": "live"},
        follow_redirects=True,
    )
    assert "A retrain is already running" in response.get_data(as_text=True)


def test_a_running_job_writes_its_heartbeat(app: Flask, session: Session) -> None:
    job = TrainingJob(status="running", running_slot=1, params={})
    session.add(job)
    session.commit()
    assert job.heartbeat_at is None
    stop = threading.Event()
    assert db.session_factory is not None
    beat = threading.Thread(
        target=training_jobs._Progress(db.session_factory, job.id).beat_until, args=(stop, 0.01)
    )
    beat.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        session.rollback()
        if session.get(TrainingJob, job.id, populate_existing=True).heartbeat_at is not None:
            break
        time.sleep(0.01)
    stop.set()
    beat.join()
    assert session.get(TrainingJob, job.id).heartbeat_at is not None


def test_publishing_discarding_and_reverting_say_what_they_change_first(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    heart, jumbo = shop["heart"], shop["jumbo"]
    assert _add_rule(merch, type="never", product=heart.sku, note="recalled")[0] == 302
    publish_path = "/console/recommendations/publish"
    fields = {**_draft_bar_form(merch, publish_path), "note": "ban the heart"}

    review = merch.post(publish_path, data=fields)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert "Publish the draft?" in html
    assert review_lines(html) == [
        "The storefront serves the draft from now on, instead of the default settings.",
        f"Rule added: never recommend product {heart.id} (rule r1), {heart.name} "
        f"(SKU {heart.sku}), on every placement",
        "Note on the revision: ban the heart",
    ]
    assert "can be made live again later" in html
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.state == "published")) is None
    back = merch.post(publish_path, data={**read_form(html).values, "edit": "1"})
    assert back.status_code == 302 and back.headers["Location"].endswith(RULES)
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.state == "published")) is None
    _publish(merch, "ban the heart")
    session.rollback()
    first = session.scalar(select(MerchRevision).where(MerchRevision.state == "published"))
    assert first is not None

    token = console_token(merch, RULES)
    size = {"csrf_token": token, **_settings_page_form(merch), "size_home": "3"}
    assert merch.post("/console/recommendations/", data=size).status_code == 302
    assert _add_rule(merch, type="exclude", product=jumbo.sku)[0] == 302
    discard = merch.post(DISCARD, data=_draft_bar_form(merch, DISCARD))
    html = discard.get_data(as_text=True)
    assert discard.status_code == 200 and "Discard the draft?" in html
    assert review_lines(html) == [
        f"The draft's unpublished changes are thrown away; the storefront keeps serving "
        f"revision {first.id}. The changes:",
        "home: 8 items → 3",
        f"Rule added: exclude product {jumbo.id} (rule r2), {jumbo.name} (SKU {jumbo.sku}), "
        "on every placement",
    ]
    assert "it cannot be undone once confirmed" in html
    kept = merch.post(DISCARD, data={**read_form(html).values, "edit": "1"})
    assert kept.status_code == 302
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1)) is not None
    _publish(merch)

    live = revisions_live(session)
    revert_path = f"/console/recommendations/revert/{first.id}"
    revert = merch.post(revert_path, data={"csrf_token": token})
    html = revert.get_data(as_text=True)
    assert revert.status_code == 200 and f"Revert to revision {first.id}?" in html
    assert review_lines(html) == [
        f"The storefront serves revision {first.id}'s settings and rules again, instead of "
        f"revision {live}, published as a new revision.",
        "home: 3 items → 8",
        f"Rule removed: exclude product {jumbo.id} (rule r2), {jumbo.name} (SKU {jumbo.sku}), "
        "on every placement",
    ]
    assert revisions_live(session) == live  # nothing reverted yet
    assert confirmed(merch, revert_path, {"csrf_token": token}).status_code == 302
    reverted = session.get(MerchRevision, revisions_live(session))
    assert reverted is not None and reverted.note == f"reverted to revision {first.id}"


def revisions_live(session: Session) -> int | None:
    """The id of the live revision, read afresh."""
    session.rollback()
    return live_revision_id(session)


def test_a_rule_number_is_never_given_to_another_rule(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")

    def draft_ids() -> list[str]:
        session.rollback()
        draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
        return [r["id"] for r in (draft.data["rules"] if draft else [])]

    def remove(rule_id: str) -> None:
        token = console_token(merch, RULES)
        url = f"{RULES}/{rule_id}/delete"
        assert merch.post(url, data={"csrf_token": token}).status_code == 302

    assert _add_rule(merch, type="exclude", product=shop["heart"].sku)[0] == 302
    assert _add_rule(merch, type="never", product=shop["jumbo"].sku)[0] == 302
    _publish(merch, "two rules")
    remove("r2")  # published as r2: the next rule is r3, not r2 again
    assert _add_rule(merch, type="never", product=shop["tote"].sku)[0] == 302
    assert draft_ids() == ["r1", "r3"]
    remove("r3")  # never published, but in the audit log as r3
    assert _add_rule(merch, type="never", product=shop["lunchbox"].sku)[0] == 302
    assert draft_ids() == ["r1", "r4"]
    # The whole draft thrown away: r4 stays taken.
    assert confirmed(merch, DISCARD, _draft_bar_form(merch, DISCARD)).status_code == 302
    assert draft_ids() == []
    assert _add_rule(merch, type="never", product=shop["lunchbox"].sku)[0] == 302
    assert draft_ids() == ["r1", "r2", "r5"]


def test_preview_serves_a_customer_who_switched_personalization_off_as_the_shop_does(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    shopper = trained[4]
    shopper_client = app.test_client()
    sign_in(shopper_client, shopper.email, factories.PASSWORD)
    personal = merch.get(f"/console/recommendations/preview?shopper={shopper.email}")
    assert _ids(personal.get_data(as_text=True), "preview-live-buy_again")

    token = csrf_token(shopper_client, "/account")
    assert shopper_client.post("/account/tracking", data={"csrf_token": token}).status_code == 302
    preview = merch.get(f"/console/recommendations/preview?shopper={shopper.email}")
    html = preview.get_data(as_text=True)
    assert "switched personalization off: popular lists only" in html
    served = _storefront_home_ids(shopper_client.get("/").get_data(as_text=True))
    assert _ids(html, "preview-live-home") == served
    assert 'data-testid="preview-live-buy_again"' not in html or not _ids(
        html, "preview-live-buy_again"
    )


def test_a_rule_form_sent_twice_adds_the_rule_once_and_says_so_calmly(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    page = merch.get(RULES).get_data(as_text=True)
    assert re.search(r'<form[^>]*data-testid="rule-form"[^>]*data-once', page)
    boost = {
        "type": "boost",
        "placements": ["home", "cart"],
        "product": shop["jumbo"].sku,
        "factor": "2",
        "starts_at": "2026-11-24T10:00",
        "note": "Christmas",
    }
    assert _add_rule(merch, **boost)[0] == 302
    again = merch.post(RULES, data={"csrf_token": console_token(merch, RULES), **boost})
    assert again.status_code == 302 and again.headers["Location"] == RULES
    shown = merch.get(RULES).get_data(as_text=True)
    assert "Already in the draft: boost x2 product" in shown
    assert "Nothing more was added." in shown and "That repeats" not in shown
    assert re.findall(r"<tr><td>(r\d)</td>", shown) == ["r1"]
    # A rule that only differs (here: the factor) is still refused as a repeat.
    status, page = _add_rule(merch, **{**boost, "factor": "3"})
    assert status == 400 and "That repeats boost x2 product" in page


def test_rule_dates_take_a_space_or_a_t_and_say_the_format(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    merch = client_as(app, session, "merchandiser")
    heart = shop["heart"].sku
    status, _ = _add_rule(
        merch,
        type="exclude",
        product=heart,
        starts_at="2026-11-24 10:00",
        ends_at="2026-12-01T09:30",
    )
    assert status == 302
    session.rollback()
    [rule] = editing_rules(session)
    assert (rule.starts_at, rule.ends_at) == (
        datetime(2026, 11, 24, 10),
        datetime(2026, 12, 1, 9, 30),
    )
    status, page = _add_rule(merch, type="exclude", product=heart, ends_at="24/11/2026 10:00")
    assert status == 400
    assert "Enter a date and time as YYYY-MM-DD HH:MM, such as 2026-11-24 10:00." in page
    assert "Not a valid datetime value" not in page


def test_rules_that_ended_or_have_not_started_are_marked(
    app: Flask, session: Session, shop: dict[str, Product]
) -> None:
    from shop.console import audit
    from shop.merchandising import revisions

    heart, jumbo = shop["heart"].id, shop["jumbo"].id
    ended = {"id": "r1", "type": "exclude", "product_id": heart, "ends_at": "2001-01-01T00:00:00"}
    later = {"id": "r2", "type": "exclude", "product_id": jumbo, "starts_at": "2999-01-01T00:00:00"}
    revisions.save_draft(
        session, audit.CLI_ACTOR, {"rules": [ended, later]}, "merch.rule.add", "rules"
    )
    session.commit()
    merch = client_as(app, session, "merchandiser")
    page = merch.get(RULES).get_data(as_text=True)
    rows = re.findall(r"<tr><td>(r\d)</td>.*?</tr>", page, re.S)
    assert rows[:2] == ["r1", "r2"]
    assert page.count('data-testid="rule-ended"') == 1 and "not started" in page


def _settings_page_form(client: FlaskClient) -> dict[str, str]:
    """The settings form as the page filled it in (opened fingerprint included)."""
    page = client.get("/console/recommendations/").get_data(as_text=True)
    form = re.search(r'data-testid="settings-form".*?</form>', page, re.S)
    assert form
    values: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name = re.search(r'name="(\w+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="(\w+)"', tag)
        if not name or (kind and kind.group(1) == "checkbox" and "checked" not in tag):
            continue
        values[name.group(1)] = value.group(1) if value else "y"
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


def test_a_stale_settings_form_or_publish_button_does_not_undo_a_colleagues_change(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    first = client_as(app, session, "merchandiser")
    second = client_as(app, session, "admin")
    opened_by_first = _settings_page_form(first)
    assert opened_by_first["opened"]
    seconds = {**_settings_page_form(second), "size_home": "3"}
    assert second.post("/console/recommendations/", data=seconds).status_code == 302

    mine = {**opened_by_first, "weight_view": "2"}
    stale = first.post("/console/recommendations/", data=mine)
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Someone saved other settings in the draft after you opened this page." in page
    assert _settings_page_form(first)["size_home"] == "3"
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None
    assert draft.data["placements"]["home"]["size"] == 3
    assert draft.data["training"]["weighting"]["kind_weights"]["view"] != 2

    # A publish button on a page opened before the draft last changed publishes nothing.
    bar = first.get(RULES).get_data(as_text=True)
    opened = re.search(r'name="opened" value="([0-9a-f]+)"', bar)
    assert opened
    assert _add_rule(second, type="never", product=shop["heart"].sku)[0] == 302
    token = console_token(first, RULES)
    response = first.post(
        "/console/recommendations/publish",
        data={"csrf_token": token, "opened": opened.group(1), "back": RULES, "confirm": "1"},
    )
    assert response.status_code == 302
    assert "The draft changed after you opened this page" in first.get(RULES).get_data(True)
    session.rollback()
    assert session.scalar(select(MerchRevision).where(MerchRevision.state == "published")) is None


def test_a_pin_past_the_end_of_its_list_is_refused_and_a_list_not_shortened_under_a_pin(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    heart = shop["heart"]
    status, page = _add_rule(merch, type="pin", placements=["order"], product=heart.sku, position=5)
    assert status == 400
    assert "Position 5 is past the end of the list (order shows 4)" in page
    # On every placement, a pin counts where the list is long enough (home shows 8).
    assert _add_rule(merch, type="pin", product=heart.sku, position=7)[0] == 302
    status, page = _add_rule(merch, type="pin", placements=["home"], product=heart.sku, position=9)
    assert status == 400 and "That product is already pinned by rule r1" in page

    too_short = {name: "6" for name in ("home", "buy_again")}
    form = {**_settings_page_form(merch), **{f"size_{n}": v for n, v in too_short.items()}}
    refused = merch.post("/console/recommendations/", data=form)
    assert refused.status_code == 400
    assert (
        "Rule r1 pins a product at position 7 of every list: keep one list at least 7 long"
        in refused.get_data(as_text=True)
    )
    session.rollback()
    draft = session.scalar(select(MerchRevision).where(MerchRevision.draft_slot == 1))
    assert draft is not None and "placements" not in draft.data
    form = {**_settings_page_form(merch), "size_home": "7", "size_buy_again": "6"}
    assert merch.post("/console/recommendations/", data=form).status_code == 302


def test_preview_says_why_buy_it_again_skips_a_pin_of_a_product_never_bought(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    shopper = trained[4]  # bought the jumbo bag, the tote and the lunch box, no candles
    heart, lunch, jumbo = shop["heart"], shop["lunch"], shop["jumbo"]
    for position, product in enumerate((heart, lunch, jumbo), start=1):
        status, page = _add_rule(
            merch, type="pin", placements=["buy_again"], product=product.sku, position=position
        )
        assert status == 302, page
    html = merch.get(f"/console/recommendations/preview?shopper={shopper.email}").get_data(
        as_text=True
    )
    assert (
        f"Skipped: pin at 1 product {heart.id} (rule r1): this list only reorders the "
        "shopper&#39;s past purchases, and the product is not among those it ranks"
    ) in html
    # Out of stock: that is the reason given for it.
    assert (
        f"Skipped: pin at 2 product {lunch.id} (rule r2): the product is not on sale "
        "(inactive, out of stock or not launched yet)"
    ) in html
    assert f"pin at 1 product {heart.id} (rule r1): the product is not on sale" not in html
    draft = _ids(html, "preview-draft-buy_again")
    assert heart.id not in draft and draft[2] == jumbo.id  # a past purchase is pinned


def test_activating_the_live_version_again_changes_nothing_and_is_not_audited(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    token = console_token(merch, "/console/recommendations/versions")
    versions = "/console/recommendations/versions"

    def audited() -> list[tuple[str, object, object]]:
        session.rollback()
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("model.%")).order_by(AuditEntry.id)
        )
        return [(row.action, row.before, row.after) for row in rows]

    with app.app_context():
        first = service().store.active()
    assert first
    # Only one version: nothing earlier to go back to, said once.
    page = merch.post(
        f"{versions}/rollback", data={"csrf_token": token, "shown": first}, follow_redirects=True
    )
    text = page.get_data(as_text=True)
    assert "Nothing to roll back to: there is no earlier version still stored." in text
    assert "no earlier version to roll back to" not in text
    again = confirmed(merch, f"{versions}/{first}/activate", {"csrf_token": token}, True)
    text = again.get_data(as_text=True)
    assert f"Version {first} is already live: nothing changed." in text
    assert "is now live" not in text
    assert audited() == []

    with app.app_context():
        second = service().train(db.session)
        assert service().store.active() == second
    switched = confirmed(merch, f"{versions}/{first}/activate", {"csrf_token": token}, True)
    assert f"Version {first} is now live." in switched.get_data(as_text=True)
    confirmed(merch, f"{versions}/{first}/activate", {"csrf_token": token})
    back = confirmed(merch, f"{versions}/rollback", {"csrf_token": token, "shown": first}, True)
    assert f"Rolled back: version {second} is live again." in back.get_data(as_text=True)
    with app.app_context():
        assert service().store.active() == second
    assert audited() == [("model.activate", second, first), ("model.rollback", first, second)]


def test_activating_and_rolling_back_show_which_version_replaces_which_first(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    versions = "/console/recommendations/versions"
    token = console_token(merch, versions)
    with app.app_context():
        first = service().store.active()
        second = service().train(db.session)
    assert first and second

    review = merch.post(f"{versions}/{first}/activate", data={"csrf_token": token, "shown": second})
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert f"Activate model version {first}?" in html
    lines = review_lines(html)
    assert lines[0].startswith(f"Goes live: version {first}, trained by the shop ")
    assert lines[1].startswith(f"It replaces version {second}, trained by the shop ")
    assert lines[2].startswith("Every placement, the e-mails' suggestions")
    assert f"makes version {second} live again" in html
    not_now = merch.post(
        f"{versions}/{first}/activate", data={"csrf_token": token, "shown": second, "edit": "1"}
    )
    assert not_now.headers["Location"] == versions
    with app.app_context():
        assert service().store.active() == second  # nothing happened before confirming

    confirmed(merch, f"{versions}/{first}/activate", {"csrf_token": token, "shown": second})
    with app.app_context():
        assert service().store.active() == first

    # The page showed `second` as live, but `first` is live now: refused before any review.
    stale = merch.post(
        f"{versions}/rollback",
        data={"csrf_token": token, "shown": second},
        follow_redirects=True,
    )
    assert f"Not rolled back: version {first} is live now, not version {second}" in (
        stale.get_data(as_text=True)
    )
    session.rollback()
    arms = [
        VariantSpec("control", "Best sellers", "popularity", 50),
        VariantSpec("older", "Older model", "model", 50, model_version=first),
    ]
    with app.app_context():
        store = service().store
    experiments.create_experiment(session, audit.CLI_ACTOR, "Models", ["home"], arms, store=store)
    session.commit()
    review = merch.post(f"{versions}/rollback", data={"csrf_token": token, "shown": first})
    lines = review_lines(review.get_data(as_text=True))
    assert lines[0].startswith(f"Goes live again: version {second}, trained by the shop ")
    assert lines[1].startswith(f"It replaces version {first}, ")
    assert lines[3] == "1 arm(s) of running A/B tests keep serving their own model version."
    with app.app_context():
        assert service().store.active() == first
    confirmed(merch, f"{versions}/rollback", {"csrf_token": token, "shown": first})
    with app.app_context():
        assert service().store.active() == second


def test_the_versions_page_says_when_the_live_version_cannot_be_served(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    merch = client_as(app, session, "merchandiser")
    versions = "/console/recommendations/versions"
    with app.app_context():
        store = service().store
        live = store.active()
    assert live
    page = merch.get(versions).get_data(as_text=True)
    assert 'data-testid="active-problem"' not in page
    artifact = store.directory / "versions" / live / "model.npz"
    artifact.write_bytes(b"damaged")
    page = merch.get(versions).get_data(as_text=True)
    assert 'data-testid="active-problem"' in page
    assert f"The live version {live} cannot be served: version {live}: artifact checksum " in page
    assert "The shop serves best sellers" in page
    shutil.rmtree(artifact.parent)  # deleted: it is no longer even listed
    page = merch.get(versions).get_data(as_text=True)
    assert f"The live version {live} cannot be served: it is missing." in page
    assert str(store.directory) not in page  # no server paths in the console
