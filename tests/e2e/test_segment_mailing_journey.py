"""Mailings to an RFM segment in a real browser: a merchandiser goes from a segment's page to
the mailing form, sees who it reaches, previews the best spender's copy and queues it; the
job e-mails each customer who still wants personal recommendations once, through an SMTP
server, with the note as text and links to working product pages; an empty subject is
refused; a mailing scheduled for later waits, is listed as scheduled and can be cancelled,
and then never goes; the form works with the keyboard alone; and it fits a phone."""

from __future__ import annotations

import html
import re
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import current_app
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from loyalty import segment_mailings
from loyalty.models import (
    Campaign,
    CommunicationPreference,
    SegmentMailing,
    SegmentMailingRecipient,
)
from shop.accounts.models import User
from shop.analytics import rfm
from shop.db import db, utcnow
from tests import factories
from tests.e2e.conftest import browser_page
from tests.e2e.mail_shop import (  # noqa: F401  (the *_fixture names are fixtures)
    MailShop,
    live_server_fixture,
    shop_fixture,
    smtp_fixture,
    text_body,
)
from tests.e2e.test_keyboard_journey import tab_to
from tests.e2e.test_loyalty_journey import flash, heading, sign_in
from tests.e2e.test_mobile_layout import expect_fits, expect_target, on_phone
from tests.recommendation_support import trained_buyers
from tests.stripe_support import localstripe_url  # noqa: F401  (a fixture)

MERCHANDISER = "merchandiser@example.com"
FORM = "/console/campaigns/segment-mailing"
NOTE_LABEL = "Your note (plain text; a blank line starts a new paragraph)"
FIRST = "Our winter range is in."
SECOND = "We picked a few things <b>for you</b>."
NOTE = f"{FIRST}\n\n{SECOND}"
REASON = re.compile(r"Because you (bought|viewed)|Often bought with|shoppers who liked .+ bought")

# The eight trained buyers (buyer0..7, "Buyer 0".."Buyer 7") all place one paid order three
# days ago, and so does a guest: nine customers scored alike, in one segment. Buyer 2 spends
# a little more, the segment's best spender; five recent, big guest orders elsewhere keep
# that from lifting buyer 2 into another segment. Who confirmed personal recommendations:
REACHABLE = [2, 0, 6]  # best spender first, then by account
UNSUBSCRIBES = 6  # counted when the mailing is queued, says no before it goes out
RECEIVE = [n for n in REACHABLE if n != UNSUBSCRIBES]
NOT_CONFIRMED = {1: None, 3: "pending", 7: "off"}  # never asked, not confirmed, unsubscribed
WEEKLY_ONLY = 4  # confirmed weekly deals, not personal recommendations
DELETED = 5  # confirmed, then deleted the account
GUEST = "guest@example.com"
SEGMENT_CUSTOMERS = 9
LEFT_OUT = SEGMENT_CUSTOMERS - len(REACHABLE)


def buyer(n: int) -> str:
    return f"buyer{n}@example.com"


def _consent(session: Session, user: User, topic: str, status: str) -> None:
    session.add(
        CommunicationPreference(user_id=user.id, topic=topic, status=status, updated_at=utcnow())
    )


def seed_shop(session: Session) -> str:
    buyers = trained_buyers(current_app._get_current_object(), session)
    placed = datetime.combine(utcnow().date() - timedelta(days=3), time(12))
    for n, account in enumerate(buyers):
        factories.bare_order(session, f"S{n}", placed, 2100 if n == 2 else 2000, user_id=account.id)
    factories.bare_order(session, "G1", placed, 2000, email=GUEST)
    for n in range(5):
        factories.bare_order(
            session, f"V{n}", placed + timedelta(days=2), 10_000, email=f"big{n}@example.com"
        )
    for n in [*REACHABLE, DELETED]:
        _consent(session, buyers[n], "recommendations", "on")
    for n, status in NOT_CONFIRMED.items():
        if status:
            _consent(session, buyers[n], "recommendations", status)
    _consent(session, buyers[WEEKLY_ONLY], "weekly_deals", "on")
    # By a statement: training in its own app context left `buyers` out of this session.
    session.execute(update(User).where(User.email == buyer(DELETED)).values(deleted_at=utcnow()))
    factories.staff(session, "merchandiser", MERCHANDISER)
    session.commit()
    return ""


def the_segment(shop: MailShop) -> rfm.Segment:
    """The one segment that holds the nine customers."""
    with shop.app.app_context():
        today = utcnow().date()
        [segment] = [
            s
            for s in rfm.SEGMENT_LIST
            if segment_mailings.audience(db.session, s.slug, today).customers == SEGMENT_CUSTOMERS
        ]
        return segment


def mailings(shop: MailShop) -> list[tuple[str, str, str, int, str]]:
    """Every segment mailing in the database: campaign key, segment, subject, audience and
    status."""
    with shop.app.app_context():
        rows = db.session.execute(
            select(
                Campaign.key,
                SegmentMailing.segment,
                SegmentMailing.subject,
                SegmentMailing.audience,
                SegmentMailing.status,
            )
            .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
            .order_by(SegmentMailing.id)
        )
        return [tuple(row) for row in rows]


def campaign_count(shop: MailShop) -> int:
    with shop.app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(Campaign)) or 0)


def recipients(shop: MailShop, key: str) -> set[str]:
    """The e-mail addresses a queued mailing's recipient list holds."""
    with shop.app.app_context():
        return set(
            db.session.scalars(
                select(User.email)
                .join(SegmentMailingRecipient, SegmentMailingRecipient.user_id == User.id)
                .join(SegmentMailing, SegmentMailing.id == SegmentMailingRecipient.mailing_id)
                .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
                .where(Campaign.key == key)
            )
        )


def metric(scope: Locator, name: str) -> Locator:
    return scope.locator(f'[data-metric="{name}"]')


def subject_field(page: Page) -> Locator:
    return page.get_by_label("Subject", exact=True)


def note_field(page: Page) -> Locator:
    return page.get_by_label(NOTE_LABEL, exact=True)


def send_button(page: Page, customers: int | None = None) -> Locator:
    """The button that queues the mailing ("Send to N customers")."""
    count = str(customers) if customers is not None else r"\d+"
    return page.get_by_role("button", name=re.compile(rf"^Send to {count} customers?$"))


def send_segment_mailings(shop: MailShop) -> str:
    """Run `flask loyalty send-segment-mailings`; its output."""
    result = shop.app.test_cli_runner().invoke(args=["loyalty", "send-segment-mailings"])
    assert result.exit_code == 0, result.output
    return result.output


def with_subject(shop: MailShop, address: str, subject: str) -> list[EmailMessage]:
    return [m for m in shop.mail_to(address) if str(m["Subject"]) == subject]


def html_body(message: EmailMessage) -> str:
    """The HTML part of a message."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None, message
    return str(part.get_content())


def test_a_merchandiser_emails_a_segment_and_each_reachable_customer_gets_it_once(
    page: Page, shop: MailShop, browser: Browser, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """From the segment's page to the form: the audience, a preview of the best spender's
    copy with the note as text and picks with reasons, then queued and listed as waiting.
    One of them unsubscribes in the browser before the job runs, which then sends it once to
    each customer who still wants personal recommendations, over SMTP, with the note
    escaped in the HTML part; a product link in it opens a product page
    and counts as a click; a second run sends nothing and the mailing shows as sent."""
    segment = the_segment(shop)
    subject = "Winter picks"
    before = mailings(shop)

    sign_in(page, MERCHANDISER)
    page.goto("/console/")
    page.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Customers", exact=True
    ).click()
    expect(heading(page)).to_have_text("Customers")
    row = page.get_by_test_id("segments-table").locator(f'tr[data-segment="{segment.slug}"]')
    expect(metric(row, "customers")).to_have_text(str(SEGMENT_CUSTOMERS))
    row.get_by_role("link", name=segment.name, exact=True).click()
    expect(heading(page)).to_have_text(segment.name)
    expect(metric(page.get_by_test_id("segment-totals"), "customers")).to_have_text(
        str(SEGMENT_CUSTOMERS)
    )

    page.get_by_role("link", name="E-mail this segment").click()
    expect(page).to_have_url(f"{shop.url}{FORM}?segment={segment.slug}")
    expect(heading(page)).to_have_text("E-mail a segment")
    audience = page.get_by_test_id("audience")
    expect(audience.get_by_role("heading")).to_have_text(f"Who it reaches in {segment.name}")
    expect(metric(audience, "customers")).to_have_text(str(SEGMENT_CUSTOMERS))
    expect(metric(audience, "reachable")).to_have_text(str(len(REACHABLE)))
    expect(metric(audience, "left-out")).to_have_text(str(LEFT_OUT))
    expect(page.get_by_label("Segment", exact=True)).to_have_value(segment.slug)
    expect(send_button(page, len(REACHABLE))).to_be_visible()

    subject_field(page).fill(subject)
    note_field(page).fill(NOTE)
    page.get_by_role("button", name="Preview", exact=True).click()
    preview = page.get_by_test_id("mail-preview")
    expect(preview).to_contain_text(f"As {buyer(2)} (the segment's best spender who gets it)")
    copy = preview.locator("pre")
    expect(copy).to_contain_text(f"Subject: {subject}")
    expect(copy).to_contain_text("Hello Buyer 2,")
    assert f"Hello Buyer 2,\n\n{FIRST}\n\n{SECOND}\n\nPicked for you:" in copy.inner_text()
    expect(copy.locator("b")).to_have_count(0)  # the note is text, never markup
    expect(copy).to_contain_text("Picked for you:")
    picks = re.findall(
        rf"^- (.+) \(£[\d.]+\)\n  (.+)\n  {re.escape(shop.url)}/products/\d+$",
        copy.inner_text(),
        re.M,
    )
    assert picks, copy.inner_text()
    assert all(REASON.search(reason) for _name, reason in picks), picks
    # The form keeps what was written, and nothing is queued by a preview.
    expect(subject_field(page)).to_have_value(subject)
    expect(note_field(page)).to_have_value(NOTE)
    assert mailings(shop) == before

    send_button(page, len(REACHABLE)).click()
    expect(page).to_have_url(f"{shop.url}/console/campaigns/")
    expect(heading(page)).to_have_text("Campaigns")
    today = f"{utcnow().date():%Y%m%d}"
    message = flash(page)
    expect(message).to_have_text(
        re.compile(
            rf"^Queued “{subject}” for {len(REACHABLE)} customers in {re.escape(segment.name)} "
            rf"\(campaign segment-{segment.slug}-{today}(-\d+)?\)\. "
            r"The e-mails go out within a minute\.$"
        )
    )
    found = re.search(r"\(campaign ([\w-]+)\)", message.inner_text())
    assert found
    key = found.group(1)
    assert mailings(shop) == [*before, (key, segment.slug, subject, len(REACHABLE), "queued")]
    assert recipients(shop, key) == {buyer(n) for n in REACHABLE}
    listed = page.get_by_test_id("segment-mailings").locator(f'tr[data-key="{key}"]')
    expect(listed).to_contain_text(subject)
    expect(listed).to_contain_text(segment.name)
    expect(listed).to_contain_text(MERCHANDISER)
    expect(listed.locator('[data-col="status"]')).to_have_text("waiting to send, within a minute")

    # Nobody is e-mailed before the job runs.
    shop.deliver_mail()
    assert all(with_subject(shop, buyer(n), subject) == [] for n in range(8))

    # One of them stops personal recommendations before it goes out.
    shot = tmp_path / "unsubscriber-failure.png"
    with browser_page(browser, shop.url, request, shot, "the unsubscriber's page") as customer:
        sign_in(customer, buyer(UNSUBSCRIBES))
        customer.goto("/account/preferences")
        expect(heading(customer)).to_have_text("E-mail preferences")
        customer.get_by_label("Personal recommendations", exact=True).uncheck()
        customer.get_by_role("button", name="Save e-mail choices").click()
        expect(flash(customer)).to_have_text("You will no longer get personal recommendations.")

    output = send_segment_mailings(shop)
    assert f"Campaign {key}: {len(RECEIVE)} e-mails queued, 0 already sent, 0 failed" in output
    report = shop.deliver_mail()
    assert report.failed == 0 and report.retrying == 0, report.errors
    for n in RECEIVE:
        assert len(with_subject(shop, buyer(n), subject)) == 1, buyer(n)
    for left_out in [buyer(n) for n in range(8) if n not in RECEIVE] + [GUEST]:
        assert with_subject(shop, left_out, subject) == [], left_out

    [email] = with_subject(shop, buyer(2), subject)
    body = text_body(email).replace("\r\n", "\n")
    assert f"Hello Buyer 2,\n\n{FIRST}\n\n{SECOND}\n\nPicked for you:" in body
    assert REASON.search(body), body
    assert "asked for personal recommendations" in body
    assert email["List-Unsubscribe"]
    markup = html_body(email)
    assert "We picked a few things &lt;b&gt;for you&lt;/b&gt;." in markup
    assert "<b>" not in markup
    assert re.search(rf">\s*{re.escape(FIRST)}\s*</p>", markup)  # a paragraph each
    links = re.findall(
        rf'href="({re.escape(shop.url)}/products/\d+\?rec=[0-9a-f]{{32}}&amp;cmp={key})"'
        r"[^>]*>([^<]+)</a>",
        markup,
    )
    assert links, markup
    product_link, product_name = html.unescape(links[0][0]), html.unescape(links[0][1])

    shot = tmp_path / "reader-failure.png"
    with browser_page(browser, shop.url, request, shot, "the reader's page") as customer:
        customer.goto(product_link)
        expect(heading(customer)).to_have_text(product_name)
        expect(customer.get_by_role("button", name="Add to cart")).to_be_visible()

    assert send_segment_mailings(shop) == "No segment mailings waiting.\n"
    report = shop.deliver_mail()
    assert report.sent == 0 and report.failed == 0, report.errors
    for n in RECEIVE:
        assert len(with_subject(shop, buyer(n), subject)) == 1, buyer(n)
    assert with_subject(shop, buyer(UNSUBSCRIBES), subject) == []

    page.reload()
    expect(listed.locator('[data-col="status"]')).to_have_text(
        re.compile(rf"^sent {len(RECEIVE)} e-mails, \d\d \w{{3}} \d\d:\d\d$")
    )
    campaign = page.get_by_test_id("campaigns").locator(f'tr[data-key="{key}"]')
    expect(campaign.locator('[data-col="sends"]')).to_have_text(str(len(RECEIVE)))
    expect(campaign.locator('[data-col="clicks"]')).to_have_text("1")
    # The audience stays as counted; the status says how many went out.
    assert (key, segment.slug, subject, len(REACHABLE), "sent") in mailings(shop)
    assert recipients(shop, key) == set()


def test_a_mailing_scheduled_for_later_waits_and_once_cancelled_never_goes(
    page: Page, shop: MailShop
) -> None:
    """A time in the "Send at" field schedules the mailing: listed as scheduled for that
    time, the job leaves it alone; its Cancel button takes it back, it is listed as
    cancelled by the merchandiser, its recipient list goes, and the job sends nothing."""
    segment = the_segment(shop)
    subject = "Early sale, scheduled"
    before = mailings(shop)
    send_at = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    when = f"{send_at:%d %b %Y %H:%M} UTC"

    sign_in(page, MERCHANDISER)
    page.goto(f"{FORM}?segment={segment.slug}")
    expect(heading(page)).to_have_text("E-mail a segment")
    reachable = int(metric(page.get_by_test_id("audience"), "reachable").inner_text())
    assert reachable > 0
    send_field = page.get_by_label("Send at (UTC, optional)", exact=True)
    expect(send_field).to_have_attribute("type", "datetime-local")
    expect(send_field).to_have_accessible_description(
        re.compile(r"^Leave it empty to send within a minute, or choose a time in UTC")
    )
    subject_field(page).fill(subject)
    note_field(page).fill(NOTE)
    send_field.fill(f"{send_at:%Y-%m-%dT%H:%M}")
    send_button(page, reachable).click()

    expect(heading(page)).to_have_text("Campaigns")
    message = flash(page)
    expect(message).to_have_text(
        re.compile(
            rf"^Scheduled “{subject}” for {reachable} customers? in "
            rf"{re.escape(segment.name)} \(campaign segment-{segment.slug}-\d{{8}}(-\d+)?\) "
            rf"to go out at {re.escape(when)}\.$"
        )
    )
    found = re.search(r"\(campaign ([\w-]+)\)", message.inner_text())
    assert found
    key = found.group(1)
    assert mailings(shop) == [*before, (key, segment.slug, subject, reachable, "queued")]
    # The people the form counted (the first journey's unsubscriber, if it ran, is not one).
    listed_people = recipients(shop, key)
    assert len(listed_people) == reachable and listed_people <= {buyer(n) for n in REACHABLE}
    listed = page.get_by_test_id("segment-mailings").locator(f'tr[data-key="{key}"]')
    expect(listed.locator('[data-col="status"]')).to_have_text(f"scheduled for {when}")

    # The job leaves it for later.
    assert key not in send_segment_mailings(shop)
    assert mailings(shop)[-1] == (key, segment.slug, subject, reachable, "queued")

    cancel = listed.get_by_role("link", name=f"Cancel “{subject}”", exact=True)
    expect(cancel).to_be_visible()
    cancel.click()
    # It asks first, naming what would not go out; "Keep it" goes back with nothing changed.
    expect(heading(page)).to_have_text(f"Cancel “{subject}”?")
    expect(page.get_by_test_id("mailing-facts")).to_contain_text(when)
    page.get_by_role("link", name="Keep it").click()
    expect(heading(page)).to_have_text("Campaigns")
    assert mailings(shop)[-1] == (key, segment.slug, subject, reachable, "queued")
    cancel.click()
    page.get_by_role("button", name="Cancel the mailing").click()
    expect(heading(page)).to_have_text("Campaigns")
    expect(flash(page)).to_have_text(f"Cancelled “{subject}” (campaign {key}); nobody gets it.")
    expect(listed.locator('[data-col="status"]')).to_have_text(
        re.compile(
            rf"^cancelled by {re.escape(MERCHANDISER)} on \d\d \w{{3}} \d{{4}} \d\d:\d\d UTC$"
        )
    )
    expect(listed.get_by_role("link", name=re.compile("^Cancel"))).to_have_count(0)
    assert mailings(shop)[-1] == (key, segment.slug, subject, reachable, "cancelled")
    assert recipients(shop, key) == set()

    assert key not in send_segment_mailings(shop)
    shop.deliver_mail()
    assert all(with_subject(shop, buyer(n), subject) == [] for n in range(8))
    assert mailings(shop)[-1] == (key, segment.slug, subject, reachable, "cancelled")


def test_an_empty_subject_is_refused_and_nothing_is_queued(page: Page, shop: MailShop) -> None:
    """Sent without a subject, the form comes back with a summary linking to the field and
    the note kept; a subject of spaces is refused the same way; nothing is queued."""
    segment = the_segment(shop)
    before, campaigns = mailings(shop), campaign_count(shop)
    sign_in(page, MERCHANDISER)
    page.goto(f"{FORM}?segment={segment.slug}")
    expect(heading(page)).to_have_text("E-mail a segment")

    for typed in ["", "   "]:
        subject_field(page).fill(typed)
        note_field(page).fill(NOTE)
        send_button(page).click()
        expect(page).to_have_title(re.compile(r"^Error: "))
        expect(heading(page)).to_have_text("E-mail a segment")
        summary = page.get_by_test_id("error-summary")
        expect(summary).to_have_attribute("role", "alert")
        expect(summary).to_contain_text("Please correct this field:")
        expect(subject_field(page)).to_have_accessible_description("Write a subject.")
        expect(subject_field(page)).to_have_attribute("aria-invalid", "true")
        expect(note_field(page)).to_have_value(NOTE)
        expect(page.get_by_test_id("mail-preview")).to_have_count(0)
        note_field(page).focus()
        summary.get_by_role("link", name="Subject", exact=True).click()
        expect(subject_field(page)).to_be_focused()
        assert mailings(shop) == before
        assert campaign_count(shop) == campaigns


def test_the_form_is_filled_previewed_and_sent_with_the_keyboard(
    page: Page, shop: MailShop
) -> None:
    """Tab and Enter alone: from the segment's page to the form, write, preview and send."""
    segment = the_segment(shop)
    subject = "Picked by keyboard"
    before = mailings(shop)
    sign_in(page, MERCHANDISER)
    page.goto(f"/console/customers/segments/{segment.slug}")
    expect(heading(page)).to_have_text(segment.name)
    tab_to(page, page.get_by_role("link", name="E-mail this segment"))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("E-mail a segment")
    reachable = int(metric(page.get_by_test_id("audience"), "reachable").inner_text())
    assert reachable > 0

    tab_to(page, subject_field(page))
    page.keyboard.type(subject)
    tab_to(page, note_field(page))
    page.keyboard.type(FIRST)
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    page.keyboard.type(SECOND)
    tab_to(page, page.get_by_role("button", name="Preview", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("mail-preview").locator("pre")).to_contain_text(
        f"Subject: {subject}"
    )
    expect(note_field(page)).to_have_value(NOTE)
    assert mailings(shop) == before

    tab_to(page, send_button(page, reachable))
    page.keyboard.press("Enter")
    expect(heading(page)).to_have_text("Campaigns")
    expect(flash(page)).to_contain_text(f"Queued “{subject}” for {reachable} customer")
    [*earlier, (key, slug, written, audience, status)] = mailings(shop)
    assert earlier == before
    assert (slug, written, audience, status) == (segment.slug, subject, reachable, "queued")
    expect(
        page.get_by_test_id("segment-mailings").locator(f'tr[data-key="{key}"]')
    ).to_contain_text(subject)


def test_the_form_and_its_preview_fit_a_phone(page: Page, shop: MailShop) -> None:
    """At 360 px the segment's page and the form, before and with the preview, do not
    scroll sideways, and the link and buttons are 44 px targets."""
    segment = the_segment(shop)
    before = mailings(shop)
    sign_in(on_phone(page), MERCHANDISER)
    page.goto(f"/console/customers/segments/{segment.slug}")
    expect(heading(page)).to_have_text(segment.name)
    link = page.get_by_role("link", name="E-mail this segment")
    expect_target(link)
    link.click()
    expect(heading(page)).to_have_text("E-mail a segment")
    expect_fits(page)
    expect_target(page.get_by_role("button", name="Preview", exact=True))
    expect_target(send_button(page))

    subject_field(page).fill("A long subject for a small screen, to see that it wraps well")
    note_field(page).fill(NOTE + "\n\n" + "Averyveryverylongwordwithoutanyspaces" * 4)
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.get_by_test_id("mail-preview")).to_contain_text("Picked for you:")
    expect_fits(page)
    expect_target(page.get_by_role("button", name="Preview", exact=True))
    expect_target(send_button(page))
    expect_target(page.get_by_role("button", name="Choose this segment"))
    assert mailings(shop) == before
