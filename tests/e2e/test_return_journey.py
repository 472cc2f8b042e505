"""Returning items in a real browser: a guest pays by card (localstripe's Stripe.js), the
order is dispatched and delivered, the guest sends the heart back from the order page and
gets the returns address by e-mail; a merchandiser refunds the return in the console when
the parcel arrives, and the guest sees it refunded and gets the refund e-mail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.orders import fulfilment
from shop.orders.models import Order
from tests import factories
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_checkout_journey import (
    EXPRESS_TOTAL,
    HEART,
    add_heart_to_cart,
    choose_express_and_place_order,
    enter_card,
    expect_paid,
    fill_details,
    guest_email,
    pay_button,
)
from tests.e2e.test_loyalty_journey import flash, heading, sign_in
from tests.factories import small_catalogue
from tests.stripe_support import CARD_OK, localstripe_url  # noqa: F401  (a fixture)

MERCHANDISER = "merchandiser@example.com"
# Sending back the only item brings the whole order back, so delivery is refunded too.
REFUND = EXPRESS_TOTAL


def seed_shop(session: Session) -> str:
    small_catalogue(session)
    factories.staff(session, "merchandiser", MERCHANDISER)
    return ""


def dispatch_and_deliver(shop: MailShop, number: str) -> None:
    """Mark the order shipped and delivered, as the warehouse would."""
    with shop.app.app_context(), db.transaction() as tx:
        order = tx.scalars(select(Order).where(Order.number == number)).one()
        fulfilment.ship_order(tx, CheckoutSettings.from_config(shop.app.config), order, "TRK1")
        fulfilment.deliver_order(tx, order)


def delivered_subjects(shop: MailShop, email: str) -> list[str]:
    """Send the outbox and return the subjects the guest has received so far."""
    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    return [str(m["Subject"]) for m in shop.mail_to(email)]


def mail_text(shop: MailShop, email: str, subject: str) -> str:
    """The plain text of the one message with this subject the guest received."""
    (message,) = [m for m in shop.mail_to(email) if str(m["Subject"]) == subject]
    return " ".join(text_body(message).split())


def test_a_guest_returns_a_delivered_item_and_staff_refund_it_on_arrival(
    page: Page, shop: MailShop, browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Pay, get it delivered, send it back from the order page, then a merchandiser
    refunds the return in the console and the guest sees and is told so."""
    email = guest_email()
    add_heart_to_cart(page)
    fill_details(page, email)
    choose_express_and_place_order(page, email)
    enter_card(page, CARD_OK)
    pay_button(page).click()
    number, token = expect_paid(page)
    order_url = f"{shop.url}/orders/{token}"
    return_number = f"{number}-R1"
    expect(page.get_by_test_id("start-return")).to_have_count(0)  # not dispatched yet

    dispatch_and_deliver(shop, number)
    page.reload()
    expect(page.get_by_test_id("order-status")).to_have_text("Delivered")
    page.get_by_role("link", name="Return items…").click()
    expect(page).to_have_url(f"{order_url}/return")
    expect(heading(page)).to_have_text(f"Return items of order {number}")
    page.get_by_label(HEART).select_option("1")
    page.get_by_label("Why are you sending them back?").select_option("I changed my mind")
    page.get_by_role("button", name="Send these back").click()

    expect(page).to_have_url(order_url)
    expect(flash(page).filter(has_text="is recorded")).to_have_text(
        f"Return {return_number} is recorded (1 item). We have e-mailed you how to send it "
        f"back; once it arrives we refund {REFUND} to the card you paid with."
    )
    guest_return = page.get_by_test_id(f"return-{return_number}")
    expect(guest_return.get_by_test_id("return-status")).to_have_text("Waiting for your parcel")
    expect(guest_return).to_contain_text(f"1 \N{MULTIPLICATION SIGN} {HEART}")
    expect(guest_return).to_contain_text("Example Trading Estate")
    # Everything is on this return, so nothing more can be sent back.
    expect(page.get_by_test_id("start-return")).to_have_count(0)

    how_to = f"How to send back items of order {number}"
    assert how_to in delivered_subjects(shop, email)
    instructions = mail_text(shop, email, how_to)
    assert f"Its return number is {return_number}" in instructions
    assert f"1 x {HEART}" in instructions
    assert "Example Trading Estate" in instructions
    assert f"Once it arrives we refund {REFUND}" in instructions

    shot = tmp_path / "staff-failure.png"
    with browser_page(browser, shop.url, request, shot, "the merchandiser's page") as desk:
        sign_in(desk, MERCHANDISER)
        desk.goto("/console/")
        desk.get_by_role("navigation", name="Console").get_by_role(
            "link", name="Returns", exact=True
        ).click()
        expect(desk).to_have_url(f"{shop.url}/console/returns/")
        expect(heading(desk)).to_have_text("Returns")
        awaiting = desk.get_by_test_id("returns-awaiting")
        expect(awaiting).to_contain_text(email)
        awaiting.get_by_role("link", name=return_number, exact=True).click()

        expect(desk).to_have_url(re.compile(r"/console/returns/\d+$"))
        expect(heading(desk)).to_have_text(f"Return {return_number}")
        expect(desk.get_by_test_id("return-status")).to_have_text("Awaiting the parcel")
        expect(desk.get_by_test_id("return-facts")).to_contain_text("I changed my mind")
        expect(desk.get_by_label("Refund (£)")).to_have_value(REFUND.removeprefix("£"))
        restock = desk.get_by_label("Put the items back in stock")
        expect(restock).to_be_checked()  # the paid order took its items out of stock
        desk.get_by_role("button", name="Refund…").click()

        expect(heading(desk)).to_have_text(f"Refund return {return_number}?")
        review = desk.get_by_test_id("review-lines")
        expect(review).to_contain_text(
            f"{REFUND} goes back to the card order {number} was paid with"
        )
        expect(review).to_contain_text(f"Back in stock: 1 \N{MULTIPLICATION SIGN} {HEART}")
        desk.get_by_role("button", name=f"Refund {REFUND}").click()

        expect(desk).to_have_url(re.compile(r"/console/returns/\d+$"))
        expect(flash(desk)).to_have_text(f"Refunded {REFUND}; the customer's e-mail is queued.")
        expect(desk.get_by_test_id("return-status")).to_have_text("Received and refunded")
        expect(desk.get_by_test_id("return-facts")).to_contain_text(
            f"{REFUND}, items back in stock"
        )
        expect(desk.get_by_role("button", name="Refund…")).to_have_count(0)

    page.reload()
    expect(guest_return.get_by_test_id("return-status")).to_have_text("Received and refunded")
    expect(guest_return).to_contain_text(f"We received it and refunded {REFUND}.")
    expect(page.get_by_test_id("order-status")).to_have_text("Refunded")
    expect(guest_return.get_by_role("button", name="Withdraw this return")).to_have_count(0)

    refunded = f"We received your return for order {number} and refunded it"
    assert refunded in delivered_subjects(shop, email)
    body = mail_text(shop, email, refunded)
    assert f"Your return {return_number} has arrived, and we have refunded {REFUND}" in body
    assert f"1 x {HEART}" in body
