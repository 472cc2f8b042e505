"""Every response forbids framing and sniffing, keeps secret links out of other sites'
Referer headers, and personal pages out of caches; the console runs only the shop's scripts."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from tests.console_support import client_as


def test_every_page_forbids_framing_and_sniffing(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    for path in ("/", f"/products/{items['heart'].id}", "/account/login", "/no-such-page"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src" not in policy, path


def test_personal_pages_are_not_cached_and_public_ones_may_be(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    assert "Cache-Control" not in client.get("/").headers
    with client.get("/static/css/shop.css") as static:  # a file response: close it
        assert "no-store" not in static.headers.get("Cache-Control", "")
    for path in ("/cart", "/account/login", "/checkout", "/orders/no-such-token"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    shopper = client_as(app, session, "shopper")
    assert shopper.get("/").headers.get("Cache-Control") == "no-store"  # personal lists


def test_the_console_runs_only_the_shops_own_scripts(app: Flask, session: Session) -> None:
    merch = client_as(app, session, "merchandiser")
    response = merch.get("/console/metrics/online")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"].startswith("script-src 'self';")
