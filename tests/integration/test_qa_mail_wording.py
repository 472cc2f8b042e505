"""QA of the shop's e-mails: both parts of an e-mail say the same thing."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask

from shop.mail.outbox import render_email

BASE = "http://127.0.0.1:5000"
TIER_NEWS = {
    "name": "Mia",
    "tier": "Gold",
    "old_name": None,
    "notice": False,
    "better": ["Free standard delivery"],
    "worse": [],
    "benefits": ["Points on every order", "Free standard delivery"],
    "member_url": f"{BASE}/account/loyalty",
    "unsubscribe_url": f"{BASE}/preferences/unsubscribe/x",
    "preferences_url": f"{BASE}/account/preferences",
}


def _plain(body: str) -> str:
    """The words of an e-mail part, tags removed and whitespace collapsed."""
    inline = re.sub(r"</?(?:strong|em|b|a)\b[^>]*>", "", body)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


@pytest.mark.parametrize(
    ("name", "greeting"), [("Mia", "Hello Mia, Good news"), (None, "Hello, Good news")]
)
def test_the_tier_news_greets_the_member_alike_in_both_parts(
    app: Flask, name: str | None, greeting: str
) -> None:
    with app.app_context():
        text, page = render_email("loyalty_tier_news", {**TIER_NEWS, "name": name})
    for part in (_plain(text), _plain(page)):
        assert greeting in part, part
