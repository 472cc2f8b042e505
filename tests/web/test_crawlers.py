"""Crawlers, and staff checking the shop while signed in, read it without counting as
shoppers: no clickstream events, no impressions, while pages, lists and a browser's own
tracking stay as they are."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from shop.tracking.robots import is_robot
from tests.console_support import client_as
from tests.helpers import csrf_token

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PHONE = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    "agent",
    [
        GOOGLEBOT,
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    ],
)
def test_crawlers_are_recognised(agent: str) -> None:
    assert is_robot(agent)


@pytest.mark.parametrize(
    "agent",
    [
        PHONE,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "",
        None,
    ],
)
def test_browsers_are_not_crawlers(agent: str | None) -> None:
    assert not is_robot(agent)


def _counts(session: Session) -> tuple[int, int]:
    session.rollback()
    events = session.scalar(select(func.count(Event.id))) or 0
    impressions = session.scalar(select(func.count(Impression.id))) or 0
    return events, impressions


def test_a_crawler_reading_product_pages_leaves_no_events_or_impressions(
    client: FlaskClient, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    before = _counts(session)
    crawler = {"User-Agent": GOOGLEBOT}
    page = client.get(f"/products/{shop['jumbo'].id}", headers=crawler)
    assert page.status_code == 200
    assert re.search(r'href="/products/\d+\?rec=', page.get_data(as_text=True))  # a list
    assert client.get("/", headers=crawler).status_code == 200
    assert client.get("/search?q=bag", headers=crawler).status_code == 200
    assert _counts(session) == before

    browser = client.application.test_client()
    assert browser.get(f"/products/{shop['jumbo'].id}", headers={"User-Agent": PHONE}).status_code
    events, impressions = _counts(session)
    assert events == before[0] + 1 and impressions > before[1]


def test_robots_txt_and_the_sitemap_set_no_visitor_cookie(client: FlaskClient) -> None:
    for path in ("/robots.txt", "/sitemap.xml"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path


def test_a_merchandiser_browsing_the_shop_leaves_no_events_or_impressions(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    staff = client_as(app, session, "merchandiser")
    before = _counts(session)
    page = staff.get(f"/products/{shop['jumbo'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'href="/products/\d+\?rec=', html)  # the lists are still shown
    assert "Signed in as staff: what you browse here is not recorded" in html
    assert staff.get("/").status_code == 200
    assert staff.get("/search?q=bag").status_code == 200
    token = csrf_token(staff, f"/products/{shop['jumbo'].id}")
    added = staff.post(
        "/cart/add", data={"csrf_token": token, "product_id": shop["jumbo"].id, "quantity": 1}
    )
    assert added.status_code == 302
    assert _counts(session) == before

    shopper = client_as(app, session, "shopper")
    before = _counts(session)
    html = shopper.get(f"/products/{shop['jumbo'].id}").get_data(as_text=True)
    assert "Signed in as staff" not in html
    events, impressions = _counts(session)
    assert events == before[0] + 1 and impressions > before[1]
