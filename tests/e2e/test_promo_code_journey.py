"""Discount codes in a real browser: a visitor types a code into the cart, sees it come off
the total, pays with a card through localstripe, and the order page and the confirmation
e-mail (over SMTP) name it; a refused code is corrected with the keyboard alone; a code
waits for its minimum spend; a free-delivery code leaves express charged and gives its use
back when its unpaid order is cancelled; the last use of a code goes to one of two shoppers
only; and the cart's code form fits a phone."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.cart.models import Cart, CartItem
from shop.catalog.models import Product
from shop.db import db
from shop.orders.models import Order
from shop.payments.models import PaymentAttempt
from shop.promotions.models import AMOUNT, FREE_DELIVERY, PERCENT, PromoCode
from shop.visitor import read_visitor_id
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_checkout_journey import enter_card, fill_details, guest_email
from tests.e2e.test_keyboard_journey import back_to_field_and_clear, enter_and_status, tab_to
from tests.e2e.test_loyalty_journey import flash, heading
from tests.e2e.test_mobile_layout import expect_fits, expect_one_line, expect_target, on_phone
from tests.factories import small_catalogue
from tests.stripe_support import (
    CARD_OK,
    localstripe_url,  # noqa: F401  (a fixture)
)

HEART = "White Hanging Heart T-Light Holder"  # £2.95
JUMBO = "Jumbo Bag Red Retrospot"  # £1.95
MINUS = "\N{MINUS SIGN}"
PAYMENT_TIMEOUT_MS = 15_000
CODE_FIELD = "Discount code"

# One code per journey, so that the journeys do not depend on each other's order.
SPRING = "SPRING10"  # 10% off
KEYS = "KEYS1"  # £1.00 off
EXPIRED = "OLDYEAR"  # ended in 2020
FIVER = "FIVER"  # £5.00 off from £20.00 of goods
SHIPFREE = "SHIPFREE"  # free standard delivery
LAST = "LASTONE"  # 10% off, one use in all
PHONE = "PHONE15"  # 15% off


def seed_shop(session: Session) -> str:
    small_catalogue(session)
    codes = [
        PromoCode(code=SPRING, kind=PERCENT, percent_bp=1000, description="Spring sale"),
        PromoCode(code=KEYS, kind=AMOUNT, amount_pence=100),
        PromoCode(code=EXPIRED, kind=PERCENT, percent_bp=2000, ends_at=datetime(2020, 1, 1)),
        PromoCode(code=FIVER, kind=AMOUNT, amount_pence=500, min_subtotal_pence=2000),
        PromoCode(code=SHIPFREE, kind=FREE_DELIVERY),
        PromoCode(code=LAST, kind=PERCENT, percent_bp=1000, max_uses=1),
        PromoCode(code=PHONE, kind=PERCENT, percent_bp=1500),
    ]
    session.add_all(codes)
    session.commit()
    return ""


def uses(shop: MailShop, code: str) -> int:
    """How many orders hold or have used a code, from the database."""
    with shop.app.app_context():
        return db.session.scalars(select(PromoCode.uses).where(PromoCode.code == code)).one()


def orders_of(shop: MailShop, email: str) -> list[Order]:
    """The orders placed with an e-mail address, oldest first, read from the database."""
    with shop.app.app_context():
        found = db.session.scalars(select(Order).where(Order.email == email).order_by(Order.id))
        orders = list(found)
        db.session.expunge_all()
        return orders


def orders_with_code(shop: MailShop, code: str) -> list[str]:
    """The numbers of the orders carrying a code."""
    with shop.app.app_context():
        return list(db.session.scalars(select(Order.number).where(Order.promo_code == code)))


def cart_of(shop: MailShop, order: Order) -> tuple[int, str | None]:
    """The units left in the cart an order was placed from, and the code on it."""
    with shop.app.app_context():
        cart = db.session.scalars(select(Cart).where(Cart.visitor_id == order.visitor_id)).one()
        units = db.session.scalar(
            select(func.coalesce(func.sum(CartItem.quantity), 0)).where(CartItem.cart_id == cart.id)
        )
        return int(units or 0), cart.promo_code


def visitor_cart_code(shop: MailShop, page: Page) -> str | None:
    """The code on the cart of the browser's visitor (by its visitor cookie)."""
    cookie = shop.app.config["VISITOR_COOKIE"]
    (signed,) = [c["value"] for c in page.context.cookies() if c["name"] == cookie]
    with shop.app.app_context():
        visitor = read_visitor_id(signed)
        return db.session.scalars(select(Cart.promo_code).where(Cart.visitor_id == visitor)).one()


def payments_of(shop: MailShop, order_id: int) -> list[tuple[str, int]]:
    """An order's payment attempts: (status, amount)."""
    with shop.app.app_context():
        rows = db.session.execute(
            select(PaymentAttempt.status, PaymentAttempt.amount_pence)
            .where(PaymentAttempt.order_id == order_id)
            .order_by(PaymentAttempt.id)
        )
        return [(status, amount) for status, amount in rows]


def product_path(shop: MailShop, name: str) -> str:
    """The shop's address of a product."""
    with shop.app.app_context():
        product_id = db.session.scalars(select(Product.id).where(Product.name == name)).one()
    return f"/products/{product_id}"


def add(page: Page, shop: MailShop, name: str, quantity: int) -> None:
    """Add a product to the cart from its page; the cart is shown."""
    page.goto(product_path(shop, name))
    expect(heading(page)).to_have_text(name)
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(heading(page)).to_have_text("Your cart")


def enter_code(page: Page, typed: str) -> None:
    """Type a code into the cart's field and press its button."""
    section = page.get_by_test_id("promo-code")
    section.get_by_label(CODE_FIELD).fill(typed)
    section.get_by_role("button", name=re.compile(r"^(Apply|Use another code)$")).click()


def discount_row(page: Page) -> Locator:
    """The cart's row of the code's discount (its label and amount)."""
    return page.locator("tfoot tr").filter(has=page.get_by_test_id("promo-discount"))


def go_to_review(page: Page, email: str, method: str = "Standard delivery") -> None:
    """From the cart: details, a delivery option, and the review page."""
    page.get_by_role("link", name="Go to checkout").click()
    expect(heading(page)).to_have_text("Your details")
    fill_details(page, email)
    option = page.get_by_label(method)
    option.check()
    expect(option).to_be_checked()
    page.get_by_role("button", name="Review your order").click()
    expect(heading(page)).to_have_text("Review your order")


def place_order(page: Page, total: str) -> None:
    """Press "Place order" on the review page; the payment page asks for `total`."""
    page.get_by_role("button", name=f"Place order and pay {total}").click()
    expect(page).to_have_url(re.compile(r"/checkout/pay/[^/]+$"))
    expect(heading(page)).to_have_text("Payment")
    expect(page.get_by_test_id("pay-total")).to_have_text(total)


def pay_by_card(page: Page, total: str) -> str:
    """Pay on the payment page with the 4242 card; return the paid order's number."""
    enter_card(page, CARD_OK)
    page.get_by_role("button", name=f"Pay {total}").click()
    expect(page).to_have_url(re.compile(r"/orders/[^/]+$"), timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect(page.get_by_test_id("order-total")).to_have_text(total)
    return heading(page).inner_text().removeprefix("Order ").strip()


def test_a_visitor_pays_less_with_a_code_and_the_order_and_email_name_it(
    page: Page, shop: MailShop
) -> None:
    """A code typed in lower case with spaces comes off the cart, the review and the order;
    the order page and the confirmation e-mail name it; once paid, the cart is empty and
    without the code, and the code has one use."""
    email = guest_email()
    add(page, shop, HEART, 4)  # £11.80
    add(page, shop, JUMBO, 2)  # £3.90
    expect(page.get_by_test_id("subtotal")).to_have_text("£15.70")
    expect(page.get_by_test_id("total")).to_have_text("£19.65")
    expect(page.get_by_test_id("promo-discount")).to_have_count(0)

    enter_code(page, " spring 10 ")
    expect(flash(page)).to_contain_text(f"The code {SPRING} is applied: 10% off.")
    expect(page.get_by_test_id("promo-applied")).to_have_text(f"{SPRING}: 10% off (applied)")
    expect(discount_row(page).get_by_role("rowheader")).to_have_text(
        f"Discount code {SPRING} (10% off)"
    )
    expect(page.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£1.57")
    expect(page.get_by_test_id("shipping")).to_have_text("£3.95")
    expect(page.get_by_test_id("total")).to_have_text("£18.08")  # 15.70 - 1.57 + 3.95
    assert visitor_cart_code(shop, page) == SPRING
    assert uses(shop, SPRING) == 0

    go_to_review(page, email)
    expect(page.get_by_test_id("summary-promo-discount")).to_have_text(f"{MINUS}£1.57")
    expect(page.get_by_test_id("summary-promo")).to_contain_text(f"Code {SPRING}: 10% off.")
    expect(page.get_by_test_id("summary-total")).to_have_text("£18.08")
    place_order(page, "£18.08")
    assert uses(shop, SPRING) == 1  # held by the unpaid order

    number = pay_by_card(page, "£18.08")
    promo_row = page.locator("tfoot tr").filter(has=page.get_by_test_id("order-promo-discount"))
    expect(promo_row.get_by_role("rowheader")).to_have_text(f"Discount code {SPRING}")
    expect(page.get_by_test_id("order-promo-discount")).to_have_text(f"{MINUS}£1.57")
    expect(page.get_by_test_id("cart-count")).to_have_text("0")

    (order,) = orders_of(shop, email)
    assert (order.number, order.status, order.total_pence) == (number, "paid", 1808)
    assert (order.promo_code, order.promo_discount_pence) == (SPRING, 157)
    assert payments_of(shop, order.id) == [("succeeded", 1808)]
    assert cart_of(shop, order) == (0, None)
    assert uses(shop, SPRING) == 1

    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    (mail,) = shop.mail_to(email)
    assert mail["Subject"] == f"Your order {number} is confirmed"
    body = text_body(mail).replace(MINUS, "-")
    assert f"Discount code {SPRING}:  -£1.57" in body, body
    assert "£18.08" in body
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert re.search(
        rf"Discount code {SPRING}</th>\s*<td[^>]*>[-{MINUS}]£1\.57</td>", str(html.get_content())
    ), html

    page.get_by_role("link", name=re.compile(r"^Cart")).first.click()
    expect(heading(page)).to_have_text("Your cart")
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    expect(page.get_by_test_id("promo-applied")).to_have_count(0)


def send_code_with_enter(page: Page) -> int:
    """Press Enter in the focused code field; the answer's status."""
    return enter_and_status(page, re.compile(r"/cart/promo$"))


def expect_code_error(page: Page, message: str) -> None:
    """The cart came back with the summary and the field's own error, the focus on the
    field; the summary's link, reached with Shift+Tab, leads back to it, then emptied."""
    field = page.get_by_test_id("promo-code").get_by_label(CODE_FIELD)
    summary = page.get_by_test_id("error-summary")
    expect(heading(page)).to_have_text("Your cart")
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_contain_text("Please correct this field:")
    link = summary.get_by_role("link", name=CODE_FIELD)
    expect(link).to_have_attribute("href", "#code")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(message)
    expect(page.get_by_test_id("promo-code").locator(".field-error")).to_have_text(message)
    expect(page.get_by_test_id("promo-discount")).to_have_count(0)
    back_to_field_and_clear(page, link, field)


def test_a_refused_code_is_corrected_with_the_keyboard_only(page: Page, shop: MailShop) -> None:
    """An unknown code, then an expired one, come back (400) with the error summary and the
    field's error and leave the cart without a code; the good code typed next applies:
    Tab, typing and Enter only."""
    add(page, shop, HEART, 1)
    tab_to(page, page.get_by_test_id("promo-code").get_by_label(CODE_FIELD))
    page.keyboard.type("nope2026")
    assert send_code_with_enter(page) == 400
    expect_code_error(page, "We don't recognise the code NOPE2026.")
    assert visitor_cart_code(shop, page) is None

    page.keyboard.type(EXPIRED.lower())
    assert send_code_with_enter(page) == 400
    expect_code_error(page, f"The code {EXPIRED} has expired.")
    assert visitor_cart_code(shop, page) is None

    page.keyboard.type(KEYS.lower())
    tab_to(page, page.get_by_test_id("promo-code").get_by_role("button", name="Apply"))
    page.keyboard.press("Enter")
    expect(flash(page)).to_contain_text(f"The code {KEYS} is applied: £1.00 off.")
    expect(page.get_by_test_id("error-summary")).to_have_count(0)
    expect(page.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£1.00")
    expect(page.get_by_test_id("total")).to_have_text("£5.90")  # 2.95 - 1.00 + 3.95
    assert visitor_cart_code(shop, page) == KEYS


def test_the_cart_title_says_a_code_was_refused(page: Page, shop: MailShop) -> None:
    """Like every page whose form failed, the cart with a refused code says so in its title."""
    add(page, shop, HEART, 1)
    enter_code(page, "nope2026")
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: Your cart"))


def test_a_code_waits_for_its_minimum_spend_and_can_be_removed(page: Page, shop: MailShop) -> None:
    """Below its minimum spend the code is kept and the cart says how much more to spend;
    raising the line's quantity makes it apply; "Remove" takes it off."""
    add(page, shop, HEART, 2)  # £5.90
    enter_code(page, FIVER.lower())
    expect(flash(page)).to_contain_text(
        f"The code {FIVER} is saved. Spend £14.10 more to use the code {FIVER}."
    )
    expect(page.get_by_test_id("promo-problem")).to_have_text(
        f"Spend £14.10 more to use the code {FIVER}."
    )
    expect(page.get_by_test_id("promo-applied")).to_have_text(f"{FIVER}: £5.00 off")
    expect(page.get_by_test_id("promo-discount")).to_have_count(0)
    expect(page.get_by_test_id("total")).to_have_text("£9.85")
    assert visitor_cart_code(shop, page) == FIVER

    page.get_by_label(f"Quantity of {HEART}").fill("7")  # £20.65
    page.get_by_role("button", name=f"Update {HEART}").click()
    expect(flash(page)).to_have_text("Your cart was updated.")
    expect(page.get_by_test_id("promo-problem")).to_have_count(0)
    expect(page.get_by_test_id("promo-applied")).to_have_text(f"{FIVER}: £5.00 off (applied)")
    expect(page.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£5.00")
    expect(page.get_by_test_id("total")).to_have_text("£19.60")  # 20.65 - 5.00 + 3.95

    page.get_by_test_id("promo-code").get_by_role("button", name=f"Remove the code {FIVER}").click()
    expect(flash(page)).to_have_text(f"The code {FIVER} was removed.")
    expect(page.get_by_test_id("promo-applied")).to_have_count(0)
    expect(page.get_by_test_id("promo-discount")).to_have_count(0)
    expect(page.get_by_test_id("total")).to_have_text("£24.60")
    expect(page.get_by_test_id("promo-code").get_by_label(CODE_FIELD)).to_have_value("")
    assert visitor_cart_code(shop, page) is None
    assert uses(shop, FIVER) == 0


def test_a_free_delivery_code_frees_standard_delivery_but_not_express(
    page: Page, shop: MailShop
) -> None:
    """Standard delivery is free "with your code" in the cart and at checkout; an order
    placed with it holds a use, which cancelling it on the payment page gives back; chosen
    instead, express delivery is charged, and the paid order carries no code."""
    email = guest_email()
    add(page, shop, HEART, 2)  # £5.90
    enter_code(page, SHIPFREE.lower())
    expect(flash(page)).to_contain_text(f"The code {SHIPFREE} is applied: free standard delivery.")
    shipping_row = page.locator("tfoot tr").filter(has=page.get_by_test_id("shipping"))
    expect(shipping_row.get_by_role("rowheader")).to_have_text(
        "Shipping (standard delivery to the United Kingdom, free with your code)"
    )
    expect(page.get_by_test_id("shipping")).to_have_text("Free")
    expect(page.get_by_test_id("total")).to_have_text("£5.90")
    expect(page.get_by_text("more for free standard delivery")).to_have_count(0)

    go_to_review(page, email, "Standard delivery")
    expect(page.get_by_test_id("summary-shipping")).to_have_text("Free")
    expect(page.get_by_test_id("summary-total")).to_have_text("£5.90")
    place_order(page, "£5.90")
    (held,) = orders_of(shop, email)
    assert (held.promo_code, held.shipping_pence, held.total_pence) == (SHIPFREE, 0, 590)
    assert uses(shop, SHIPFREE) == 1

    page.get_by_test_id("cancel-order").click()  # changed their mind: it should come sooner
    expect(heading(page)).to_have_text("Your cart")
    expect(flash(page)).to_contain_text(f"Order {held.number} is cancelled; nothing was charged.")
    assert uses(shop, SHIPFREE) == 0  # given back with the stock
    expect(page.get_by_test_id("shipping")).to_have_text("Free")

    page.get_by_role("link", name="Go to checkout").click()
    expect(heading(page)).to_have_text("Your details")
    page.get_by_role("button", name="Continue to delivery").click()
    expect(heading(page)).to_have_text("Delivery")
    standard = page.locator("label.option").filter(has_text="Standard delivery")
    expect(standard).to_contain_text("Free")
    expect(standard).to_contain_text("free with your code")
    express = page.locator("label.option").filter(has_text="Express delivery")
    expect(express).to_contain_text("£7.95")
    page.get_by_label("Express delivery").check()
    page.get_by_role("button", name="Review your order").click()
    expect(heading(page)).to_have_text("Review your order")
    expect(page.get_by_test_id("summary-shipping")).to_have_text("£7.95")
    expect(page.get_by_test_id("summary-total")).to_have_text("£13.85")
    place_order(page, "£13.85")
    pay_by_card(page, "£13.85")
    expect(page.get_by_test_id("order-shipping")).to_have_text("£7.95")
    expect(page.get_by_text("free with code")).to_have_count(0)

    cancelled, paid = orders_of(shop, email)
    assert (cancelled.status, paid.status) == ("cancelled", "paid")
    assert (paid.promo_code, paid.shipping_method, paid.shipping_pence) == (None, "express", 795)
    assert payments_of(shop, paid.id) == [("succeeded", 1385)]
    assert uses(shop, SHIPFREE) == 0


def test_the_last_use_of_a_code_goes_to_one_of_two_shoppers(
    page: Page, shop: MailShop, browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two shoppers have the code with one use left applied and reach the review; the first
    places and pays; the second's "Place order" brings back the review, which says the
    code is used up and shows the total without it. One order carries the code and only
    it was charged."""
    first_email, second_email = guest_email(), guest_email()
    with browser_page(browser, shop.url, request, tmp_path / "second.png", "the second") as rival:
        add(page, shop, HEART, 4)  # £11.80
        enter_code(page, LAST)
        expect(page.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£1.18")
        add(rival, shop, JUMBO, 4)  # £7.80
        enter_code(rival, LAST)
        expect(rival.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£0.78")

        go_to_review(page, first_email)
        expect(page.get_by_test_id("summary-total")).to_have_text("£14.57")
        go_to_review(rival, second_email)
        expect(rival.get_by_test_id("summary-promo-discount")).to_have_text(f"{MINUS}£0.78")
        expect(rival.get_by_test_id("summary-total")).to_have_text("£10.97")

        place_order(page, "£14.57")
        number = pay_by_card(page, "£14.57")
        expect(page.get_by_test_id("order-promo-discount")).to_have_text(f"{MINUS}£1.18")
        assert uses(shop, LAST) == 1

        rival.get_by_role("button", name="Place order and pay £10.97").click()
        expect(rival).to_have_url(re.compile(r"/checkout/review$"))
        expect(heading(rival)).to_have_text("Review your order")
        expect(rival.locator(".flashes").get_by_role("alert")).to_contain_text(
            "Your order changed since you reviewed it"
        )
        expect(rival.get_by_test_id("summary-promo")).to_contain_text(
            f"The code {LAST} has been used up."
        )
        expect(rival.get_by_test_id("summary-promo-discount")).to_have_count(0)
        expect(rival.get_by_test_id("summary-total")).to_have_text("£11.75")  # 7.80 + 3.95
        expect(rival.get_by_role("button", name="Place order and pay £11.75")).to_be_visible()

    assert orders_with_code(shop, LAST) == [number]
    assert orders_of(shop, second_email) == []
    (order,) = orders_of(shop, first_email)
    assert payments_of(shop, order.id) == [("succeeded", 1457)]
    assert uses(shop, LAST) == 1


def expect_on_screen(element: Locator) -> None:
    """An element is visible and lies within the screen's width."""
    expect(element).to_be_visible()
    element.scroll_into_view_if_needed()
    box = element.bounding_box()
    assert box is not None, element
    width = element.page.viewport_size["width"] if element.page.viewport_size else 0
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{element} is off screen: {box}"


def test_the_code_form_and_discount_fit_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the cart's code field and button fit the screen, the button is a 44 px
    target, a refused code's errors fit too, and the applied discount's row is on screen,
    its amount on one line."""
    on_phone(page)
    add(page, shop, HEART, 2)
    section = page.get_by_test_id("promo-code")
    field = section.get_by_label(CODE_FIELD)
    apply = section.get_by_role("button", name="Apply")
    expect_fits(page)
    expect_target(field)
    expect_target(apply)

    enter_code(page, "nope2026")
    expect(page.get_by_test_id("error-summary")).to_be_visible()
    expect_fits(page)
    expect_on_screen(field)
    expect_on_screen(section.locator(".field-error"))
    expect_target(apply)

    enter_code(page, PHONE.lower())
    expect(flash(page)).to_contain_text(f"The code {PHONE} is applied: 15% off.")
    expect_fits(page)
    row = discount_row(page)
    expect(row.get_by_role("rowheader")).to_have_text(f"Discount code {PHONE} (15% off)")
    expect_on_screen(row.get_by_role("rowheader"))
    expect_on_screen(page.get_by_test_id("promo-discount"))
    expect(page.get_by_test_id("promo-discount")).to_have_text(f"{MINUS}£0.88")
    expect_one_line(page.get_by_test_id("promo-discount"))
    expect_one_line(page.get_by_test_id("total"))
    font_px = float(row.get_by_role("rowheader").evaluate("e => getComputedStyle(e).fontSize")[:-2])
    assert font_px >= 14, f"the discount row's text is {font_px}px"


def test_removing_the_code_is_a_finger_sized_target_on_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the applied code's "Remove" button is a 44 px target, as the cart lines' are."""
    on_phone(page)
    add(page, shop, HEART, 1)
    enter_code(page, PHONE)
    expect(page.get_by_test_id("promo-applied")).to_contain_text("(applied)")
    expect_target(page.get_by_role("button", name=f"Remove the code {PHONE}"))
