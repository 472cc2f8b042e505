"""Recommendations in a real browser: a shopper's clicks change the home page at once, each
item shows its reason, and a click from a list carries the list's id into the cart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import insert, select
from werkzeug.serving import make_server

from shop import create_app
from shop.config import TestConfig
from shop.db import db, utcnow
from shop.migrate import upgrade
from shop.personalization import service
from shop.tracking.models import Event
from tests import factories
from tests.e2e.conftest import LiveServer

BASKETS = [
    ["heart", "lantern"],
    ["heart", "lantern"],
    ["jumbo", "lunch_box"],
    ["jumbo", "lunch_box"],
]


@pytest.fixture(scope="module")
def recs_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """A live shop whose model was trained on a small purchase history."""
    root = tmp_path_factory.mktemp("e2e-recs")
    database = root / "shop.sqlite3"
    upgrade(f"sqlite:///{database}")
    config = TestConfig()
    config.DATABASE_URL = f"sqlite:///{database}"
    config.INSTANCE_PATH = root / "instance"
    app = create_app(config)
    with app.app_context():
        session = db.session
        items = factories.small_catalogue(session)
        bags = items["jumbo"].category
        items["lunch_box"] = factories.product(session, bags, sku="B2", name="Lunch Box Tin")
        users = [factories.user(session, f"r{i}@example.com") for i in range(8)]
        start = utcnow() - timedelta(days=20)
        rows = [
            {
                "kind": "purchase",
                "visitor_id": "import",
                "user_id": user.id,
                "product_id": items[name].id,
                "quantity": 1,
                "created_at": start + timedelta(hours=n),
            }
            for n, user in enumerate(users)
            for name in BASKETS[n % len(BASKETS)]
        ]
        session.execute(insert(Event), rows)
        session.commit()
        service().train(db.session)
    live = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
    live.start()
    try:
        yield app, live.url
    finally:
        live.stop()
        db.session.remove()
        db.dispose()


@pytest.fixture(scope="module")
def live_server(recs_app: tuple[Flask, str]) -> str:
    """This module's shop, for the conftest's `page` fixture."""
    return recs_app[1]


def test_a_click_changes_the_home_page_and_is_attributed(
    page: Page, recs_app: tuple[Flask, str]
) -> None:
    app, _url = recs_app
    page.goto("/")
    home = page.get_by_test_id("recs-home")
    expect(home.get_by_role("heading")).to_have_text("Popular right now")

    page.get_by_role("link", name="Jumbo Bag Red Retrospot").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jumbo Bag Red Retrospot")
    page.goto("/")
    expect(home.get_by_role("heading")).to_have_text("Recommended for you")
    # The first item's reason names the product just viewed: the model's own ("Because you
    # viewed ...") or, where the shoppers who bought it lead, theirs ("... who liked ...").
    expect(home.get_by_test_id("rec-reason").first).to_have_text(
        re.compile(r"^(Because you viewed|\d+ shoppers who liked) Jumbo Bag Red Retrospot")
    )

    home.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/products/\d+\?rec=[0-9a-f]{32}$"))
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    with app.app_context():
        tagged = db.session.scalars(
            select(Event.kind).where(Event.rec_id.is_not(None)).order_by(Event.id)
        ).all()
    assert tagged[-3:] == ["rec_click", "product_view", "cart_add"]
