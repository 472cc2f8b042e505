"""The loyalty programme in a real browser: a signed-in shopper joins with consent, pays
for an order with a card through localstripe, sees the points it earned and their progress
to the next tier, ticks a marketing topic and confirms it from the e-mail that reached an
SMTP server."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect
from sqlalchemy.orm import Session

from loyalty.tiers import ensure_default_tiers
from tests import factories
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.factories import small_catalogue
from tests.stripe_support import (
    CARD_OK,
    localstripe_url,  # noqa: F401  (a fixture)
)

HEART = "White Hanging Heart T-Light Holder"
HEARTS = 4
# Four heart holders (4 x £2.95 = £11.80) with express delivery (£7.95).
GOODS = "£11.80"
TOTAL = "£19.75"
# 1 point per whole pound of goods at the Member tier's 1x; shipping earns nothing.
POINTS = "11"
# The default tiers of a small catalogue: Member from £0, Silver from £100.
TO_SILVER = "£88.20"
PERCENT_TO_SILVER = "11"
PAYMENT_TIMEOUT_MS = 15_000
CONFIRM_LINK = re.compile(r"https?://\S+/preferences/confirm/[A-Za-z0-9_-]+")


def seed_shop(session: Session) -> str:
    email = f"lena-{uuid.uuid4().hex[:10]}@example.com"
    small_catalogue(session)
    ensure_default_tiers(session)
    factories.user(session, email=email, name="Lena Loyal")
    return email


def heading(page: Page) -> Locator:
    """The page's main heading."""
    return page.get_by_role("heading", level=1)


def flash(page: Page) -> Locator:
    """The flashed messages."""
    return page.get_by_role("status")


def sign_in(page: Page, email: str) -> None:
    """Sign in through the login form."""
    page.goto("/account/login")
    expect(heading(page)).to_have_text("Sign in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(flash(page)).to_have_text("You are signed in.")


def open_loyalty_page(page: Page) -> None:
    """Follow the account page's link to the loyalty page."""
    page.goto("/account")
    expect(heading(page)).to_have_text("My account")
    page.get_by_test_id("account-links").get_by_role(
        "link", name="Loyalty membership and points"
    ).click()
    expect(page).to_have_url(re.compile(r"/account/loyalty$"))


def join_with_consent(page: Page) -> str:
    """Try to join without consent (refused), then with it; return the membership number."""
    expect(heading(page)).to_have_text("Join the loyalty programme")
    expect(page.get_by_test_id("loyalty-terms")).to_be_visible()
    tiers = page.get_by_test_id("loyalty-tier-table").get_by_role("row")
    expect(tiers).to_have_count(5)  # the header and Member, Silver, Gold, Platinum
    expect(tiers.nth(2)).to_contain_text("Silver")
    expect(tiers.nth(2)).to_contain_text("£100.00 a year")

    consent = page.get_by_label("I have read and accept the programme terms")
    join = page.get_by_role("button", name="Join the programme")
    join.click()
    expect(heading(page)).to_have_text("Join the loyalty programme")
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(consent).to_have_accessible_description("Please accept the programme terms to join.")

    consent.check()
    join.click()
    expect(heading(page)).to_have_text("Your membership")
    number = page.get_by_test_id("member-number")
    expect(number).to_have_text(re.compile(r"^\S+$"))
    member_number = number.inner_text()
    expect(flash(page)).to_have_text(f"Welcome! Your membership number is {member_number}.")
    expect(page.get_by_test_id("member-tier")).to_have_text("Member")
    expect(page.get_by_test_id("points-balance")).to_have_text("0")
    expect(page.get_by_text("No points yet.")).to_be_visible()
    expect(page.get_by_test_id("tier-row")).to_have_count(1)
    expect(page.get_by_test_id("tier-row")).to_contain_text("Joined at Member")
    expect(page.get_by_test_id("tier-remaining")).to_have_text("£100.00")
    expect(page.get_by_test_id("tier-percent")).to_have_text("0%")
    return member_number


def buy_hearts(page: Page, email: str) -> str:
    """Put heart holders in the cart, check out with express delivery and pay by card;
    return the order number."""
    page.goto("/c/candles")
    page.get_by_role("main").get_by_role("link", name=HEART).click()
    expect(heading(page)).to_have_text(HEART)
    page.get_by_label("Quantity").fill(str(HEARTS))
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_test_id("cart-count")).to_have_text(str(HEARTS))
    page.get_by_role("link", name="Go to checkout").click()

    expect(heading(page)).to_have_text("Your details")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Full name").fill("Lena Loyal")
    page.get_by_label("Address", exact=True).fill("3 Minster Yard")
    page.get_by_label("Town or city").fill("York")
    page.get_by_label("Postcode").fill("YO1 7JF")
    page.get_by_label("Country").select_option("United Kingdom")
    page.get_by_role("button", name="Continue to delivery").click()

    expect(heading(page)).to_have_text("Delivery")
    page.get_by_label("Express delivery").check()
    page.get_by_role("button", name="Review your order").click()

    expect(heading(page)).to_have_text("Review your order")
    expect(page.get_by_role("heading", name="Your points")).to_be_visible()
    expect(page.get_by_test_id("summary-subtotal")).to_have_text(GOODS)
    expect(page.get_by_test_id("summary-total")).to_have_text(TOTAL)
    page.get_by_role("button", name=f"Place order and pay {TOTAL}").click()

    expect(page).to_have_url(re.compile(r"/checkout/pay/[^/]+$"))
    expect(heading(page)).to_have_text("Payment")
    expect(page.get_by_test_id("pay-total")).to_have_text(TOTAL)
    card = page.locator("#card-element")
    card.get_by_placeholder("number", exact=True).fill(CARD_OK)
    card.get_by_placeholder("exp_month", exact=True).fill("12")
    card.get_by_placeholder("exp_year", exact=True).fill("34")
    card.get_by_placeholder("cvc", exact=True).fill("123")
    card.get_by_placeholder("postal_code", exact=True).fill("YO17J")
    page.get_by_role("button", name=f"Pay {TOTAL}").click()

    expect(page).to_have_url(re.compile(r"/orders/[^/]+$"), timeout=PAYMENT_TIMEOUT_MS)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect(page.get_by_test_id("order-total")).to_have_text(TOTAL)
    expect(page.get_by_test_id("cart-count")).to_have_text("0")
    expect(heading(page)).to_have_text(re.compile(r"^Order \S+$"))
    return heading(page).inner_text().removeprefix("Order ").strip()


def expect_points_and_progress(page: Page, order_number: str) -> None:
    """The member page shows the order's points and the spend towards Silver."""
    open_loyalty_page(page)
    expect(heading(page)).to_have_text("Your membership")
    expect(page.get_by_test_id("points-balance")).to_have_text(POINTS)
    rows = page.get_by_test_id("points-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"Earned: Order {order_number}")
    expect(rows.first.get_by_role("cell").nth(2)).to_have_text(f"+{POINTS}")
    expect(page.get_by_test_id("member-tier")).to_have_text("Member")
    expect(page.get_by_text(f"{GOODS} of £100.00 in the last 12 months")).to_be_visible()
    expect(page.get_by_test_id("tier-remaining")).to_have_text(TO_SILVER)
    expect(page.get_by_test_id("tier-percent")).to_have_text(f"{PERCENT_TO_SILVER}%")
    progress = page.get_by_role("progressbar", name="Progress to Silver")
    expect(progress).to_have_attribute("value", PERCENT_TO_SILVER)


def topic(page: Page, name: str) -> Locator:
    """One marketing topic's row on the preferences page."""
    return page.get_by_test_id(f"topic-{name}")


def test_a_member_joins_buys_earns_points_and_confirms_weekly_deals(
    page: Page, shop: MailShop
) -> None:
    """Join, pay by card, see points and tier progress, opt in to weekly deals and
    confirm from the e-mail; the preferences page then shows the topic on."""
    sign_in(page, shop.email)
    open_loyalty_page(page)
    member_number = join_with_consent(page)

    order_number = buy_hearts(page, shop.email)
    expect_points_and_progress(page, order_number)

    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    subjects = sorted(str(m["Subject"]) for m in shop.mail_to(shop.email))
    assert subjects == [
        f"Welcome to the programme: membership {member_number}",
        f"Your order {order_number} is confirmed",
    ]

    page.goto("/account")
    page.get_by_role("link", name="Communication preferences").click()
    expect(heading(page)).to_have_text("E-mail preferences")
    weekly = page.get_by_label("Weekly deals")
    expect(weekly).not_to_be_checked()
    expect(topic(page, "weekly_deals")).to_have_attribute("data-status", "off")
    weekly.check()
    page.get_by_role("button", name="Save e-mail choices").click()
    expect(flash(page)).to_contain_text("we've sent you an e-mail to confirm weekly deals")
    expect(topic(page, "weekly_deals")).to_have_attribute("data-status", "pending")
    expect(topic(page, "weekly_deals")).to_contain_text("waiting for you to confirm")
    expect(page.get_by_label("Weekly deals")).to_be_checked()
    for other in ("recommendations", "tier_news"):
        expect(topic(page, other)).to_have_attribute("data-status", "off")

    report = shop.deliver_mail()
    assert report.sent == 1 and report.failed == 0, report.errors
    opt_ins = [
        m
        for m in shop.mail_to(shop.email)
        if m["Subject"] == "Please confirm: weekly deals e-mails"
    ]
    assert len(opt_ins) == 1, [str(m["Subject"]) for m in shop.mail_to(shop.email)]
    links = CONFIRM_LINK.findall(text_body(opt_ins[0]))
    assert len(links) == 1, text_body(opt_ins[0])
    assert links[0].startswith(f"{shop.url}/preferences/confirm/")

    page.goto(links[0])
    expect(heading(page)).to_have_text("Confirm your subscription")
    page.get_by_role("button", name="Yes, send me weekly deals").click()
    expect(heading(page)).to_have_text("You're subscribed")
    expect(page.get_by_test_id("confirm-result")).to_contain_text("you will now get weekly deals")
    page.get_by_role("link", name="Your e-mail preferences").click()
    expect(heading(page)).to_have_text("E-mail preferences")
    expect(topic(page, "weekly_deals")).to_have_attribute("data-status", "on")
    expect(topic(page, "weekly_deals")).to_contain_text("subscribed")
    expect(page.get_by_label("Weekly deals")).to_be_checked()

    report = shop.deliver_mail()
    assert report.sent == 1 and report.failed == 0, report.errors
    subscribed = [
        m for m in shop.mail_to(shop.email) if m["Subject"] == "You're subscribed to weekly deals"
    ]
    assert len(subscribed) == 1, [str(m["Subject"]) for m in shop.mail_to(shop.email)]
    assert "/preferences/unsubscribe/" in str(subscribed[0]["List-Unsubscribe"])

    # The link works once.
    page.goto(links[0])
    expect(heading(page)).to_have_text("This link can't be used")
    expect(page.get_by_test_id("confirm-result")).to_contain_text("already been used")
