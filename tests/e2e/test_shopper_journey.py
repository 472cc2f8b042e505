"""A shopper's journey through the storefront in a real browser: browse, search, add to
cart, register, and the error messages for quantities the shop can't accept."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

CART_SCREENSHOT = "/tmp/e2e-cart.png"
HEART = "White Hanging Heart T-Light Holder"
LANTERN = "White Metal Lantern"
ADD_QTY_MESSAGE = "Enter a whole number from 1 to 999."  # the product page has no Remove


def cart_badge(page: Page) -> Locator:
    """The number of items shown on the header's cart link."""
    return page.get_by_test_id("cart-count")


def category_nav(page: Page) -> Locator:
    """The header's category navigation."""
    return page.get_by_role("navigation", name="Categories")


def product_link(page: Page, name: str) -> Locator:
    """The link of a product card in the page's main content."""
    return page.get_by_role("main").get_by_role("link", name=name)


def search(page: Page, words: str) -> None:
    """Search the shop with the header's search box."""
    box = page.get_by_role("search").get_by_role("searchbox", name="Search products")
    box.fill(words)
    box.press("Enter")


def test_browse_search_add_to_cart_and_register_keeps_cart(page: Page) -> None:
    """A visitor browses, searches, fills the cart, registers, and still has the cart."""
    page.goto("/")
    expect(page).to_have_title(re.compile(r"Hearth & Parcel"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Gifts, homeware and seasonal treats")
    expect(cart_badge(page)).to_have_text("0")

    candles = category_nav(page).get_by_role("link", name="Candles & holders")
    candles.click()
    expect(page).to_have_url(re.compile(r"/c/candles$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Candles & holders")
    expect(category_nav(page).get_by_role("link", name="Candles & holders")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_text("2 products")).to_be_visible()
    expect(product_link(page, HEART)).to_be_visible()
    expect(product_link(page, LANTERN)).to_be_visible()
    expect(product_link(page, "Jumbo Bag Red Retrospot")).to_have_count(0)

    search(page, "lantern")
    expect(page).to_have_url(re.compile(r"/search\?q=lantern$"))
    expect(page.get_by_test_id("result-count")).to_have_text("1 result for “lantern”")
    expect(page.get_by_role("searchbox", name="Search products")).to_have_value("lantern")
    expect(product_link(page, LANTERN)).to_be_visible()
    expect(page.get_by_role("main").get_by_role("listitem")).to_have_count(1)

    category_nav(page).get_by_role("link", name="Candles & holders").click()
    product_link(page, HEART).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HEART)
    expect(page.get_by_test_id("price")).to_have_text("£2.95")
    expect(page.get_by_text("In stock")).to_be_visible()

    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_role("status")).to_have_text(f"Added 2 of {HEART} to your cart.")
    expect(cart_badge(page)).to_have_text("2")
    expect_cart_holds_two_hearts(page)
    page.screenshot(path=CART_SCREENSHOT, full_page=True)

    page.get_by_role("navigation", name="Account").get_by_role(
        "link", name="Register", exact=True
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("Your name").fill("Grace Shopper")
    page.get_by_label("E-mail address").fill(f"grace-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    page.get_by_label("Repeat password").fill("a long enough password")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("status")).to_have_text("Welcome! Your account is ready.")
    account_nav = page.get_by_role("navigation", name="Account")
    expect(account_nav.get_by_role("link", name="My account")).to_be_visible()
    expect(account_nav.get_by_role("button", name="Sign out")).to_be_visible()
    expect(account_nav.get_by_role("link", name="Register")).to_have_count(0)
    expect(cart_badge(page)).to_have_text("2")

    account_nav.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect_cart_holds_two_hearts(page)


def expect_cart_holds_two_hearts(page: Page) -> None:
    """Check the cart page lists one line: 2 heart holders at £2.95, £5.90 in total."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart")
    lines = page.get_by_test_id("cart-line")
    expect(lines).to_have_count(1)
    line = lines.first
    expect(line.get_by_role("link", name=HEART)).to_be_visible()
    expect(line.get_by_role("cell").nth(1)).to_have_text("£2.95")
    expect(line.get_by_label(f"Quantity of {HEART}")).to_have_value("2")
    expect(line.get_by_role("cell").nth(3)).to_have_text("£5.90")
    expect(page.get_by_role("row", name=re.compile(r"Subtotal \(2 items\)"))).to_be_visible()
    expect(page.get_by_test_id("subtotal")).to_have_text("£5.90")


def add_to_cart_expecting_error(page: Page, quantity: str) -> Locator:
    """Submit the product page's form with a quantity it should refuse; return the alert."""
    page.get_by_label("Quantity").fill(quantity)
    with page.expect_response(re.compile(r"/cart/add$")) as answer:
        page.get_by_role("button", name="Add to cart").click()
    assert answer.value.status == 400
    expect(page.get_by_label("Quantity")).to_have_attribute("aria-invalid", "true")
    return page.get_by_role("alert")


def test_quantities_the_shop_cannot_accept_show_a_clear_error(page: Page) -> None:
    """Zero, or more than the stock, shows an error next to the quantity and adds nothing."""
    page.goto("/")
    search(page, "lantern")
    product_link(page, LANTERN).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(LANTERN)
    expect(page.get_by_text("In stock: only 3 left")).to_be_visible()

    expect(add_to_cart_expecting_error(page, "0")).to_have_text(ADD_QTY_MESSAGE)
    expect(cart_badge(page)).to_have_text("0")

    alert = add_to_cart_expecting_error(page, "4")
    expect(alert).to_have_text(f"Only 3 of {LANTERN} left in stock.")
    expect(page.get_by_role("heading", level=1)).to_have_text(LANTERN)
    expect(cart_badge(page)).to_have_text("0")

    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add to cart").click()
    expect(cart_badge(page)).to_have_text("3")
    page.get_by_role("link", name=LANTERN).click()
    expect(add_to_cart_expecting_error(page, "1")).to_have_text(
        "You already have 3 in your cart; only 3 are in stock."
    )
    expect(cart_badge(page)).to_have_text("3")


def test_out_of_stock_product_has_no_add_to_cart_button(page: Page) -> None:
    """An out-of-stock product says so and offers no way to add it."""
    page.goto("/c/bags")
    card = page.get_by_role("listitem").filter(has_text="Lunch Bag Red Retrospot")
    expect(card.get_by_text("Out of stock")).to_be_visible()
    product_link(page, "Lunch Bag Red Retrospot").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lunch Bag Red Retrospot")
    expect(page.get_by_text("Out of stock")).to_be_visible()
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)


CONTRAST = """(element) => {
  const channels = (css) => css.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(element);
  const [a, b] = [luminance(channels(style.color)), luminance(channels(style.backgroundColor))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_on_a_phone_nothing_scrolls_sideways_and_the_checkout_button_is_legible(
    page: Page,
) -> None:
    """At 375 px the cart and a long search stay within the screen; white on the
    checkout button meets WCAG AA contrast (4.5:1)."""
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto("/search?q=" + "candle" * 40)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.goto("/")
    search(page, "lantern")
    product_link(page, LANTERN).click()
    page.get_by_role("button", name="Add to cart").click()
    expect(cart_badge(page)).to_have_text("1")
    page.goto("/cart")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    total_cell = page.locator('td[data-label="Line total"]').first
    label = total_cell.evaluate("(td) => getComputedStyle(td, '::before').content")
    assert label == '"Line total: "'  # the column headings are hidden on a phone
    checkout = page.get_by_role("link", name="Go to checkout")
    assert checkout.evaluate(CONTRAST) >= 4.5
