"""Back-in-stock alerts for visitors in a real browser: a visitor who is not signed in gives
an e-mail address on a sold-out product's page, gets one confirmation e-mail over SMTP,
confirms from its link (opening it confirms nothing), and once a merchandiser restocks the
product in the console the job e-mails that address once; the same link cancels the
alert; a bad address is corrected with the keyboard alone; and the pages fit a phone."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import GuestStockAlert, Product
from shop.db import db
from tests import factories
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_keyboard_journey import back_to_field_and_clear, enter_and_status, tab_to
from tests.e2e.test_loyalty_journey import flash, heading
from tests.e2e.test_mobile_layout import expect_fits, expect_target, on_phone
from tests.e2e.test_stock_alert_journey import (
    ASK,
    RESTOCKED,
    add_from_email_link,
    open_in_console,
    product_path,
    restock,
    send_stock_alerts,
    sign_in,
)
from tests.factories import small_catalogue
from tests.stripe_support import localstripe_url  # noqa: F401  (a fixture)

# Sold out, one per journey so that the journeys do not depend on each other's order.
JUG = "Enamel Flower Jug Cream"
JUG_SKU = "22969"
DOORMAT = "Doormat Union Flag"
CAKE_CASES = "Pack of 72 Retrospot Cake Cases"
BUNTING = "Spotty Bunting"

VISITOR = "iris@example.com"  # confirms, and is e-mailed when the jug is back
IDLER = "ike@example.com"  # asks for the jug too, never confirms
MERCHANDISER = "merchandiser@example.com"

CONFIRM = "Confirm"
DECLINE = "No, don't e-mail me"
CANCEL = "Cancel the alert"
LINK_ERROR = "This link cannot be used"
ADDRESS = "Your e-mail address"


def seed_shop(session: Session) -> str:
    items = small_catalogue(session)
    candles = items["heart"].category
    for sku, name in [
        (JUG_SKU, JUG),
        ("48187", DOORMAT),
        ("21212", CAKE_CASES),
        ("47590", BUNTING),
    ]:
        factories.product(session, candles, sku=sku, name=name, price=425, stock=0)
    factories.staff(session, "merchandiser", MERCHANDISER)
    session.commit()
    return ""


def guest_alerts(shop: MailShop, email: str) -> list[tuple[str, bool]]:
    """The products an address has an alert for, each with whether it is confirmed."""
    with shop.app.app_context():
        rows = db.session.execute(
            select(Product.name, GuestStockAlert.confirmed_at)
            .join(GuestStockAlert, GuestStockAlert.product_id == Product.id)
            .where(GuestStockAlert.email == email)
            .order_by(Product.name)
        )
        return [(name, confirmed is not None) for name, confirmed in rows]


def subject_of(message: EmailMessage) -> str:
    """A message's subject, unfolded (a long one arrives folded onto a second line)."""
    return " ".join(str(message["Subject"]).split())


def mails(shop: MailShop, email: str, subject: str) -> list[str]:
    """Deliver the outbox over SMTP; the plain-text bodies of the messages received for
    an address with this subject."""
    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    return [text_body(m) for m in shop.mail_to(email) if subject_of(m) == subject]


def confirmation_link(shop: MailShop, email: str, product: str) -> str:
    """The link of the one confirmation e-mail an address received for a product."""
    bodies = mails(shop, email, f"Confirm your back-in-stock alert for {product}")
    assert len(bodies) == 1, bodies
    links = re.findall(rf"{re.escape(shop.url)}/stock-alerts/[A-Za-z0-9_-]+", bodies[0])
    assert len(links) == 1, bodies[0]
    return links[0]


def ask_by_email(page: Page, shop: MailShop, product: str, email: str) -> None:
    """As a visitor on a sold-out product's page, ask to be e-mailed at an address."""
    path = product_path(shop, product)
    page.goto(path)
    expect(heading(page)).to_have_text(product)
    expect(page.get_by_text("Out of stock", exact=True)).to_be_visible()
    alert = page.get_by_test_id("stock-alert")
    alert.get_by_label(ADDRESS).fill(email)
    alert.get_by_role("button", name=ASK).click()
    expect(page).to_have_url(f"{shop.url}{path}")
    expect(flash(page)).to_have_text(
        f"Check your inbox at {email}: open the link we sent to confirm the alert for "
        f"{product}. (If you confirmed it already, there is nothing more to do.)"
    )


def expect_link_gone(page: Page, link: str) -> None:
    """The link opens the 404 page saying it cannot be used."""
    response = page.goto(link)
    assert response is not None and response.status == 404
    expect(heading(page)).to_have_text(LINK_ERROR)
    expect(page.get_by_test_id("link-error")).to_contain_text("This link is not valid any more")
    expect(page.get_by_role("button", name=CONFIRM)).to_have_count(0)


def test_a_visitor_confirms_from_the_email_and_is_told_once_when_it_is_back(
    page: Page, shop: MailShop, browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """One confirmation e-mail however often the visitor asks; opening its link confirms
    nothing until "Confirm" is pressed; the console counts only confirmed visitors; after
    the restock the job e-mails the confirmed address once, with a link to a product that
    can be bought, and not the address that never confirmed; a second run sends nothing."""
    path = product_path(shop, JUG)
    with browser_page(browser, shop.url, request, tmp_path / "idler.png", "the idler") as idler:
        ask_by_email(idler, shop, JUG, IDLER)
    ask_by_email(page, shop, JUG, VISITOR)
    assert guest_alerts(shop, VISITOR) == [(JUG, False)]
    link = confirmation_link(shop, VISITOR, JUG)
    confirmation = mails(shop, VISITOR, f"Confirm your back-in-stock alert for {JUG}")[0]
    assert JUG in confirmation and 'press "Confirm"' in " ".join(confirmation.split())

    # Asking again straight away sends no second e-mail.
    ask_by_email(page, shop, JUG, VISITOR)
    assert confirmation_link(shop, VISITOR, JUG) == link
    assert guest_alerts(shop, VISITOR) == [(JUG, False)]

    with browser_page(browser, shop.url, request, tmp_path / "console.png", "the console") as desk:
        sign_in(desk, MERCHANDISER)
        open_in_console(desk, JUG_SKU, JUG)
        waiting = desk.get_by_test_id("stock-alert-count")
        expect(waiting).to_have_count(0)  # nobody has confirmed yet

        response = page.goto(link)
        assert response is not None and response.status == 200
        expect(heading(page)).to_have_text("Confirm your back-in-stock alert")
        card = page.get_by_test_id("guest-stock-alert")
        expect(card).to_contain_text(f"E-mail {VISITOR} once, when {JUG} is back in stock?")
        expect(card.get_by_role("button", name=DECLINE)).to_be_visible()
        assert guest_alerts(shop, VISITOR) == [(JUG, False)]  # opening it confirms nothing

        card.get_by_role("button", name=CONFIRM).click()
        expect(heading(page)).to_have_text("Alert confirmed")
        expect(card).to_contain_text(f"We will e-mail {VISITOR} once, when {JUG} is back")
        expect(card.get_by_role("button", name=CONFIRM)).to_have_count(0)
        expect(card.get_by_role("button", name=CANCEL)).to_be_visible()
        assert guest_alerts(shop, VISITOR) == [(JUG, True)]
        assert guest_alerts(shop, IDLER) == [(JUG, False)]

        desk.reload()
        expect(waiting).to_contain_text("1 shopper is waiting for it to be back in stock.")
        restock(desk, JUG_SKU, RESTOCKED)
        assert mails(shop, VISITOR, f"Back in stock: {JUG}") == []  # not before the job runs

        assert send_stock_alerts(shop) == "1 back-in-stock e-mail queued for 1 alert\n"
        [body] = mails(shop, VISITOR, f"Back in stock: {JUG}")
        assert body.splitlines()[0] == "Hello,", body  # no name: a visitor
        assert f"- {JUG} (£4.25)" in body
        links = re.findall(rf"{re.escape(shop.url)}/products/\d+", body)
        assert links == [f"{shop.url}{path}"], body
        assert len(shop.mail_to(VISITOR)) == 2  # the confirmation and this one
        assert [subject_of(m) for m in shop.mail_to(IDLER)] == [
            f"Confirm your back-in-stock alert for {JUG}"
        ]
        assert guest_alerts(shop, VISITOR) == []
        assert guest_alerts(shop, IDLER) == [(JUG, False)]

        desk.reload()
        expect(heading(desk)).to_have_text(f"{JUG_SKU}: {JUG}")
        expect(waiting).to_have_count(0)

    add_from_email_link(page, shop, links[0], JUG)
    expect(page.get_by_test_id("cart-line")).to_contain_text(JUG)

    assert send_stock_alerts(shop) == "0 back-in-stock e-mails queued for 0 alerts\n"
    report = shop.deliver_mail()
    assert report.sent == 0 and report.failed == 0, report.errors
    assert len(shop.mail_to(VISITOR)) == 2
    assert len(shop.mail_to(IDLER)) == 1
    expect_link_gone(page, link)  # the alert went with its e-mail


@pytest.mark.parametrize(
    ("email", "confirm_first", "button"),
    [("una@example.com", False, DECLINE), ("uli@example.com", True, CANCEL)],
    ids=["declined-unconfirmed", "cancelled-confirmed"],
)
def test_the_link_cancels_the_alert_and_then_cannot_be_used(
    page: Page, shop: MailShop, email: str, confirm_first: bool, button: str
) -> None:
    """The e-mailed link's "No, don't e-mail me" (before confirming) or "Cancel the alert"
    (after) deletes the alert; the link then opens a 404 page saying it cannot be used."""
    ask_by_email(page, shop, DOORMAT, email)
    link = confirmation_link(shop, email, DOORMAT)
    page.goto(link)
    card = page.get_by_test_id("guest-stock-alert")
    if confirm_first:
        card.get_by_role("button", name=CONFIRM).click()
        expect(heading(page)).to_have_text("Alert confirmed")
        assert guest_alerts(shop, email) == [(DOORMAT, True)]
        page.goto(link)  # opened again, later
        expect(heading(page)).to_have_text("Your back-in-stock alert")
    else:
        expect(heading(page)).to_have_text("Confirm your back-in-stock alert")
        expect(card.get_by_role("button", name=CANCEL)).to_have_count(0)
    assert len(guest_alerts(shop, email)) == 1

    card.get_by_role("button", name=button).click()
    expect(heading(page)).to_have_text("Alert cancelled")
    expect(page.get_by_test_id("guest-stock-alert")).to_contain_text(
        f"We will not e-mail you about {DOORMAT}"
    )
    assert guest_alerts(shop, email) == []

    expect_link_gone(page, link)
    assert guest_alerts(shop, email) == []


def send_with_enter(page: Page) -> int:
    """Press Enter in the focused field of the e-mail form; the answer's status."""
    return enter_and_status(page, re.compile(r"/stock-alert/email$"))


def expect_address_error(page: Page, message: str) -> None:
    """The form came back with the summary and the field's own error, the focus on the
    field; the summary's link, reached with Shift+Tab, leads back to it, emptied."""
    field = page.get_by_label(ADDRESS)
    summary = page.get_by_test_id("error-summary")
    expect(heading(page)).to_have_text("E-mail me when it is back")
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_contain_text("Please correct this field:")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(message)
    expect(page.locator(".field-error")).to_have_text(message)
    back_to_field_and_clear(page, summary.get_by_role("link", name=ADDRESS), field)


def test_a_bad_address_is_corrected_with_the_keyboard_only(page: Page, shop: MailShop) -> None:
    """Sent empty, then with no address in it, the form comes back (400) with the error
    summary and the field's error; once corrected, it is sent: Tab, Enter and typing only."""
    email = "kit@example.com"
    path = product_path(shop, CAKE_CASES)
    page.goto(path)
    expect(heading(page)).to_have_text(CAKE_CASES)
    tab_to(page, page.get_by_test_id("stock-alert").get_by_label(ADDRESS))
    assert send_with_enter(page) == 400
    expect_address_error(page, "Please enter your e-mail address.")

    page.keyboard.type("not an address")
    assert send_with_enter(page) == 400
    expect_address_error(page, "That doesn't look like an e-mail address.")
    assert guest_alerts(shop, email) == []

    page.keyboard.type(email)
    tab_to(page, page.get_by_role("button", name=ASK))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{shop.url}{path}")
    expect(flash(page)).to_contain_text(f"Check your inbox at {email}")
    expect(page.get_by_test_id("error-summary")).to_have_count(0)
    assert guest_alerts(shop, email) == [(CAKE_CASES, False)]
    confirmation_link(shop, email, CAKE_CASES)


def test_the_form_and_the_link_pages_fit_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the sold-out product's form, the form sent back with an error, and the
    link's page before and after confirming do not scroll sideways, and their buttons are
    44 px targets."""
    email = "pip@example.com"
    path = product_path(shop, BUNTING)
    on_phone(page).goto(path)
    expect(heading(page)).to_have_text(BUNTING)
    alert = page.get_by_test_id("stock-alert")
    expect_fits(page)
    expect_target(alert.get_by_role("button", name=ASK))

    alert.get_by_role("button", name=ASK).click()  # no address
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    expect_fits(page)
    expect_target(page.get_by_role("button", name=ASK))

    ask_by_email(page, shop, BUNTING, email)
    expect_fits(page)
    page.goto(confirmation_link(shop, email, BUNTING))
    expect(heading(page)).to_have_text("Confirm your back-in-stock alert")
    expect_fits(page)
    expect_target(page.get_by_role("button", name=CONFIRM))
    expect_target(page.get_by_role("button", name=DECLINE))

    page.get_by_role("button", name=CONFIRM).click()
    expect(heading(page)).to_have_text("Alert confirmed")
    expect_fits(page)
    expect_target(page.get_by_role("button", name=CANCEL))
    assert guest_alerts(shop, email) == [(BUNTING, True)]
