"""Customer analytics in a real browser: a merchandiser reads the RFM segments and value
figures, follows a customer of a segment to their orders, downloads segments as CSV, reads
retention by cohort and checks the shopping funnel, which counts what a shopper did in
another browser during the test. The same pages are then used with the keyboard alone and
on a tablet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy.orm import Session

from loyalty.models import CommunicationPreference
from shop.db import utcnow
from shop.tracking.models import Event
from tests import factories
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
)
from tests.e2e.test_console_journey import sign_in
from tests.e2e.test_keyboard_journey import skip_to_main, tab_to
from tests.e2e.test_mobile_layout import (
    TABLET,
    expect_fits,
    expect_one_line,
    expect_target,
    heading,
)
from tests.factories import small_catalogue
from tests.stripe_support import localstripe_url  # noqa: F401  (a fixture)

MERCHANDISER = "merchandiser@example.com"
CHAMPION = "cara.champion@example.com"
GUEST = "guest.shopper@example.com"
HEART = "White Hanging Heart T-Light Holder"
LAPSED = 60  # one-order customers from long ago: more than a page (50) of one segment
CHAMPION_ORDERS = 6  # £50.00 each, 30 days apart, the last yesterday
CHAMPION_FIRST_DAYS_AGO = 1 + 30 * (CHAMPION_ORDERS - 1)
LAPSED_DAYS_AGO = 300
CSV_FIRST_LINE = (
    "customer,account_id,email,tier,marketing_emails,orders,last_order,"
    "days_since_last_order,spent,r,f,m,segment"
)
# The seeded shop, worked out by hand. Customers: the champion (6 x £50), the guest (2 x
# £25 under one address written two ways), two new customers (£20 each, two days ago) and
# 60 lapsed customers (£10 each, 300 days ago): 64 customers, £990.00 in all.
TOTALS = {
    "customers": "64",
    "repeat_share": "3.1%",  # the champion and the guest: 2 of 64
    "mean_value": "£15.47",  # £990.00 / 64 = £15.46875
    "median_value": "£10.00",
    "top_fifth_share": "48.5%",  # the best 13: £300 + £50 + 2 x £20 + 9 x £10 = £480
    "median_gap": "30 days",  # the champion's five gaps of 30 days and the guest's one of 7
}
# Segment: customers, share, share of sales, mean days since last order, mean orders, mean
# spent. R, F and M are quintiles against all 64: the champion and the guest score 5, 5, 5;
# the new customers R 5, F 1 and M 5 (they beat the 60 lapsed), so FM 3; the lapsed 1, 1, 1.
SEGMENT_FIGURES = {
    "champions": ["2", "3.1%", "35.4%", "2", "4.0", "£175.00"],
    "potential-loyalists": ["2", "3.1%", "4.0%", "2", "1.0", "£20.00"],
    "lost": [str(LAPSED), "93.8%", "60.6%", str(LAPSED_DAYS_AGO), "1.0", "£10.00"],
}
# The funnel of the last 7 (or 30) days before the shopper comes: visitors who browsed,
# looked at a product, added to cart, ordered without paying, and three who paid (one with
# tracking off: no events, but their order's browser counts). Left out: an order with no
# browser to it, and the staff's own browsing.
FUNNEL_BEFORE = {"visited": 7, "viewed": 6, "carted": 5, "ordered": 4, "paid": 3}
FUNNEL_STEPS = list(FUNNEL_BEFORE)
MONTHS_MESSAGE = "Months must be a whole number from 1 to 36, not '40'."


def _days_ago(days: int) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days), time(12))


def _event(session: Session, kind: str, visitor: str, days_ago: int, product_id: int) -> None:
    session.add(
        Event(kind=kind, visitor_id=visitor, product_id=product_id, created_at=_days_ago(days_ago))
    )


def seed_shop(session: Session) -> str:
    """The customers above, their orders, and the clickstream of the last days."""
    heart = small_catalogue(session)["heart"].id
    factories.staff(session, "merchandiser", MERCHANDISER)
    champion = factories.member(session, CHAMPION, tier="Gold")
    session.add(
        CommunicationPreference(
            user_id=champion.id, topic="weekly_deals", status="on", updated_at=utcnow()
        )
    )
    for n in range(CHAMPION_ORDERS):
        factories.bare_order(
            session,
            f"CH-{n + 1}",
            _days_ago(CHAMPION_FIRST_DAYS_AGO - 30 * n),
            5000,
            user_id=champion.id,
            visitor_id="v-champion",
        )
    for number, days_ago, email in (("G-1", 10, "Guest.Shopper@Example.com"), ("G-2", 3, GUEST)):
        factories.bare_order(
            session, number, _days_ago(days_ago), 2500, email=email, visitor_id="v-guest"
        )
    for name, visitor in (("nina", "v-nina"), ("noel", None)):  # nina: tracking off
        account = factories.user(session, f"{name}@example.com", name.title())
        factories.bare_order(
            session, f"N-{name}", _days_ago(2), 2000, user_id=account.id, visitor_id=visitor
        )
    for n in range(LAPSED):
        account = factories.user(session, f"lapsed{n:02}@example.com", f"Lapsed {n}")
        factories.bare_order(
            session, f"L-{n:02}", _days_ago(LAPSED_DAYS_AGO), 1000, user_id=account.id
        )
    # Checked out but never paid: in the funnel, not a customer.
    factories.bare_order(
        session,
        "P-1",
        _days_ago(2),
        1500,
        status="pending_payment",
        email="pending@example.com",
        visitor_id="v-order",
    )
    _event(session, "category_view", "v-browse", 2, heart)
    _event(session, "product_view", "v-look", 2, heart)
    _event(session, "product_view", "v-cart", 1, heart)
    _event(session, "cart_add", "v-cart", 1, heart)
    _event(session, "product_view", "v-order", 2, heart)
    session.commit()
    return ""


@pytest.fixture
def shopper_page(
    browser: Browser, shop: MailShop, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A second browser, with its own cookies, for a shopper."""
    shot = tmp_path / "shopper-failure.png"
    with browser_page(browser, shop.url, request, shot, "the shopper's page") as tab:
        yield tab


def metric(scope: Locator, name: str) -> Locator:
    """A figure marked with data-metric."""
    return scope.locator(f'[data-metric="{name}"]')


def subnav(page: Page) -> Locator:
    """The customer analytics pages' own menu."""
    return page.get_by_role("navigation", name="Customer analytics")


def download_csv(page: Page, link: Locator, tmp_path: Path) -> tuple[str, list[dict[str, str]]]:
    """Click a download link; check the file's header and return its suggested name and
    its rows."""
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None, download.failure()
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_bytes().decode("utf-8")
    assert text.split("\r\n", 1)[0] == CSV_FIRST_LINE, text[:200]
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text, newline="")))


def month_index(day: date) -> int:
    """Months since year 0, so that consecutive months differ by one."""
    return day.year * 12 + day.month - 1


def champion_cohort(today: date, months: int) -> tuple[str, list[str], list[str]]:
    """The champion's cohort (they are alone in it): its data-cohort key, and the retention
    and value cells expected for `months` months."""
    placed = [
        today - timedelta(days=CHAMPION_FIRST_DAYS_AGO - 30 * n) for n in range(CHAMPION_ORDERS)
    ]
    first = month_index(placed[0])
    offsets = [month_index(day) - first for day in placed]
    elapsed = month_index(today) - first
    retention, value = [], []
    for offset in range(months):
        if offset > elapsed:
            retention.append("")
            value.append("")
            continue
        running = ", month still running" if offset == elapsed else ""  # for screen readers
        retention.append(("100%" if offset in offsets else "0%") + running)
        orders = sum(1 for o in offsets if o <= offset)
        value.append(f"£{50 * orders}.00{running}")
    return f"{placed[0]:%Y-%m}", retention, value


def cohort_cells(table: Locator, key: str) -> Locator:
    """The figure cells of one cohort's row (after its label and size)."""
    return table.locator(f'tr[data-cohort="{key}"] td:nth-child(n+3)')


def funnel_figures(page: Page, column: str = "visitors") -> dict[str, int]:
    """Each funnel step's visitors (or "previous_visitors") as shown."""
    table = page.get_by_test_id("funnel-table")
    expect(table).to_be_visible()
    return {
        step: int(metric(table.locator(f'tr[data-step="{step}"]'), column).inner_text())
        for step in FUNNEL_STEPS
    }


def show_funnel(page: Page, start: date, end: date) -> None:
    """Fill in the funnel's period and send it."""
    page.get_by_label("From", exact=True).fill(start.isoformat())
    page.get_by_label("To", exact=True).fill(end.isoformat())
    page.get_by_role("main").get_by_role("button", name="Show").click()


def shop_as_a_visitor(page: Page) -> None:
    """A shopper opens a category and a product and adds it to the cart."""
    page.goto("/")
    page.get_by_role("navigation", name="Categories").get_by_role(
        "link", name="Candles & holders"
    ).click()
    page.get_by_role("main").get_by_role("link", name=HEART).click()
    expect(heading(page)).to_have_text(HEART)
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_test_id("cart-count")).to_have_text("1")


def test_a_merchandiser_reads_segments_cohorts_and_a_funnel_of_real_shopping(
    page: Page, shopper_page: Page, tmp_path: Path
) -> None:
    """Segments and value, a segment's customers and their orders, two CSV downloads,
    cohorts with a refused and a good month count, and the funnel with a refused and a good
    period, whose figures count the shopper's clicks."""
    today = utcnow().date()
    sign_in(page, MERCHANDISER)
    page.goto("/console/")
    console_nav = page.get_by_role("navigation", name="Console")
    console_nav.get_by_role("link", name="Customers", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/customers/$"))
    expect(heading(page)).to_have_text("Customers")
    expect(console_nav.get_by_role("link", name="Customers", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(subnav(page).get_by_role("link", name="Segments and value")).to_have_attribute(
        "aria-current", "page"
    )

    # The value figures and the segments.
    totals = page.get_by_test_id("customer-totals")
    for name, shown in TOTALS.items():
        expect(metric(totals, name)).to_have_text(shown)
    segments = page.get_by_test_id("segments-table")
    expect(segments.locator("tbody tr")).to_have_count(11)
    for slug, figures in SEGMENT_FIGURES.items():
        cells = segments.locator(f'tr[data-segment="{slug}"] td')
        for n, shown in enumerate(figures):
            expect(cells.nth(n)).to_have_text(shown)
    empty = segments.locator('tr[data-segment="at-risk"]')
    expect(metric(empty, "customers")).to_have_text("0")
    expect(empty.get_by_role("link")).to_have_count(0)
    shown_counts = [int(n) for n in metric(segments, "customers").all_inner_texts()]
    assert sum(shown_counts) == 64, shown_counts

    # A segment: the champion first (best spender), then the guest.
    segments.get_by_role("link", name="Champions").click()
    expect(heading(page)).to_have_text("Champions")
    expect(page).to_have_title(re.compile(r"^Champions · Customers"))
    expect(metric(page.get_by_test_id("segment-totals"), "customers")).to_have_text("2")
    expect(metric(page.get_by_test_id("segment-totals"), "spent")).to_have_text("£350.00")
    rows = page.get_by_test_id("segment-customers").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-customer", CHAMPION)
    expect(rows.nth(0).locator(".badge")).to_have_count(0)
    expect(rows.nth(0).locator("td")).to_have_text(
        ["Gold", "6", re.compile(r"\(1 day ago\)"), "£300.00", "5 · 5 · 5", "Weekly deals"]
    )
    expect(rows.nth(1)).to_have_attribute("data-customer", GUEST)
    expect(rows.nth(1).get_by_role("rowheader").locator(".badge")).to_have_text("guest")
    expect(rows.nth(1).locator("td")).to_have_text(
        ["", "2", re.compile(r"\(3 days ago\)"), "£50.00", "5 · 5 · 5", "none agreed"]
    )
    expect(page.get_by_role("navigation", name="Pages")).to_have_count(0)

    # Follow the champion to their page, on to their orders in the console's order list,
    # then the guest (who has no account, so no page: straight to the orders).
    rows.nth(0).get_by_role("link", name=CHAMPION).click()
    expect(page).to_have_url(re.compile(r"/console/customers/account/\d+$"))
    expect(heading(page)).to_have_text(CHAMPION)
    expect(page.get_by_test_id("customer-loyalty")).to_contain_text("Gold")
    page.get_by_role("link", name="All 6 orders").click()
    expect(page).to_have_url(re.compile(r"/console/orders/\?customer=account\+\d+$"))
    expect(heading(page)).to_have_text("Orders")
    expect(page.get_by_label("Customer")).to_have_value(re.compile(r"^account \d+$"))
    expect(page.get_by_test_id("order-count")).to_have_text("6 orders.")
    orders = page.get_by_test_id("orders-table").locator("tbody tr")
    expect(orders.locator("td:first-child")).to_have_text([f"CH-{n}" for n in range(6, 0, -1)])
    page.go_back()
    page.go_back()
    expect(heading(page)).to_have_text("Champions")
    rows.nth(1).get_by_role("link", name=GUEST).click()
    expect(page.get_by_label("Customer")).to_have_value(GUEST)
    expect(page.get_by_test_id("order-count")).to_have_text("2 orders.")
    expect(orders.locator("td:first-child")).to_have_text(["G-2", "G-1"])
    expect(orders.locator("td:nth-child(3)")).to_have_text(
        ["guest.shopper@example.com", "Guest.Shopper@Example.com"]
    )
    page.go_back()

    # The segment's CSV: every customer, best spender first.
    name, table = download_csv(page, page.get_by_test_id("segment-csv"), tmp_path)
    assert name == f"customers-champions-{today.isoformat()}.csv"
    assert len(table) == 2, table
    champion_row, guest_row = table
    assert champion_row["customer"] == champion_row["email"] == CHAMPION
    assert champion_row["account_id"].isdigit()
    assert [champion_row[k] for k in ("tier", "marketing_emails", "orders", "spent")] == [
        "Gold",
        "Weekly deals",
        "6",
        "300.00",
    ]
    assert champion_row["last_order"] == (today - timedelta(days=1)).isoformat()
    assert [guest_row[k] for k in ("customer", "account_id", "orders", "spent", "segment")] == [
        GUEST,
        "",
        "2",
        "50.00",
        "Champions",
    ]

    # The largest segment has two pages; its CSV has all of them.
    page.get_by_role("link", name="← All segments").click()
    segments.get_by_role("link", name="Lost").click()
    expect(heading(page)).to_have_text("Lost")
    expect(rows).to_have_count(50)
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_contain_text("Page 1 of 2")
    pages.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"/segments/lost\?page=2$"))
    expect(page).to_have_title(re.compile(r"^Lost · Customers, page 2 · "))
    expect(rows).to_have_count(LAPSED - 50)
    expect(pages).to_contain_text("Page 2 of 2")
    expect(page.get_by_test_id("segment-csv")).to_have_text(f"Download all {LAPSED} as CSV")
    name, table = download_csv(page, page.get_by_test_id("segment-csv"), tmp_path)
    assert name == f"customers-lost-{today.isoformat()}.csv"
    assert len(table) == LAPSED
    lapsed = {row["customer"] for row in table}
    assert lapsed == {f"lapsed{n:02}@example.com" for n in range(LAPSED)}
    keys = ("orders", "days_since_last_order", "spent", "segment")
    assert {tuple(row[k] for k in keys) for row in table} == {
        ("1", str(LAPSED_DAYS_AGO), "10.00", "Lost")
    }

    # Retention by cohort: the default twelve months, then a month count the browser
    # refuses, the same in the address (a bookmark), and a good one.
    console_nav.get_by_role("link", name="Customers", exact=True).click()
    subnav(page).get_by_role("link", name="Retention by cohort").click()
    expect(page).to_have_url(re.compile(r"/console/customers/cohorts$"))
    months = page.get_by_label("Months")
    expect(months).to_have_value("12")
    retention = page.get_by_test_id("retention-table")
    value = page.get_by_test_id("value-table")
    lapsed_key = f"{today - timedelta(days=LAPSED_DAYS_AGO):%Y-%m}"
    expect(retention.locator(f'tr[data-cohort="{lapsed_key}"] td').first).to_have_text("60")
    expect(cohort_cells(retention, lapsed_key).nth(0)).to_have_text("100%")
    expect(cohort_cells(retention, lapsed_key).nth(1)).to_have_text("0%")
    expect(cohort_cells(value, lapsed_key).nth(1)).to_have_text("£10.00")
    key, shares, values = champion_cohort(today, 12)
    expect(cohort_cells(retention, key)).to_have_text(shares)
    expect(cohort_cells(value, key)).to_have_text(values)

    months.fill("40")
    page.get_by_role("main").get_by_role("button", name="Show").click()
    expect(months).to_be_focused()
    assert months.evaluate("el => el.validity.rangeOverflow"), "the browser let 40 through"
    expect(page).to_have_url(re.compile(r"/console/customers/cohorts$"))
    response = page.goto("/console/customers/cohorts?months=40")
    assert response is not None and response.status == 400
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_role("alert")).to_have_text(MONTHS_MESSAGE)
    expect(months).to_have_accessible_description(MONTHS_MESSAGE)
    expect(page.get_by_test_id("retention-table")).to_have_count(0)
    expect(months).to_have_value("40")

    months.fill("6")
    page.get_by_role("main").get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/console/customers/cohorts\?months=6$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(retention.locator("thead th").last).to_have_text("Month 5")
    expect(retention.locator(f'tr[data-cohort="{lapsed_key}"]')).to_have_count(0)
    key, shares, values = champion_cohort(today, 6)
    expect(cohort_cells(retention, key)).to_have_text(shares)
    expect(cohort_cells(value, key)).to_have_text(values)

    # The shopping funnel, the last 30 days by default.
    subnav(page).get_by_role("link", name="Shopping funnel").click()
    expect(page.get_by_label("From", exact=True)).to_have_value(
        (today - timedelta(days=29)).isoformat()
    )
    expect(page.get_by_label("To", exact=True)).to_have_value(today.isoformat())
    assert funnel_figures(page) == FUNNEL_BEFORE

    # A shopper shops in their own browser; the merchandiser's own look at the storefront
    # is not a visitor's.
    shop_as_a_visitor(shopper_page)
    page.goto("/c/candles")
    page.get_by_role("main").get_by_role("link", name=HEART).click()
    expect(heading(page)).to_have_text(HEART)
    page.goto("/console/")
    console_nav.get_by_role("link", name="Customers", exact=True).click()
    subnav(page).get_by_role("link", name="Shopping funnel").click()

    # A period the wrong way round, then the last 7 days.
    show_funnel(page, today, today - timedelta(days=1))
    expect(page.get_by_role("alert")).to_have_text(
        f"The end date {today - timedelta(days=1)} is before the start date {today}."
    )
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.get_by_test_id("funnel-table")).to_have_count(0)
    expect(page.get_by_label("From", exact=True)).to_have_value(today.isoformat())
    expect(page.get_by_label("To", exact=True)).to_have_value(
        (today - timedelta(days=1)).isoformat()
    )

    show_funnel(page, today - timedelta(days=6), today)
    expect(page).to_have_url(re.compile(r"/console/customers/funnel\?start=[-\d]+&end=[-\d]+$"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_test_id("funnel-table").locator("caption")).to_have_text(
        f"{today - timedelta(days=6)} to {today}, "
        f"next to {today - timedelta(days=13)} to {today - timedelta(days=7)}"
    )
    assert funnel_figures(page) == dict(FUNNEL_BEFORE, visited=8, viewed=7, carted=6)
    # The week before: the guest's first order, paid.
    assert funnel_figures(page, "previous_visitors") == dict.fromkeys(FUNNEL_STEPS, 1)
    carted = page.get_by_test_id("funnel-table").locator('tr[data-step="carted"]')
    expect(metric(carted, "of_previous")).to_have_text("85.7%")  # 6 of 7


def scroll_box(table: Locator) -> Locator:
    """The named box a cohort table scrolls sideways in."""
    box = table.locator("xpath=..")
    expect(box).to_have_attribute("role", "region")
    return box


def test_the_customer_pages_work_with_the_keyboard_alone(page: Page) -> None:
    """Skip link, menus, the month count, the cohort tables' scroll boxes, the funnel's
    dates, a segment, its CSV link and a customer's orders: keys only, focus always shown."""
    sign_in(page, MERCHANDISER)
    page.goto("/console/customers/")

    skip_to_main(page)

    # Cohorts: the browser refuses 40 months and keeps the focus on the field.
    tab_to(page, subnav(page).get_by_role("link", name="Retention by cohort"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cohorts$"))
    months = page.get_by_label("Months")
    tab_to(page, months)
    page.keyboard.press("Control+A")
    page.keyboard.type("40")
    page.keyboard.press("Enter")
    expect(months).to_be_focused()
    expect(page).to_have_url(re.compile(r"/cohorts$"))
    page.keyboard.press("Control+A")
    page.keyboard.type("36")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cohorts\?months=36$"))

    # 36 months are wider than the screen: each table's box takes the focus and scrolls.
    for table in (page.get_by_test_id("retention-table"), page.get_by_test_id("value-table")):
        box = scroll_box(table)
        assert box.evaluate("el => el.scrollWidth > el.clientWidth"), "the table fits"
        tab_to(page, box)
        expect(box).to_have_accessible_name(re.compile(r"^(Bought again|Value per customer)"))
        page.keyboard.press("ArrowRight")
        page.wait_for_function("el => el.scrollLeft > 0", arg=box.element_handle())

    # A server-side refusal (an edited address) puts the focus on the field, described by
    # the message.
    page.goto("/console/customers/cohorts?months=40")
    expect(page).to_have_title(re.compile(r"^Error: Retention by cohort"))
    expect(months).to_be_focused()
    expect(months).to_have_accessible_description(MONTHS_MESSAGE)

    # The funnel: a start date a year later than the end is refused; the year back is shown.
    tab_to(page, subnav(page).get_by_role("link", name="Shopping funnel"), backwards=True)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/funnel$"))
    start = page.get_by_label("From", exact=True)
    start_value = start.input_value()
    tab_to(page, start)
    for key in ("Tab", "Tab", "ArrowUp"):  # Tab moves on to the year, the last part
        page.keyboard.press(key)
    show = page.get_by_role("main").get_by_role("button", name="Show")
    tab_to(page, show)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("is before the start date")
    expect(page).to_have_title(re.compile(r"^Error: Shopping funnel"))
    expect(start).to_be_focused()
    expect(start).to_have_accessible_description(re.compile("is before the start date"))
    for key in ("Tab", "Tab", "ArrowDown"):
        page.keyboard.press(key)
    tab_to(page, show)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("funnel-table")).to_be_visible()
    expect(start).to_have_value(start_value)

    # A segment, its CSV and a customer's orders.
    tab_to(page, subnav(page).get_by_role("link", name="Segments and value"), backwards=True)
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_test_id("segments-table").get_by_role("link", name="Champions"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Champions")
    tab_to(page, page.get_by_test_id("segment-csv"))
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.startswith("customers-champions-")
    tab_to(page, page.get_by_role("link", name=CHAMPION))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text(CHAMPION)
    tab_to(page, page.get_by_role("link", name="All 6 orders"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("order-count")).to_have_text("6 orders.")


def test_the_customer_pages_fit_a_tablet(page: Page) -> None:
    """At 768 px the pages never scroll sideways; the cohort tables, 36 months wide, scroll
    in their own box and keep amounts whole; the menus and buttons are finger-sized."""
    page.set_viewport_size(TABLET)
    sign_in(page, MERCHANDISER)
    for path in (
        "/console/customers/",
        "/console/customers/segments/lost",
        "/console/customers/segments/lost?page=2",
        "/console/customers/funnel",
        "/console/customers/funnel?start=2026-05-02&end=2026-05-01",
        "/console/customers/cohorts?months=40",
        "/console/customers/cohorts?months=36",
    ):
        page.goto(path)
        expect(heading(page)).to_be_visible()
        expect_fits(page)
    page.goto("/console/customers/segments/champions")
    page.get_by_role("link", name=CHAMPION).click()  # the customer's own page
    expect(heading(page)).to_have_text(CHAMPION)
    expect_fits(page)
    page.goto("/console/customers/cohorts?months=36")
    for link in subnav(page).get_by_role("link").all():
        expect_target(link)
    expect_target(page.get_by_role("main").get_by_role("button", name="Show"))
    width = TABLET["width"]
    for table in (page.get_by_test_id("retention-table"), page.get_by_test_id("value-table")):
        box = scroll_box(table)
        inside = box.bounding_box()
        assert inside is not None and inside["x"] + inside["width"] <= width, inside
        assert box.evaluate("el => el.scrollWidth > el.clientWidth"), "the table fits"
        # (The running month's cells also hold a visually hidden note, not a second line.)
        expect_one_line(table.locator("td:not(.partial)").filter(has_text=re.compile(r"\d")))
        # The last month is out of sight until the box is scrolled.
        last = table.locator("thead th").last
        expect(last).to_have_text("Month 35")
        expect(last).not_to_be_in_viewport()
        box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        expect(last).to_be_in_viewport()
        expect_fits(page)
