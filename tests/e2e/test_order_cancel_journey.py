"""Cancelling a paid order in a real browser: a guest pays by card (localstripe's Stripe.js),
cancels from the order page with a reason, and gets the refund and its e-mail."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_checkout_journey import (
    EXPRESS_TOTAL,
    add_heart_to_cart,
    choose_express_and_place_order,
    enter_card,
    expect_paid,
    fill_details,
    guest_email,
    pay_button,
    seed_shop,  # noqa: F401  (the live server seeds its shop with it)
)
from tests.stripe_support import CARD_OK, localstripe_url  # noqa: F401  (a fixture)


def test_a_guest_cancels_a_paid_order_before_it_ships(page: Page, shop: MailShop) -> None:
    """Pay, open "Cancel this order…", read what happens, give a reason, confirm."""
    email = guest_email()
    add_heart_to_cart(page)
    fill_details(page, email)
    choose_express_and_place_order(page, email)
    enter_card(page, CARD_OK)
    pay_button(page).click()
    number, token = expect_paid(page)

    page.get_by_role("link", name="Cancel this order…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel order {number}?")
    expect(page.get_by_test_id("cancel-terms")).to_contain_text(f"we refund {EXPRESS_TOTAL}")
    page.get_by_label("Why are you cancelling? (optional)").select_option("I changed my mind")
    page.get_by_role("button", name="Cancel the order").click()

    expect(page).to_have_url(f"{shop.url}/orders/{token}")
    expect(page.get_by_role("status").filter(has_text="is cancelled")).to_contain_text(
        f"Order {number} is cancelled. We have refunded {EXPRESS_TOTAL} to the card you paid with"
    )
    expect(page.get_by_test_id("order-status")).to_have_text("Refunded")
    expect(page.get_by_text("Cancelled at your request before dispatch")).to_be_visible()
    expect(page.get_by_test_id("cancel-offer")).to_have_count(0)

    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    subjects = [str(m["Subject"]) for m in shop.mail_to(email)]
    assert f"Your order {number} is cancelled and refunded" in subjects
    cancelled = next(m for m in shop.mail_to(email) if "cancelled" in str(m["Subject"]))
    assert f"refunded {EXPRESS_TOTAL} to the card you paid with" in text_body(cancelled)
