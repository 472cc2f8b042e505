"""QA fixes for members, checked on the rendered e-mails."""

from __future__ import annotations

import html
import re

from flask import Flask

from shop.mail.outbox import render_email

REDEEMED = {
    "name": "Mia",
    "number": "HP-1001",
    "points": 1000,
    "value": "£10.00",
    "balance": 2000,
    "order_url": "http://127.0.0.1:5000/orders/abc",
    "member_url": "http://127.0.0.1:5000/account/loyalty",
}


def _plain(body: str) -> str:
    """The words of an e-mail part, tags removed and whitespace collapsed."""
    inline = re.sub(r"</?(?:strong|em|b|a)\b[^>]*>", "", body)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def test_the_points_redeemed_email_says_the_same_true_thing_in_both_parts(app: Flask) -> None:
    with app.app_context():
        text, page = render_email("loyalty_points_redeemed", REDEEMED)
    text, page = _plain(text), _plain(page)
    # The e-mail is sent once the order is paid: nothing about cancelling before payment.
    assert "cancelled" not in text and "cancelled" not in page
    for sentence in (
        "used 1,000 points (£10.00) on order HP-1001.",
        "Your points balance is now 2,000 points.",
        "If the order is refunded, the points you used come back to you in proportion to the "
        "goods refunded, all of them when all the goods are refunded.",
        "You are receiving this e-mail because you used loyalty points on an order at",
        "It is about that order only, not marketing.",
    ):
        assert sentence in text, sentence
        assert sentence in page, sentence
