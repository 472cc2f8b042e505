"""What search engines see: robots.txt, the sitemap (and its index for a large catalogue),
and the canonical address, description, robots rule and JSON-LD in page heads."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any
from urllib import robotparser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from loyalty.models import Tier
from shop.db import utcnow
from shop.seo import crawling, meta
from tests import factories
from tests.console_support import client_as
from tests.helpers import csrf_token, sign_in, signed_in

BASE = "https://shop.example"
NS = {"sm": crawling.NAMESPACE}
LD_JSON = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
NOINDEX = '<meta name="robots" content="noindex">'


@pytest.fixture
def based(app: Flask) -> Flask:
    """The app with an https base URL unlike the test client's host (http://localhost)."""
    app.config["SHOP_BASE_URL"] = BASE
    return app


def _head(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, path
    return response.get_data(as_text=True).split("<body", 1)[0]


def _canonical(head: str) -> list[str]:
    return re.findall(r'<link rel="canonical" href="([^"]*)">', head)


def _description(head: str) -> str:
    found = re.findall(r'<meta name="description" content="([^"]*)">', head)
    assert len(found) == 1, head
    return found[0]


# robots.txt


def test_robots_txt_keeps_crawlers_out_of_private_pages_and_names_the_sitemap(
    based: Flask, client: FlaskClient
) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert f"Sitemap: {BASE}/sitemap.xml" in text.splitlines()

    rules = robotparser.RobotFileParser()
    rules.parse(text.splitlines())
    for path in (
        "/",
        "/products/1",
        "/products/1/image.svg",
        "/products/1/image-social.png",
        "/c/candles",
        "/c/candles?page=2",
    ):
        assert rules.can_fetch("Googlebot", BASE + path), path
    for path in (
        "/account",
        "/account/orders/HP-1001",
        "/account/login",
        "/cart",
        "/checkout",
        "/checkout/pay/secret-token",
        "/orders/secret-token",
        "/console",
        "/console/products",
        "/preferences/unsubscribe/token",
        "/early-access",
        "/webhooks/stripe",
    ):
        assert not rules.can_fetch("Googlebot", BASE + path), path
    # Links from recommendation lists (per visitor) are left to their canonical address.
    assert "Disallow: /*?rec=" in text.splitlines()


def test_robots_txt_of_a_shop_under_a_path_prefixes_its_rules() -> None:
    text = crawling.robots_txt("https://example.com/shop/")
    assert "Disallow: /shop/account" in text.splitlines()
    assert "Allow: /shop/" in text.splitlines()
    assert "Sitemap: https://example.com/shop/sitemap.xml" in text.splitlines()


# The sitemap


def _locs(xml: bytes | str, root: str = "urlset") -> list[str]:
    tree = ET.fromstring(xml)
    assert tree.tag == f"{{{crawling.NAMESPACE}}}{root}"
    child = "url" if root == "urlset" else "sitemap"
    return [
        node.findtext("sm:loc", namespaces=NS) or "" for node in tree.findall(f"sm:{child}", NS)
    ]


def test_the_sitemap_lists_products_on_sale_and_their_categories(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    # A category whose only product is withdrawn, and a product not launched yet.
    empty = factories.category(session, "paper", "Paper goods")
    withdrawn = factories.product(session, empty, sku="P1", name="Old Paper", active=False)
    soon = factories.product(session, None, sku="N1", name="Next Year's Lantern")
    soon.launches_at = utcnow() + timedelta(days=30)
    launched = factories.product(session, None, sku="L1", name="Launched Lantern")
    now = utcnow().replace(microsecond=0)
    launched.created_at, launched.launches_at = now - timedelta(days=10), now - timedelta(days=1)
    launched.updated_at = now - timedelta(days=2)  # edited before its launch
    session.commit()

    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    tree = ET.fromstring(response.data)
    urls = {
        node.findtext("sm:loc", namespaces=NS): node.findtext("sm:lastmod", namespaces=NS)
        for node in tree.findall("sm:url", NS)
    }
    on_sale = ["heart", "lantern", "jumbo", "lunch"]  # lunch is out of stock: still sold
    assert set(urls) == {
        f"{BASE}/",
        f"{BASE}/c/candles",
        f"{BASE}/c/bags",
        *(f"{BASE}/products/{items[key].id}" for key in on_sale),
        f"{BASE}/products/{launched.id}",
    }
    for absent in (items["retired"], withdrawn, soon):
        assert f"{BASE}/products/{absent.id}" not in urls
    # A launched product's page dates from its launch; W3C datetimes in UTC.
    assert (
        urls[f"{BASE}/products/{launched.id}"] == (now - timedelta(days=1)).isoformat() + "+00:00"
    )
    assert urls[f"{BASE}/c/candles"] is not None
    assert urls[f"{BASE}/"] is None


def test_a_product_changed_after_its_launch_dates_from_the_change(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart = items["heart"]
    heart.created_at = utcnow().replace(microsecond=0) - timedelta(days=30)
    heart.updated_at = None
    session.commit()

    def lastmod() -> str | None:
        tree = ET.fromstring(client.get("/sitemap.xml").data)
        for node in tree.findall("sm:url", NS):
            if node.findtext("sm:loc", namespaces=NS) == f"{BASE}/products/{heart.id}":
                return node.findtext("sm:lastmod", namespaces=NS)
        raise AssertionError("the product is not in the sitemap")

    assert lastmod() == heart.created_at.isoformat() + "+00:00"
    heart.price_pence += 10  # a merchandiser's edit, or a sale changing the stock
    session.commit()
    session.refresh(heart)
    assert heart.updated_at is not None and heart.updated_at > heart.created_at
    assert lastmod() == heart.updated_at.replace(microsecond=0).isoformat() + "+00:00"


def test_sitemap_text_is_escaped() -> None:
    entry = crawling.Entry("https://shop.example/c/a?x=1&y=<2>")
    assert _locs(crawling.urlset([entry])) == ["https://shop.example/c/a?x=1&y=<2>"]
    assert "&amp;y=&lt;2&gt;" in crawling.urlset([entry])


def test_a_large_catalogue_is_split_into_a_sitemap_index(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    extra = [factories.product(session, None, sku=f"X{i}", name=f"Extra {i}").id for i in range(3)]
    session.commit()
    whole = set(_locs(client.get("/sitemap.xml").data))
    assert len(whole) == 3 + 4 + 3  # home, 2 categories; 4 + 3 products

    based.config["SITEMAP_MAX_URLS"] = 2
    index = client.get("/sitemap.xml")
    assert index.status_code == 200 and index.mimetype == "application/xml"
    files = _locs(index.data, root="sitemapindex")
    assert files == [
        f"{BASE}/sitemap-pages-1.xml",
        f"{BASE}/sitemap-pages-2.xml",
        f"{BASE}/sitemap-products-1.xml",
        f"{BASE}/sitemap-products-2.xml",
        f"{BASE}/sitemap-products-3.xml",
        f"{BASE}/sitemap-products-4.xml",
    ]
    seen: list[str] = []
    for url in files:
        # At the root, next to /sitemap.xml: a sitemap may list only addresses under its folder.
        assert url.count("/") == 3, url
        part = client.get(url.removeprefix(BASE))
        assert part.status_code == 200 and part.mimetype == "application/xml", url
        locs = _locs(part.data)
        assert 1 <= len(locs) <= 2, url
        seen += locs
    assert len(seen) == len(set(seen)) and set(seen) == whole
    assert f"{BASE}/products/{items['retired'].id}" not in seen
    assert f"{BASE}/products/{extra[-1]}" in seen

    for missing in ("/sitemap-products-5.xml", "/sitemap-pages-3.xml", "/sitemap-other-1.xml"):
        assert client.get(missing).status_code == 404, missing
    assert client.get("/sitemap-products-0.xml").status_code == 404
    assert client.get(f"/sitemap-products-{2**31 - 1}.xml").status_code == 404


def test_each_sitemap_file_costs_one_query(app: Flask, session: Session) -> None:
    factories.small_catalogue(session)
    for i in range(6):
        factories.product(session, None, sku=f"Q{i}", name=f"Query {i}")
    session.commit()
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with app.app_context():
            for kind, number in (("pages", 1), ("products", 1), ("products", 3)):
                statements.clear()
                body = crawling.sitemap_file(session, BASE, kind, number, limit=4)
                assert body is not None and len(_locs(body)) >= 1
                assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
            statements.clear()
            crawling.sitemap_document(session, BASE, limit=4)
            assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_sitemap_limit_must_fit_the_protocol(session: Session) -> None:
    with pytest.raises(ValueError):
        crawling.plan(session, limit=50_001)


# Page heads


def test_a_product_page_has_one_canonical_address_description_and_open_graph(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart = items["heart"]
    heart.description = "A hanging heart for a tea light. " * 12  # about 400 characters
    session.commit()
    url = f"{BASE}/products/{heart.id}"
    for path in (f"/products/{heart.id}", f"/products/{heart.id}?rec={'ab' * 16}&cmp=weekly"):
        head = _head(client, path)
        assert _canonical(head) == [url], path
        assert NOINDEX not in head

    description = _description(head)
    assert len(description) <= meta.DESCRIPTION_CHARS and description.endswith("…")
    assert description == "A hanging heart for a tea light. " * 4 + "A hanging heart for a…"
    assert f'<meta property="og:url" content="{url}">' in head
    assert f'<meta property="og:title" content="{heart.name}">' in head
    assert f'<meta property="og:description" content="{description}">' in head
    assert f'<meta property="og:image" content="{url}/image-social.png">' in head


def test_a_product_without_a_description_is_described_by_name_price_and_code(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    items["heart"].description = ""
    session.commit()
    head = _head(client, f"/products/{items['heart'].id}")
    assert _description(head) == (
        "White Hanging Heart T-Light Holder, £2.95 at Hearth &amp; Parcel. Item code 85123A."
    )


def _structured_data(html: str) -> dict[str, Any]:
    scripts = LD_JSON.findall(html)
    assert len(scripts) == 1
    data: dict[str, Any] = json.loads(scripts[0])
    return data


def test_a_product_page_describes_the_product_and_its_offer_in_json_ld(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart, lunch = items["heart"], items["lunch"]
    data = _structured_data(_head(client, f"/products/{heart.id}"))
    assert data == {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "White Hanging Heart T-Light Holder",
        "sku": "85123A",
        "image": [
            f"{BASE}/products/{heart.id}/image-square.png",
            f"{BASE}/products/{heart.id}/image-4x3.png",
            f"{BASE}/products/{heart.id}/image-16x9.png",
        ],
        "description": "White Hanging Heart T-Light Holder from our range.",
        "url": f"{BASE}/products/{heart.id}",
        "offers": {
            "@type": "Offer",
            "url": f"{BASE}/products/{heart.id}",
            "price": "2.95",
            "priceCurrency": "GBP",
            "availability": "https://schema.org/InStock",
        },
    }
    out = _structured_data(_head(client, f"/products/{lunch.id}"))
    assert out["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert out["offers"]["price"] == "1.65"


def test_a_product_name_cannot_break_out_of_the_json_ld_script(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    cat = factories.category(session)
    name = 'Evil </script><script>alert("x")</script> & <!-- co'
    evil = factories.product(session, cat, sku="EV1", name=name, description=name)
    session.commit()
    html = client.get(f"/products/{evil.id}").get_data(as_text=True)
    assert '<script>alert("x")' not in html
    assert _structured_data(html)["name"] == name
    assert _structured_data(html)["description"] == name


def test_a_category_page_canonical_drops_sorting_and_tracking_but_keeps_its_page(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    based.config["PAGE_SIZE"] = 1
    head = _head(client, "/c/candles?sort=price_asc&utm_source=news&cmp=weekly")
    assert _canonical(head) == [f"{BASE}/c/candles"]
    assert (
        _description(head) == "Candles &amp; holders at Hearth &amp; Parcel: 2 products to browse."
    )
    assert NOINDEX not in head
    head = _head(client, "/c/candles?page=2&sort=name")
    assert _canonical(head) == [f"{BASE}/c/candles?page=2"]
    assert NOINDEX not in head


def test_an_empty_category_is_not_indexed(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    factories.category(session, "paper", "Paper goods")
    session.commit()
    assert NOINDEX in _head(client, "/c/paper")
    assert NOINDEX not in _head(client, "/c/candles")


def test_the_home_page_is_indexed_under_its_own_address(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    head = _head(client, "/?cmp=weekly")
    assert _canonical(head) == [f"{BASE}/"]
    assert NOINDEX not in head


def test_search_results_are_not_indexed(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    for path in ("/search?q=heart", "/search?q=nothing-matches", "/search"):
        head = _head(client, path)
        assert NOINDEX in head, path
        assert _canonical(head) == [], path


def test_private_and_error_pages_are_not_indexed(
    based: Flask, app: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    for path in ("/cart", "/account/login", "/account/register", "/account/password/reset"):
        assert NOINDEX in _head(client, path), path
    token = csrf_token(client)
    added = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1}
    )
    assert added.status_code == 302
    assert NOINDEX in _head(client, "/checkout")
    assert NOINDEX in _head(client, "/products/999999", 404)
    assert NOINDEX in _head(client, f"/products/{items['retired'].id}", 404)
    assert NOINDEX in _head(client, "/orders/no-such-token", 404)

    session.rollback()  # end this session's read snapshot before it writes
    assert NOINDEX in _head(signed_in(app, session), "/account")
    assert NOINDEX in _head(client_as(app, session, "merchandiser"), "/console/")
    for path in ("/orders/a-token", "/account/orders/HP-1", "/preferences/confirm/x"):
        assert meta.noindex_path(path), path
    for path in ("/", "/products/1", "/c/cards", "/cartography"):
        assert not meta.noindex_path(path), path


def test_descriptions_are_cut_at_a_word_boundary() -> None:
    assert meta.trim_description("  short\n text ") == "short text"
    words = "word " * 40
    trimmed = meta.trim_description(words, limit=22)
    assert trimmed == "word word word word…"
    assert meta.trim_description("x" * 30, limit=10) == "x" * 9 + "…"
    assert meta.trim_description("one two, three", limit=9) == "one two…"


def test_a_product_seen_only_through_early_access_is_not_indexed(
    based: Flask, client: FlaskClient, session: Session
) -> None:
    items = factories.small_catalogue(session)
    soon = factories.product(session, items["heart"].category, sku="ADV-1", name="Advent Candle")
    soon.launches_at = utcnow() + timedelta(hours=20)  # inside the default 48 hours
    factories.member(session, "pia@example.com", tier="Platinum")
    tier = session.scalar(select(Tier).where(Tier.name == "Platinum"))
    assert tier is not None
    tier.early_access = True
    session.commit()
    sign_in(client, "pia@example.com", factories.PASSWORD)
    assert NOINDEX in _head(client, f"/products/{soon.id}")
    assert NOINDEX not in _head(client, f"/products/{items['heart'].id}")
