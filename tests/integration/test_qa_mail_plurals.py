"""QA of the shop's e-mails: one point is "1 point", in the subject and in both parts."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from loyalty import notifications
from shop.mail.models import OutboxEmail
from shop.mail.outbox import render_email
from shop.orders.models import Order

BASE = "http://127.0.0.1:5000"
MEMBER = {"name": "Mia", "number": "HP-1001", "member_url": f"{BASE}/account/loyalty"}


def _plain(body: str) -> str:
    """The words of an e-mail part, tags removed and whitespace collapsed."""
    inline = re.sub(r"</?(?:strong|em|b|a)\b[^>]*>", "", body)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


class _Collect:
    """Stands in for a session: keeps the outbox rows added to it."""

    def __init__(self) -> None:
        self.rows: list[OutboxEmail] = []

    def add(self, row: OutboxEmail) -> None:
        self.rows.append(row)


def _people(balance: int) -> tuple[Any, Any]:
    user = SimpleNamespace(id=7, email="mia@example.com", name="Mia", deleted_at=None)
    member = SimpleNamespace(number="HP-1001", points_balance=balance)
    return user, member


ONE_POINT_EMAILS = [
    (
        "loyalty_points_adjusted",
        {**MEMBER, "points": 1, "note": "Goodwill", "balance": 1},
        ["added 1 point to membership HP-1001.", "Your points balance is now 1 point."],
    ),
    (
        "loyalty_points_adjusted",
        {**MEMBER, "points": -1, "note": "Correction", "balance": 1},
        ["took 1 point off membership HP-1001.", "Your points balance is now 1 point."],
    ),
    (
        "loyalty_points_expiring",
        {
            **MEMBER,
            "points": 1,
            "expires_on": "25 Nov 2028",
            "balance": 1,
            "min_redeem_points": 0,
        },
        [
            "1 point of membership HP-1001 expires on 25 Nov 2028.",
            "Spend it at checkout before then to keep its value.",
            "Your balance today: 1 point.",
        ],
    ),
    (
        "loyalty_points_redeemed",
        {
            **MEMBER,
            "number": "W1",
            "points": 1,
            "value": "£0.01",
            "balance": 1,
            "order_url": f"{BASE}/orders/abc",
        },
        ["used 1 point (£0.01) on order W1.", "Your points balance is now 1 point."],
    ),
    (
        "loyalty_refund_points",
        {**MEMBER, "order_number": "W1", "returned": 1, "taken_back": 1, "shortfall": 1},
        [
            "1 point you used on this order is back in your account.",
            "1 point this order earned was taken back.",
            "1 more point it earned could not be taken back, because you had already spent it.",
            "Your points balance is now 1 point.",
        ],
    ),
]


@pytest.mark.parametrize(("template", "context", "sentences"), ONE_POINT_EMAILS)
def test_one_point_is_written_in_the_singular_in_both_parts(
    app: Flask, template: str, context: dict[str, Any], sentences: list[str]
) -> None:
    context = {"balance": 1, **context}
    with app.app_context():
        text, page = render_email(template, context)
    text, page = _plain(text), _plain(page)
    for part in (text, page):
        assert "1 points" not in part
        for sentence in sentences:
            assert sentence in part, (sentence, part)


def test_the_weekly_deals_and_cancelled_order_emails_say_1_point(app: Flask) -> None:
    deals = {
        "name": "Mia",
        "week": 48,
        "items": [],
        "shop_url": BASE,
        "tier_name": "Member",
        "perks": [],
        "member_number": "HP-1001",
        "points": 1,
        "member_url": f"{BASE}/account/loyalty",
        "unsubscribe_url": f"{BASE}/preferences/unsubscribe/x",
        "preferences_url": f"{BASE}/account/preferences",
    }
    with app.app_context():
        parts = render_email("weekly_deals", deals)
    for part in map(_plain, parts):
        assert "Member HP-1001 · 1 point." in part, part
    order = Order(  # never stored: only rendered
        number="W1",
        currency="GBP",
        lines=[],
        subtotal_pence=100,
        discount_pence=1,
        tier_discount_pence=0,
        tier_discount_label=None,
        points_discount_pence=1,
        points_redeemed=1,
        shipping_method="standard",
        shipping_pence=395,
        total_pence=494,
        refunded_pence=0,
        ship_name="Mia",
        ship_line1="1 Market Street",
        ship_line2=None,
        ship_city="York",
        ship_postcode="YO1 7HH",
        country="United Kingdom",
    )
    cancelled = {"order": order, "order_url": f"{BASE}/orders/abc", "points_returned": 1}
    with app.app_context():
        parts = render_email("order_cancelled", cancelled)
    for part in map(_plain, parts):
        assert "The 1 point you chose to spend on it goes back to your points balance." in part
        assert "Points (1)" in part


@pytest.mark.parametrize(
    ("send", "args", "subject"),
    [
        (notifications.send_points_adjusted, (1, "Goodwill"), "We added 1 point to your account"),
        (notifications.send_points_adjusted, (-1, "Fix"), "We took 1 point off your account"),
        (notifications.send_points_expiring, (1, "2028-11-25"), "1 point expires on 25 Nov 2028"),
        (
            notifications.send_points_expiring,
            (2000, "2028-11-05"),
            "2,000 points expire on 05 Nov 2028",
        ),
    ],
)
def test_the_subjects_of_the_points_emails_count_points_right(
    app: Flask, send: Any, args: tuple[Any, ...], subject: str
) -> None:
    session = _Collect()
    user, member = _people(balance=1)
    with app.app_context():
        assert send(session, user, member, *args)
    assert [row.subject for row in session.rows] == [subject]
