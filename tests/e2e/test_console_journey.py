"""The merchandiser console in a real browser: a merchandiser signs in, pins a product to the
home page, previews it for a shopper, publishes, and the shopper sees it first on the home page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import insert
from werkzeug.serving import make_server

from shop import create_app
from shop.config import TestConfig
from shop.db import db, utcnow
from shop.migrate import upgrade
from shop.personalization import service
from shop.tracking.models import Event
from tests import factories
from tests.e2e.conftest import ACTION_TIMEOUT_MS, LiveServer, browser_page
from tests.recommendation_support import catalogue, history

WAIT_MS = ACTION_TIMEOUT_MS
SHOPPER = "ann@example.com"
MERCHANDISER = "merchandiser@example.com"


@dataclass(frozen=True)
class ConsoleShop:
    """The live shop's URL and the product the merchandiser pins."""

    url: str
    pinned_id: int
    pinned_sku: str
    pinned_name: str


@pytest.fixture(scope="module")
def console_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleShop]:
    """A live shop with a model trained on two clusters of buyers (candles, bags), a
    merchandiser, and a shopper who once bought a candle holder."""
    root = tmp_path_factory.mktemp("e2e-console")
    database = root / "shop.sqlite3"
    upgrade(f"sqlite:///{database}")
    config = TestConfig()
    config.DATABASE_URL = f"sqlite:///{database}"
    config.INSTANCE_PATH = root / "instance"
    config.SHOP_DATA_DIR = root / "data"
    app = create_app(config)
    with app.app_context():
        session = db.session
        items = catalogue(session)
        buyers = [factories.user(session, f"buyer{i}@example.com", f"Buyer {i}") for i in range(8)]
        shopper = factories.user(session, SHOPPER, "Ann")
        factories.staff(session, "merchandiser", MERCHANDISER)
        session.commit()
        history(session, items, buyers)
        bought = {
            "kind": "purchase",
            "visitor_id": "import",
            "user_id": shopper.id,
            "product_id": items["heart"].id,
            "order_id": None,
            "quantity": 1,
            "created_at": utcnow() - timedelta(days=2),
        }
        session.execute(insert(Event), [bought])
        session.commit()
        service().train(db.session)
        # A bag for a candle buyer: the model ranks other candles above it.
        pinned = items["lunchbox"]
        pinned_id, pinned_sku, pinned_name = pinned.id, pinned.sku, pinned.name
    live = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
    live.start()
    try:
        yield ConsoleShop(live.url, pinned_id, pinned_sku, pinned_name)
    finally:
        live.stop()
        db.session.remove()
        db.dispose()


@pytest.fixture(scope="module")
def live_server(console_shop: ConsoleShop) -> str:
    """This module's shop, for the conftest's `page` fixture (the merchandiser's browser)."""
    return console_shop.url


@pytest.fixture
def shopper_page(
    browser: Browser, console_shop: ConsoleShop, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A second browser context, with its own cookies, for the shopper."""
    shot = tmp_path / "shopper-failure.png"
    with browser_page(browser, console_shop.url, request, shot, "the shopper's page") as tab:
        yield tab


def sign_in(page: Page, email: str) -> None:
    """Sign in through the storefront's form."""
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("You are signed in.")).to_be_visible(timeout=WAIT_MS)


def preview_for(page: Page, email: str) -> None:
    """Fill in and send the preview form for a shopper."""
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Preview: live and draft", timeout=WAIT_MS
    )
    page.get_by_test_id("preview-form").get_by_label("Shopper").fill(email)
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_role("heading", level=2)).to_contain_text(f"For {email}", timeout=WAIT_MS)


def test_a_pinned_product_is_previewed_published_and_served_first(
    page: Page, shopper_page: Page, console_shop: ConsoleShop
) -> None:
    pinned = console_shop.pinned_id
    pinned_href = re.compile(rf"^/products/{pinned}\?rec=[0-9a-f]{{32}}$")
    badge = f"pin at 1 product {pinned} (rule r1)"

    # The shopper, in their own browser, is not shown the product first today.
    sign_in(shopper_page, SHOPPER)
    shopper_page.goto("/")
    home = shopper_page.get_by_test_id("recs-home")
    expect(home.get_by_role("heading")).to_have_text("Recommended for you", timeout=WAIT_MS)
    expect(home.get_by_role("link").first).to_have_attribute(
        "href", re.compile(r"^/products/\d+\?rec="), timeout=WAIT_MS
    )
    expect(home.get_by_role("link").first).not_to_have_attribute(
        "href", pinned_href, timeout=WAIT_MS
    )

    # The merchandiser signs in, opens the rules page and adds the pin to the draft.
    sign_in(page, MERCHANDISER)
    page.goto("/console/")
    console_nav = page.get_by_role("navigation", name="Console")
    console_nav.get_by_role("link", name="Rules", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/recommendations/rules$"), timeout=WAIT_MS)
    bar = page.get_by_test_id("publish-bar")
    expect(bar).to_contain_text("No unpublished changes", timeout=WAIT_MS)
    form = page.get_by_test_id("rule-form")
    form.get_by_label("Rule", exact=True).select_option("pin")
    form.get_by_role("checkbox", name="home", exact=True).check()
    form.get_by_label("Product (id or SKU)").fill(console_shop.pinned_sku)
    form.get_by_label("Position (pin; 1 = first)").fill("1")
    form.get_by_role("button", name="Add to draft").click()
    expect(page.get_by_text(f"Added to the draft: {badge}.")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("draft-rules")).to_contain_text(badge, timeout=WAIT_MS)
    expect(page.get_by_test_id("live-rules")).to_contain_text("No live rules.", timeout=WAIT_MS)
    expect(bar).to_contain_text("unpublished changes saved", timeout=WAIT_MS)

    # The preview for the shopper: the draft puts the product first, the live list does not.
    bar.get_by_role("link", name="Preview them").click()
    preview_for(page, SHOPPER)
    draft_home = page.get_by_test_id("preview-draft-home")
    live_home = page.get_by_test_id("preview-live-home")
    expect(draft_home.get_by_role("listitem").first).to_have_attribute(
        "data-product-id", str(pinned), timeout=WAIT_MS
    )
    expect(draft_home.get_by_role("listitem").first.get_by_text(badge, exact=True)).to_be_visible(
        timeout=WAIT_MS
    )
    expect(live_home.get_by_role("listitem").first).to_be_visible(timeout=WAIT_MS)
    expect(live_home.get_by_role("listitem").first).not_to_have_attribute(
        "data-product-id", str(pinned), timeout=WAIT_MS
    )
    expect(live_home.get_by_text(badge)).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_test_id("preview-row-home")).to_contain_text(
        "draft differs", timeout=WAIT_MS
    )

    # Publish from the rules page's draft bar.
    console_nav.get_by_role("link", name="Rules", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/recommendations/rules$"), timeout=WAIT_MS)
    bar.get_by_label("Note").fill("Lunch box first on the home page")
    bar.get_by_role("button", name="Publish…", exact=True).click()
    # A page says what publishing changes before anything is live.
    expect(page.get_by_role("heading", name="Publish the draft?")).to_be_visible(timeout=WAIT_MS)
    review = page.get_by_test_id("review-lines")
    expect(review).to_contain_text(f"Rule added: {badge}", timeout=WAIT_MS)
    expect(review).to_contain_text("Note on the revision: Lunch box first", timeout=WAIT_MS)
    page.get_by_test_id("confirm-action").click()
    expect(
        page.get_by_text("Published: the storefront now serves these settings and rules.")
    ).to_be_visible(timeout=WAIT_MS)
    expect(bar).to_contain_text("No unpublished changes", timeout=WAIT_MS)
    expect(page.get_by_test_id("live-rules")).to_contain_text(badge, timeout=WAIT_MS)

    # The preview's live column now matches what the draft showed.
    console_nav.get_by_role("link", name="Preview", exact=True).click()
    preview_for(page, SHOPPER)
    expect(page.get_by_text("There is no draft: both columns show the live state.")).to_be_visible(
        timeout=WAIT_MS
    )
    expect(live_home.get_by_role("listitem").first).to_have_attribute(
        "data-product-id", str(pinned), timeout=WAIT_MS
    )

    # The shopper's home page now shows the pinned product first.
    shopper_page.goto("/")
    expect(home.get_by_role("heading")).to_have_text("Recommended for you", timeout=WAIT_MS)
    first = home.get_by_role("link").first
    expect(first).to_have_attribute("href", pinned_href, timeout=WAIT_MS)
    expect(first).to_have_text(console_shop.pinned_name, timeout=WAIT_MS)
