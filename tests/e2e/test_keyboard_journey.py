"""A guest buys a product with the keyboard alone: Tab, Enter, arrow keys and typing, never a
click, from the home page through a category, the product page, the cart and the checkout
steps to a paid order. Every control on the way shows a visible focus outline."""

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
)
from tests.factories import small_catalogue
from tests.stripe_support import (
    CARD_OK,
    localstripe_url,  # noqa: F401  (a fixture)
)

HEART = "White Hanging Heart T-Light Holder"
# One heart holder (£2.95) with standard delivery (£3.95).
TOTAL = "£6.90"
PAYMENT_TIMEOUT_MS = 15_000
MAX_TABS = 80

FOCUS_STYLE = """el => {
  const style = getComputedStyle(el);
  return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
}"""


def seed_shop(session: Session) -> str:
    small_catalogue(session)
    return ""


def tab_to(page: Page, target: Locator, *, backwards: bool = False) -> None:
    """Press Tab (or Shift+Tab) until `target` has the focus, and check the focus shows."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        if target.evaluate("el => el === document.activeElement"):
            assert target.evaluate(FOCUS_STYLE), "the focused control has no visible outline"
            return
    raise AssertionError(f"{MAX_TABS} presses of {key} never reached {target}")


def enter_and_status(page: Page, url: re.Pattern[str]) -> int:
    """Press Enter in the focused field; the status of the answer from `url`."""
    with page.expect_response(url) as answer:
        page.keyboard.press("Enter")
    return answer.value.status


def back_to_field_and_clear(page: Page, link: Locator, field: Locator) -> None:
    """Reach the error summary's `link` with Shift+Tab, follow it to `field`, empty that."""
    tab_to(page, link, backwards=True)
    page.keyboard.press("Enter")
    expect(field).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    expect(field).to_have_value("")


def skip_to_main(page: Page) -> None:
    """The first Tab reaches the skip link, which moves past the header and its menus: the
    next Tab lands in the main content."""
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused_in_main = page.evaluate(
        "() => !!document.activeElement.closest('main') || document.activeElement.tagName"
    )
    assert focused_in_main is True, f"after the skip link, Tab went to {focused_in_main}"


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def test_a_guest_buys_a_product_with_the_keyboard_only(page: Page, shop: MailShop) -> None:
    """Browse, product, add to cart, cart, details, delivery, review, pay: keys only."""
    page.goto("/")

    skip_to_main(page)

    # Browse: the category menu is in the header, so go back up to it.
    candles = page.get_by_role("navigation", name="Categories").get_by_role(
        "link", name="Candles & holders"
    )
    tab_to(page, candles, backwards=True)
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Candles & holders")

    tab_to(page, page.get_by_role("main").get_by_role("link", name=HEART))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text(HEART)

    quantity = page.get_by_label("Quantity")
    tab_to(page, quantity)
    page.keyboard.press("Control+A")
    page.keyboard.type("1")
    tab_to(page, page.get_by_role("button", name="Add to cart"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_test_id("cart-count")).to_have_text("1")
    # The confirmation is announced.
    expect(page.get_by_role("status").or_(page.get_by_role("alert")).first).to_contain_text(
        re.compile(HEART)
    )

    tab_to(page, page.get_by_role("link", name="Go to checkout"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Your details")

    # Sent empty, the form comes back saying so: the title, an announced summary whose
    # links lead to the fields, and the focus on the first field to correct.
    # (After the skip link, which leaves #main in the address the form is posted from.)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    email = page.get_by_label("E-mail address", exact=True)
    tab_to(page, email)
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile(r"^Error: "))
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_have_attribute("role", "alert")
    expect(email).to_be_focused()
    expect(email).to_have_accessible_description("Please enter your e-mail address.")
    name_link = summary.get_by_role("link", name="Full name", exact=True)
    tab_to(page, name_link, backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Full name", exact=True)).to_be_focused()

    tab_to(page, email, backwards=True)
    page.keyboard.type(f"keys-{uuid.uuid4().hex[:8]}@example.com")
    for label, typed in (
        ("Phone (optional, for the courier)", ""),
        ("Full name", "Kim Keys"),
        ("Address", "2 Tab Street"),
        ("Address line 2 (optional)", ""),
        ("Town or city", "Leeds"),
        ("Postcode", "LS1 4AP"),
    ):
        tab_to(page, page.get_by_label(label, exact=True))
        page.keyboard.type(typed)
    tab_to(page, page.get_by_role("button", name="Continue to delivery"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Delivery")

    standard = page.get_by_label("Standard delivery")
    expect(standard).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Review your order"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Review your order")
    expect(page.get_by_test_id("summary-total")).to_have_text(TOTAL)

    tab_to(page, page.get_by_role("button", name=f"Place order and pay {TOTAL}"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Payment")

    # localstripe's card element moves on to the next input when one is complete.
    number = page.locator("#card-element").get_by_placeholder("number", exact=True)
    tab_to(page, number)
    page.keyboard.type(CARD_OK)
    page.keyboard.type("1234123")
    page.keyboard.type("LS14A")
    tab_to(page, page.get_by_role("button", name=f"Pay {TOTAL}"))
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/orders/[^/]+$"), timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect(page.get_by_test_id("order-total")).to_have_text(TOTAL)
    expect(page.get_by_test_id("cart-count")).to_have_text("0")
