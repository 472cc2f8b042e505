"""Back-in-stock alerts in a real browser: a visitor signs in from a sold-out product's page
and asks to be e-mailed; a merchandiser sees who waits and restocks the product in the
console; the sender e-mails the shopper once, through an SMTP server, with a link to a
product that can be bought again; a shopper stops waiting from their account with the
keyboard alone; and the alert form fits a phone."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product, StockAlert
from shop.db import db, utcnow
from tests import factories
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_keyboard_journey import tab_to
from tests.e2e.test_loyalty_journey import flash, heading
from tests.e2e.test_mobile_layout import expect_fits, expect_target, on_phone
from tests.factories import small_catalogue
from tests.stripe_support import localstripe_url  # noqa: F401  (a fixture)

# Sold out in the small catalogue.
LUNCH_BAG = "Lunch Bag Red Retrospot"
PAPER_CHAIN = "Paper Chain Kit Vintage Christmas"
PAPER_CHAIN_SKU = "22086"
GARLAND = "Wooden Star Garland"
GLASS_STAR = "Frosted Glass Star T-Light Holder"
RESTOCKED = 12  # more than 10, so the page says plain "In stock"

SHOPPER = "nora@example.com"  # asks on the product page
WAITER = "bea@example.com"  # waits for the paper chain kit and the garland
STOPPER = "cai@example.com"  # waits for the garland and the glass star, stops one
PHONE_SHOPPER = "dee@example.com"
MERCHANDISER = "merchandiser@example.com"

ASK = "E-mail me when it is back"
DONT = "Don't e-mail me"


def seed_shop(session: Session) -> str:
    items = small_catalogue(session)
    candles = items["heart"].category
    chain = factories.product(
        session, candles, sku=PAPER_CHAIN_SKU, name=PAPER_CHAIN, price=295, stock=0
    )
    garland = factories.product(session, candles, sku="STAR1", name=GARLAND, price=425, stock=0)
    glass = factories.product(session, candles, sku="21733", name=GLASS_STAR, price=375, stock=0)
    for email, name in [(SHOPPER, "Nora"), (PHONE_SHOPPER, "Dee")]:
        factories.user(session, email, name)
    bea = factories.user(session, WAITER, "Bea")
    cai = factories.user(session, STOPPER, "Cai")
    factories.staff(session, "merchandiser", MERCHANDISER)
    asked = utcnow() - timedelta(days=3)
    session.add_all(
        [
            StockAlert(user_id=bea.id, product_id=chain.id, created_at=asked),
            StockAlert(user_id=bea.id, product_id=garland.id, created_at=asked),
            StockAlert(user_id=cai.id, product_id=garland.id, created_at=asked),
            StockAlert(user_id=cai.id, product_id=glass.id, created_at=asked + timedelta(days=1)),
        ]
    )
    session.commit()
    return SHOPPER


def sign_in_form(page: Page, email: str) -> None:
    """Fill in and send the sign-in form the page shows."""
    expect(heading(page)).to_have_text("Sign in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()


def sign_in(page: Page, email: str) -> None:
    """Sign in through the login page."""
    page.goto("/account/login")
    sign_in_form(page, email)
    expect(flash(page)).to_have_text("You are signed in.")


def product_path(shop: MailShop, name: str) -> str:
    """The shop's address of a product."""
    with shop.app.app_context():
        product_id = db.session.scalars(select(Product.id).where(Product.name == name)).one()
    return f"/products/{product_id}"


def waiting_for(shop: MailShop, email: str) -> list[str]:
    """The names of the products a shopper has an alert for, from the database."""
    with shop.app.app_context():
        names = db.session.scalars(
            select(Product.name)
            .join(StockAlert, StockAlert.product_id == Product.id)
            .join(User, User.id == StockAlert.user_id)
            .where(User.email == email)
            .order_by(Product.name)
        )
        return list(names)


def open_in_console(page: Page, sku: str, name: str) -> None:
    """Find a product by its SKU in the console's list and open its page."""
    page.goto("/console/products/")
    expect(heading(page)).to_have_text("Products")
    page.get_by_label("Name or SKU").fill(sku)
    page.get_by_role("button", name="Filter").click()
    page.get_by_test_id("products-table").get_by_role("link", name=sku).click()
    expect(heading(page)).to_have_text(f"{sku}: {name}")


def restock(page: Page, sku: str, quantity: int) -> None:
    """On a sold-out product's console page, set its stock and save."""
    stock = page.get_by_label("Stock", exact=True)
    expect(stock).to_have_value("0")
    stock.fill(str(quantity))
    page.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text(f"Saved {sku}.")
    expect(stock).to_have_value(str(quantity))


def add_from_email_link(page: Page, shop: MailShop, link: str, name: str) -> None:
    """Open a back-in-stock e-mail's product link: the product is in stock, offers no alert,
    and goes into the cart."""
    page.goto(link)
    expect(heading(page)).to_have_text(name)
    expect(page.get_by_text("In stock", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stock-alert")).to_have_count(0)
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(f"{shop.url}/cart")


def send_stock_alerts(shop: MailShop) -> str:
    """Run `flask catalog send-stock-alerts`; its output."""
    result = shop.app.test_cli_runner().invoke(args=["catalog", "send-stock-alerts"])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_visitor_signs_in_from_a_sold_out_product_and_asks_for_an_email(
    page: Page, shop: MailShop
) -> None:
    """A visitor is offered an alert by e-mail address, or a sign-in link that comes back
    to the product, where the signed-in shopper asks to be e-mailed; the page then offers
    to cancel, after a reload too, and cancelling offers to ask again."""
    path = product_path(shop, LUNCH_BAG)
    page.goto(path)
    expect(heading(page)).to_have_text(LUNCH_BAG)
    expect(page.get_by_text("Out of stock", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)
    alert = page.get_by_test_id("stock-alert")
    expect(alert.get_by_label("Your e-mail address")).to_be_visible()
    expect(alert).to_contain_text("We will send a link to confirm it first. Or sign in.")

    alert.get_by_role("link", name="sign in").click()
    sign_in_form(page, shop.email)
    expect(page).to_have_url(f"{shop.url}{path}")
    expect(heading(page)).to_have_text(LUNCH_BAG)
    expect(flash(page)).to_have_text("You are signed in.")
    assert waiting_for(shop, shop.email) == []

    page.get_by_role("button", name=ASK).click()
    expect(page).to_have_url(f"{shop.url}{path}")
    expect(flash(page)).to_have_text(
        f"We will e-mail you at {shop.email} when {LUNCH_BAG} is back in stock."
    )
    expect(page.get_by_role("button", name=ASK)).to_have_count(0)
    expect(alert.get_by_role("button", name=DONT)).to_be_visible()
    expect(alert).to_contain_text(f"We will e-mail you at {shop.email} when it is back in stock.")
    assert waiting_for(shop, shop.email) == [LUNCH_BAG]

    page.reload()
    expect(heading(page)).to_have_text(LUNCH_BAG)
    expect(flash(page)).to_have_count(0)
    expect(alert.get_by_role("button", name=DONT)).to_be_visible()
    expect(page.get_by_role("button", name=ASK)).to_have_count(0)

    alert.get_by_role("button", name=DONT).click()
    expect(page).to_have_url(f"{shop.url}{path}")
    expect(flash(page)).to_have_text("We will not e-mail you about it.")
    expect(page.get_by_role("button", name=ASK)).to_be_visible()
    expect(page.get_by_role("button", name=DONT)).to_have_count(0)
    assert waiting_for(shop, shop.email) == []


def test_a_restocked_product_is_emailed_once_to_the_shopper_waiting_for_it(
    page: Page, shop: MailShop, browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The merchandiser sees one shopper waiting and raises the stock in the console; the
    sender e-mails that shopper once, with a link to the product, which can be put in the
    cart; a second run sends nothing."""
    path = product_path(shop, PAPER_CHAIN)
    shot = tmp_path / "shopper-failure.png"
    with browser_page(browser, shop.url, request, shot, "the shopper's page") as shopper:
        sign_in(shopper, WAITER)
        shopper.goto(path)
        expect(shopper.get_by_test_id("stock-alert")).to_contain_text(
            f"We will e-mail you at {WAITER} when it is back in stock."
        )

        sign_in(page, MERCHANDISER)
        open_in_console(page, PAPER_CHAIN_SKU, PAPER_CHAIN)
        waiting = page.get_by_test_id("stock-alert-count")
        expect(waiting).to_contain_text("1 shopper is waiting for it to be back in stock.")
        restock(page, PAPER_CHAIN_SKU, RESTOCKED)
        # Nobody is e-mailed before the sender runs.
        expect(waiting).to_contain_text("1 shopper is waiting for it to be back in stock.")
        shop.deliver_mail()
        assert shop.mail_to(WAITER) == []

        assert send_stock_alerts(shop) == "1 back-in-stock e-mail queued for 1 alert\n"
        report = shop.deliver_mail()
        assert report.failed == 0 and report.retrying == 0, report.errors
        messages = shop.mail_to(WAITER)
        assert [str(m["Subject"]) for m in messages] == [f"Back in stock: {PAPER_CHAIN}"]
        body = text_body(messages[0])
        assert "Hello Bea," in body
        assert f"- {PAPER_CHAIN} (£2.95)" in body
        assert GARLAND not in body  # still sold out: she keeps waiting for it
        links = re.findall(rf"{re.escape(shop.url)}/products/\d+", body)
        assert links == [f"{shop.url}{path}"], body
        assert waiting_for(shop, WAITER) == [GARLAND]

        page.reload()
        expect(heading(page)).to_have_text(f"{PAPER_CHAIN_SKU}: {PAPER_CHAIN}")
        expect(waiting).to_have_count(0)

        add_from_email_link(shopper, shop, links[0], PAPER_CHAIN)
        expect(shopper.get_by_test_id("cart-count")).to_have_text("1")
        lines = shopper.get_by_test_id("cart-line")
        expect(lines).to_have_count(1)
        expect(lines).to_contain_text(PAPER_CHAIN)

    assert send_stock_alerts(shop) == "0 back-in-stock e-mails queued for 0 alerts\n"
    report = shop.deliver_mail()
    assert report.sent == 0 and report.failed == 0, report.errors
    assert len(shop.mail_to(WAITER)) == 1


def test_a_shopper_stops_waiting_from_the_account_with_the_keyboard(
    page: Page, shop: MailShop
) -> None:
    """From the account page, Tab and Enter alone open the alerts and stop one of two."""
    sign_in(page, STOPPER)
    page.goto("/account")
    expect(heading(page)).to_have_text("My account")
    tab_to(page, page.get_by_role("link", name="Back-in-stock alerts"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Back-in-stock alerts")
    expect(page).to_have_url(f"{shop.url}/account/stock-alerts")
    alerts = page.get_by_test_id("stock-alerts").get_by_test_id("stock-alert")
    expect(alerts).to_have_count(2)
    expect(alerts.nth(0)).to_contain_text(GLASS_STAR)  # newest first
    expect(alerts.nth(1)).to_contain_text(GARLAND)
    expect(alerts.nth(1)).to_contain_text("out of stock, asked")

    tab_to(page, page.get_by_role("button", name=f"Stop waiting for {GARLAND}"))
    page.keyboard.press("Enter")
    expect(flash(page)).to_have_text("We will not e-mail you about it.")
    expect(heading(page)).to_have_text("Back-in-stock alerts")
    expect(alerts).to_have_count(1)
    expect(alerts).to_contain_text(GLASS_STAR)
    expect(page.get_by_role("button", name=f"Stop waiting for {GARLAND}")).to_have_count(0)
    assert waiting_for(shop, STOPPER) == [GLASS_STAR]


def test_the_alert_form_fits_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the sold-out product's page, for a visitor and for a signed-in shopper
    before and after asking, and the account's list, do not scroll sideways, and the
    buttons are 44 px targets."""
    path = product_path(shop, LUNCH_BAG)
    on_phone(page).goto(path)
    expect(heading(page)).to_have_text(LUNCH_BAG)
    expect_fits(page)
    expect(page.get_by_test_id("stock-alert").get_by_role("link", name="Sign in")).to_be_visible()

    sign_in(page, PHONE_SHOPPER)
    page.goto(path)
    ask = page.get_by_role("button", name=ASK)
    expect_fits(page)
    expect_target(ask)
    ask.click()
    expect(flash(page)).to_contain_text(f"We will e-mail you at {PHONE_SHOPPER}")
    expect_target(page.get_by_role("button", name=DONT))
    expect_fits(page)
    page.goto("/account/stock-alerts")
    expect_fits(page)
    expect_target(page.get_by_role("button", name=f"Stop waiting for {LUNCH_BAG}"))
