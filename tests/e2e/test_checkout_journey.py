"""Checkout in a real browser: a guest pays with a card through Stripe.js (localstripe's),
a declined card can be retried, the confirmation e-mail reaches an SMTP server, and the
checkout forms can be used by label and keyboard."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.factories import small_catalogue
from tests.stripe_support import (
    CARD_DECLINED,
    CARD_OK,
    localstripe_url,  # noqa: F401  (a fixture)
)

HEART = "White Hanging Heart T-Light Holder"
# Paying takes several round trips (shop, localstripe, shop, localstripe): allow for a busy box.
PAYMENT_TIMEOUT_MS = 15_000
# One heart holder (£2.95) with express delivery (£7.95).
EXPRESS_TOTAL = "£10.90"
DETAIL_LABELS = (
    "E-mail address",
    "Phone (optional, for the courier)",
    "Full name",
    "Address",
    "Address line 2 (optional)",
    "Town or city",
    "Postcode",
    "Country",
)


def seed_shop(session: Session) -> str:
    small_catalogue(session)
    return ""


def guest_email() -> str:
    """A new guest's e-mail address, so tests sharing the server don't see each other."""
    return f"guest-{uuid.uuid4().hex[:10]}@example.com"


def add_heart_to_cart(page: Page) -> None:
    """Put one heart holder in the cart and go to the details step."""
    page.goto("/c/candles")
    page.get_by_role("main").get_by_role("link", name=HEART).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HEART)
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details")


def fill_details(page: Page, email: str) -> None:
    """Fill the contact and address form by its labels and continue."""
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Phone (optional, for the courier)").fill("01904 000000")
    page.get_by_label("Full name").fill("Grace Guest")
    page.get_by_label("Address", exact=True).fill("1 Market Street")
    page.get_by_label("Address line 2 (optional)").fill("Flat 2")
    page.get_by_label("Town or city").fill("York")
    page.get_by_label("Postcode").fill("yo1 7hh")
    page.get_by_label("Country").select_option("United Kingdom")
    page.get_by_role("button", name="Continue to delivery").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery")


def choose_express_and_place_order(page: Page, email: str) -> None:
    """Pick express delivery, check the review page and place the order."""
    express = page.get_by_label("Express delivery")
    express.check()
    expect(express).to_be_checked()
    page.get_by_role("button", name="Review your order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.get_by_test_id("review-address")).to_contain_text("YO1 7HH")
    expect(page.get_by_text(email)).to_be_visible()
    expect(page.get_by_test_id("summary-total")).to_have_text(EXPRESS_TOTAL)
    page.get_by_role("button", name=f"Place order and pay {EXPRESS_TOTAL}").click()
    expect_payment_page(page)


def expect_payment_page(page: Page) -> None:
    """Check the payment page is showing, with localstripe's card inputs mounted."""
    expect(page).to_have_url(re.compile(r"/checkout/pay/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment")
    expect(page.get_by_test_id("pay-total")).to_have_text(EXPRESS_TOTAL)
    expect(card_input(page, "number")).to_be_visible()


def card_input(page: Page, field: str) -> Locator:
    """One of localstripe's card inputs (they have placeholders, not labels)."""
    return page.locator("#card-element").get_by_placeholder(field, exact=True)


def enter_card(page: Page, number: str) -> None:
    """Type a test card into the card element."""
    card_input(page, "number").fill(number)
    card_input(page, "exp_month").fill("12")
    card_input(page, "exp_year").fill("34")
    card_input(page, "cvc").fill("123")
    card_input(page, "postal_code").fill("YO17H")


def pay_button(page: Page) -> Locator:
    """The payment form's submit button."""
    return page.get_by_role("button", name=f"Pay {EXPRESS_TOTAL}")


def expect_paid(page: Page) -> tuple[str, str]:
    """Check the order page says the order is paid; return (order number, access token)."""
    expect(page).to_have_url(re.compile(r"/orders/[^/]+$"), timeout=PAYMENT_TIMEOUT_MS)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Order \S+$"))
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    thanks = page.get_by_role("status").filter(has_text="Thank you!")
    expect(thanks).to_contain_text("Your payment was received")
    expect(page.get_by_test_id("order-total")).to_have_text(EXPRESS_TOTAL)
    number = heading.inner_text().removeprefix("Order ").strip()
    return number, page.url.rsplit("/", 1)[1]


def test_a_guest_pays_by_card_and_gets_a_confirmation_email(page: Page, shop: MailShop) -> None:
    """Cart, details, express delivery, review, card payment, order page, then the e-mail."""
    email = guest_email()
    add_heart_to_cart(page)
    fill_details(page, email)
    choose_express_and_place_order(page, email)

    enter_card(page, CARD_OK)
    pay_button(page).click()
    number, token = expect_paid(page)
    expect(page.get_by_test_id("cart-count")).to_have_text("0")

    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    received = shop.mail_to(email)
    assert [m["Subject"] for m in received] == [f"Your order {number} is confirmed"]
    body = text_body(received[0])
    assert number in body and EXPRESS_TOTAL in body
    assert f"{shop.url}/orders/{token}" in body


def test_a_declined_card_shows_an_error_and_another_card_pays(page: Page, shop: MailShop) -> None:
    """A decline is shown on the payment page; the shopper fixes the card and pays."""
    email = guest_email()
    add_heart_to_cart(page)
    fill_details(page, email)
    choose_express_and_place_order(page, email)

    enter_card(page, CARD_DECLINED)
    pay_button(page).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(re.compile("declined", re.IGNORECASE), timeout=PAYMENT_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"/checkout/pay/[^/]+$"))
    expect(pay_button(page)).to_be_enabled()
    expect(pay_button(page)).not_to_have_attribute("aria-busy", "true")
    expect(alert).to_be_focused()  # not lost to the top of the page with the disabled button
    shop.deliver_mail()  # the failure notice goes out before the shopper tries again
    (notice,) = shop.mail_to(email)
    assert "did not go through" in str(notice["Subject"])

    card_input(page, "number").fill(CARD_OK)
    pay_button(page).click()
    number, _token = expect_paid(page)

    shop.deliver_mail()
    subjects = sorted(str(m["Subject"]) for m in shop.mail_to(email))
    assert subjects == [
        f"Payment for order {number} did not go through",
        f"Your order {number} is confirmed",
    ]


def test_checkout_forms_are_labelled_and_work_from_the_keyboard(page: Page) -> None:
    """Every checkout field is found by its label, errors describe their field, and the
    steps can be completed with the keyboard."""
    add_heart_to_cart(page)
    for label in DETAIL_LABELS:
        expect(page.get_by_label(label, exact=True)).to_be_editable()
    expect(page.get_by_label("Country", exact=True)).to_have_value("United Kingdom")

    email = page.get_by_label("E-mail address", exact=True)
    email.focus()
    page.keyboard.press("Enter")  # submit the empty form
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description("Please enter your e-mail address.")
    expect(email).to_be_editable()

    email.fill(guest_email())
    page.keyboard.press("Enter")
    name = page.get_by_label("Full name", exact=True)
    expect(name).to_have_accessible_description("Please enter the recipient's name.")
    expect(page.get_by_label("Postcode", exact=True)).to_have_accessible_description(
        "Please enter the postcode."
    )

    name.focus()
    page.keyboard.type("Kim Keys")
    for label, typed in (
        ("Address", "2 Tab Street"),
        ("Address line 2 (optional)", ""),
        ("Town or city", "Leeds"),
        ("Postcode", "LS1 4AP"),
    ):
        page.keyboard.press("Tab")
        expect(page.get_by_label(label, exact=True)).to_be_focused()
        page.keyboard.type(typed)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delivery")

    standard = page.get_by_label("Standard delivery")
    express = page.get_by_label("Express delivery")
    expect(standard).to_be_checked()
    standard.focus()
    page.keyboard.press("ArrowDown")
    expect(express).to_be_checked()
    expect(express).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Back to your details")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Review your order")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Review your order")
    expect(page.get_by_test_id("review-address")).to_contain_text("LS1 4AP")
    page.get_by_role("button", name=f"Place order and pay {EXPRESS_TOTAL}").focus()
    page.keyboard.press("Enter")
    expect_payment_page(page)

    # localstripe's card element moves on to the next input when one is complete.
    card_input(page, "number").focus()
    page.keyboard.type(CARD_OK)
    expect(card_input(page, "exp_month")).to_be_focused()
    page.keyboard.type("1234123")
    expect(card_input(page, "postal_code")).to_be_focused()
    page.keyboard.type("LS14A")
    page.keyboard.press("Tab")
    expect(pay_button(page)).to_be_focused()
    page.keyboard.press("Enter")
    expect_paid(page)
