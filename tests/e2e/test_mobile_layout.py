"""The shop on a phone: every page type at 360 CSS px wide fits the screen (no sideways
scrolling of the page, wide tables scroll or reflow in their own box), long names and
addresses wrap, the header still reaches categories, search, cart and account, and each
page's primary action is on screen and a finger-sized target (44 px, WCAG 2.5.5).
The staff console is checked on a phone, with its menu folded, and on a 768 px tablet."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy.orm import Session

from loyalty.tiers import ensure_default_tiers
from tests import factories
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

PHONE = {"width": 360, "height": 740}
TABLET = {"width": 768, "height": 1024}
TARGET_PX = 44
PAYMENT_TIMEOUT_MS = 15_000
# A member with a long address, a tier discount and a points history.
MEMBER = "maximiliana.featherstonehaugh-wolfeschlegel@an-unusually-long-domain.example.co.uk"
STAFF = "admin@example.com"
LONG_NAME = "Set of 12 Hand-Painted Vintage-Style Christmas Tree Baubles in a Gift Box"
# A name with no place to break (imported data has them): it must wrap, not widen the page.
UNBROKEN_NAME = "WOODENCHRISTMASADVENTCALENDARWITHTWENTYFOURDRAWERS"
PAST_ORDERS = 21  # one more than a page of order history
# The elements that stick out to the right of the screen, for a failure message.
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .slice(0, 5)
  .map(e => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}"`)"""
# How many lines an element's text takes on screen.
LINES_OF_TEXT = """e => {
  const range = document.createRange();
  range.selectNodeContents(e);
  const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top));
  return new Set(tops).size;
}"""


def seed_shop(session: Session) -> str:
    items = small_catalogue(session)
    ensure_default_tiers(session)
    candles = items["heart"].category
    factories.product(session, candles, sku="XMAS12", name=LONG_NAME, price=1495, stock=40)
    factories.product(session, candles, sku="ADVENT", name=UNBROKEN_NAME, price=2250, stock=40)
    account = factories.member(
        session, MEMBER, points=1200, discount_bp=500, free_shipping=True, tier="Gold"
    )
    for n in range(PAST_ORDERS):
        placed = factories.order(
            session, account, f"HP-{2000 + n}", [(items["heart"], 2), (items["jumbo"], 3)]
        )
        placed.placed_at = datetime(2026, 10, 1) + timedelta(days=n)
    factories.staff(session, "admin", STAFF)
    for n in range(30):  # a second page of products in the console
        factories.product(session, candles, sku=f"T{n:03}", name=f"Tealight Tin No. {n}")
    session.commit()
    return MEMBER


def on_phone(page: Page) -> Page:
    """Make the page a 360 x 740 phone screen."""
    page.set_viewport_size(PHONE)
    return page


def heading(page: Page) -> Locator:
    """The page's main heading."""
    return page.get_by_role("heading", level=1)


def expect_fits(page: Page) -> None:
    """The page does not scroll sideways: nothing is wider than the screen."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.wait_for_load_state()  # measured before the stylesheet is in, any page is too wide
    page_width = page.evaluate("document.scrollingElement.scrollWidth")
    if page_width > width:
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        raise AssertionError(f"{page.url} is {page_width}px wide on a {width}px screen: {wide}")


def expect_target(action: Locator) -> None:
    """An action is visible, inside the screen's width and at least 44 x 44 CSS px."""
    expect(action).to_be_visible()
    action.scroll_into_view_if_needed()
    box = action.bounding_box()
    assert box is not None, action
    name = action.inner_text() or action.get_attribute("aria-label") or str(action)
    assert box["height"] >= TARGET_PX and box["width"] >= TARGET_PX, (
        f"{name!r} is {box['width']:.0f} x {box['height']:.0f} px"
    )
    width = action.page.viewport_size["width"] if action.page.viewport_size else 0
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{name!r} is off screen: {box}"


def expect_page(page: Page, title: str | re.Pattern[str], action: Locator) -> None:
    """The page has this heading, fits the screen, and its primary action is a full target."""
    expect(heading(page)).to_have_text(title)
    expect_fits(page)
    expect_target(action)


def expect_one_line(texts: Locator) -> None:
    """Each element (an amount) sits on one line, not broken in two mid-number."""
    expect(texts.first).to_be_visible()
    for text in texts.all():
        lines = text.evaluate(LINES_OF_TEXT)
        assert lines == 1, f"{text.inner_text()!r} is broken over {lines} lines"


def sign_in(page: Page, email: str) -> None:
    """Sign in through the login form, on the phone."""
    page.goto("/account/login")
    expect_page(page, "Sign in", page.get_by_role("main").get_by_role("button", name="Sign in"))
    expect_target(page.get_by_label("E-mail address"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text("You are signed in.")


def add_to_cart(page: Page, name: str, quantity: int) -> None:
    """Open a product from the candles category and add it to the cart."""
    page.goto("/c/candles")
    page.get_by_role("main").get_by_role("link", name=name).first.click()
    add = page.get_by_role("button", name="Add to cart")
    expect_page(page, name, add)
    expect_target(page.get_by_label("Quantity"))
    page.get_by_label("Quantity").fill(str(quantity))
    add.click()
    expect(page).to_have_url(re.compile(r"/cart$"))


def test_the_header_reaches_categories_search_cart_and_account(page: Page) -> None:
    """At 360 px the header's links are full targets and every category can be reached:
    the category row scrolls sideways inside itself, not the page."""
    on_phone(page).goto("/")
    expect_fits(page)
    header = page.get_by_role("banner")
    expect_target(header.get_by_role("searchbox", name="Search products"))
    expect_target(header.get_by_role("button", name="Search"))
    expect_target(header.get_by_role("link", name=re.compile(r"^Cart")))
    expect_target(header.get_by_role("link", name="Sign in"))
    expect_target(header.get_by_role("link", name="Register"))
    categories = page.get_by_role("navigation", name="Categories").get_by_role("link")
    expect(categories).to_have_count(2)
    for link in categories.all():
        expect_target(link)

    header.get_by_role("searchbox", name="Search products").fill("bag")
    header.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/search\?q=bag$"))
    expect_fits(page)
    expect_target(page.get_by_role("main").get_by_role("link", name="Jumbo Bag Red Retrospot"))


def test_a_member_shops_and_pays_on_a_phone(page: Page, shop: MailShop) -> None:
    """Home, category, product, a cart of long names with a discount, every checkout step,
    the payment page and the confirmation all fit 360 px, with 44 px actions."""
    on_phone(page).goto("/")
    expect_fits(page)
    sign_in(page, shop.email)
    page.goto("/")
    expect_fits(page)
    expect(page.get_by_test_id("recs-home")).to_be_visible()

    page.goto("/c/candles")
    expect_fits(page)
    expect(page.get_by_role("main").get_by_role("link", name=LONG_NAME)).to_be_visible()
    add_to_cart(page, LONG_NAME, 2)
    add_to_cart(page, UNBROKEN_NAME, 1)
    add_to_cart(page, "White Hanging Heart T-Light Holder", 4)

    checkout = page.get_by_role("link", name="Go to checkout")
    expect_page(page, "Your cart", checkout)
    expect(page.get_by_test_id("cart-line")).to_have_count(3)
    expect(page.get_by_test_id("tier-discount")).to_be_visible()
    for line in page.get_by_test_id("cart-line").all():
        expect_target(line.get_by_role("spinbutton"))
        expect_target(line.get_by_role("button", name=re.compile("^Update")))
        expect_target(line.get_by_role("button", name=re.compile("^Remove")))

    checkout.click()
    expect_page(page, "Your details", page.get_by_role("button", name="Continue to delivery"))
    expect_one_line(page.locator(".order-summary li > span:last-child, .order-summary dd"))
    expect_target(page.get_by_label("Full name"))
    expect_target(page.get_by_label("Country"))
    page.get_by_label("Full name").fill("Maximiliana Featherstonehaugh")
    page.get_by_label("Address", exact=True).fill("1 Market Street")
    page.get_by_label("Town or city").fill("York")
    page.get_by_label("Postcode").fill("YO1 7HH")
    page.get_by_role("button", name="Continue to delivery").click()

    review = page.get_by_role("button", name="Review your order")
    expect_page(page, "Delivery", review)
    review.click()
    place = page.get_by_role("button", name=re.compile(r"^Place order and pay £"))
    expect_page(page, "Review your order", place)
    expect(page.get_by_text(MEMBER)).to_be_visible()
    expect_target(page.get_by_role("button", name="Apply points"))
    expect_one_line(page.locator(".order-summary li > span:last-child, .order-summary dd"))
    place.click()

    expect(page).to_have_url(re.compile(r"/checkout/pay/[^/]+$"))
    pay = page.get_by_role("button", name=re.compile(r"^Pay £"))
    expect_page(page, "Payment", pay)
    cancel = page.get_by_test_id("cancel-order")
    expect_target(cancel)
    card = page.locator("#card-element")
    card.get_by_placeholder("number", exact=True).fill(CARD_OK)
    card.get_by_placeholder("exp_month", exact=True).fill("12")
    card.get_by_placeholder("exp_year", exact=True).fill("34")
    card.get_by_placeholder("cvc", exact=True).fill("123")
    card.get_by_placeholder("postal_code", exact=True).fill("YO17H")
    pay.click()

    expect(page).to_have_url(re.compile(r"/orders/[^/]+$"), timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect_fits(page)
    expect(page.get_by_role("main").get_by_role("link", name=UNBROKEN_NAME)).to_be_visible()
    expect(page.get_by_test_id("order-total")).to_be_visible()


def test_account_and_member_pages_fit_a_phone(page: Page, shop: MailShop) -> None:
    """The account page with its order history, an order, the settings pages, the address
    book (with 44 px row actions), the loyalty page with its points history and the e-mail
    preferences fit 360 px."""
    on_phone(page)
    sign_in(page, shop.email)
    page.goto("/account")
    expect(heading(page)).to_have_text("My account")
    expect_fits(page)
    expect(page.get_by_text(MEMBER)).to_be_visible()
    expect(page.get_by_test_id("order-row")).to_have_count(20)
    expect_target(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next"))

    page.get_by_role("link", name="HP-2020").click()
    expect(heading(page)).to_contain_text("HP-2020")
    expect_fits(page)
    lines = page.locator("table.order-lines")
    # Four columns reflow into the screen: the totals are not scrolled out of sight.
    assert lines.evaluate("t => t.scrollWidth <= t.clientWidth"), "the order table scrolls"
    expect_one_line(lines.locator("td:not(:first-child)"))

    for path, title, action in (
        ("/account/profile", "Name and phone number", "Save"),
        ("/account/password", "Change password", "Change password"),
        ("/account/email", "Change e-mail address", "Send the link"),
        ("/account/addresses/new", "Add an address", "Save address"),
        ("/account/preferences", "E-mail preferences", "Save e-mail choices"),
    ):
        page.goto(path)
        expect_page(page, title, page.get_by_role("main").get_by_role("button", name=action))

    for line1 in ("1 Market Street", "22 Long Acre Lane"):
        page.goto("/account/addresses/new")
        page.get_by_label("Full name").fill("Maximiliana Featherstonehaugh")
        page.get_by_label("Address line 1").fill(line1)
        page.get_by_label("Town or city").fill("York")
        page.get_by_label("Postcode").fill("YO1 7HH")
        page.get_by_role("main").get_by_role("button", name="Save address").click()
        expect(heading(page)).to_have_text("Address book")
    expect_fits(page)
    rows = page.get_by_test_id("address")
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect_target(row.get_by_role("link", name=re.compile("^Edit")))
        expect_target(row.get_by_role("button", name=re.compile("^Delete")))
    expect_target(page.get_by_role("button", name=re.compile("^Make default")))

    page.goto("/account/loyalty")
    expect(heading(page)).to_have_text("Your membership")
    expect_fits(page)
    history = page.get_by_test_id("points-history")
    expect(history).to_be_visible()
    expect_one_line(history.locator("td").filter(has_text=re.compile(r"^[+\u2212-]\d")))


def test_error_pages_fit_a_phone(page: Page) -> None:
    """A 404 page fits and offers its search as a full target."""
    on_phone(page).goto("/products/999999")
    expect_page(page, "Page not found", page.get_by_role("main").get_by_role("button"))


def staff_sign_in(page: Page) -> None:
    """Sign the staff account in through the login form."""
    page.goto("/account/login")
    page.get_by_label("E-mail address").fill(STAFF)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text("You are signed in.")


def console_pages(app: Flask) -> list[str]:
    """Every console page that takes no argument, from the app's routes, so that a new page
    is checked without being listed here."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and not rule.rule.endswith((".json", ".csv"))
    )


def test_the_console_fits_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the console's menu folds behind a "Menu" button above the page, which takes
    the whole width: no console page scrolls sideways (wide tables scroll in their own box),
    and the dashboard's amounts stay on one line."""
    on_phone(page)
    staff_sign_in(page)
    page.goto("/console/")
    expect(heading(page)).to_have_text("Console")
    nav = page.get_by_role("navigation", name="Console")
    menu = nav.get_by_role("button", name="Menu: Dashboard")
    expect_target(menu)
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Orders")).to_be_hidden()
    main = page.get_by_role("main").bounding_box()
    assert main is not None and main["width"] == PHONE["width"], main
    expect_one_line(page.locator(".metrics-totals dd[data-metric]"))

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for link in nav.get_by_role("link").all():
        expect_target(link)
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(nav.get_by_role("link", name="Orders")).to_be_hidden()

    menu.click()
    nav.get_by_role("link", name="Customers").click()
    expect(heading(page)).to_have_text("Customers")
    expect(nav.get_by_role("button", name="Menu: Customers")).to_be_visible()

    paths = console_pages(shop.app)
    assert {"/console/", "/console/experiments/new", "/console/customers/funnel"} <= set(paths)
    for path in paths:
        assert page.goto(path).ok, path  # type: ignore[union-attr]
        expect_fits(page)


def test_the_console_keeps_its_menu_open_without_script(browser: Browser, shop: MailShop) -> None:
    """Without JavaScript the phone's console menu is not folded: every link shows."""
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, base_url=shop.url)
    try:
        page = context.new_page()
        staff_sign_in(page)
        page.goto("/console/")
        nav = page.get_by_role("navigation", name="Console")
        expect(nav.get_by_role("button", name=re.compile("^Menu"))).to_be_hidden()
        expect_target(nav.get_by_role("link", name="Orders"))
        expect_fits(page)
    finally:
        context.close()


def test_the_console_fits_a_tablet(page: Page) -> None:
    """At 768 px the console's tables keep words and amounts whole and scroll inside their
    own box; the page itself never scrolls sideways."""
    page.set_viewport_size(TABLET)
    staff_sign_in(page)
    page.goto("/console/products/")
    expect(heading(page)).to_have_text("Products")
    expect_fits(page)
    table = page.locator("table.data")
    expect_one_line(table.locator("td.num").filter(has_text="£"))
    expect_one_line(table.get_by_role("link", name=re.compile(r"^\w+$")))
    expect_target(page.get_by_role("button", name="Filter"))
    expect_target(page.get_by_role("navigation", name="Console").get_by_role("link").first)
    for path in ("/console/orders/", "/console/loyalty/", "/console/audit", "/console/staff"):
        page.goto(path)
        expect_fits(page)
