"""The contact page: the support and postal addresses from the settings, and how
cancelling and returns work; every storefront page links to it."""

from __future__ import annotations

from html import unescape

from flask import Flask
from flask.testing import FlaskClient

from shop.contact import support_address


def test_the_contact_page_gives_the_addresses_and_the_rules(
    app: Flask, client: FlaskClient
) -> None:
    app.config["SUPPORT_EMAIL"] = "help@hearth-parcel.example"
    app.config["LEGAL_ADDRESS"] = "Hearth & Parcel Ltd, 1 Coney Street, York YO1 9QL"
    response = client.get("/contact")
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert 'href="mailto:help@hearth-parcel.example"' in page
    assert "Hearth & Parcel<br>Hearth & Parcel Ltd<br>1 Coney Street<br>York YO1 9QL" in page
    assert "Until we dispatch an order you can cancel it yourself on its page" in page
    assert 'for 30 days after it arrives, choose "Return items…" on its page' in page
    assert 'href="/contact"' in unescape(client.get("/").get_data(as_text=True))
    app.config["RETURNS_ADDRESS"] = ""  # no returns address: returns are arranged by e-mail
    page = unescape(client.get("/contact").get_data(as_text=True))
    assert "tell us within 14 days of receiving it, by e-mail" in page
    assert "Return items…" not in page


def test_without_settings_it_points_at_the_mail_sender_and_shows_no_postal_address(
    app: Flask, client: FlaskClient
) -> None:
    page = unescape(client.get("/contact").get_data(as_text=True))
    assert 'href="mailto:orders@hearth-parcel.example"' in page
    assert 'data-testid="postal-address"' not in page


def test_the_support_address_falls_back_to_the_senders() -> None:
    assert support_address({"MAIL_FROM": "Shop <shop@example.com>"}) == "shop@example.com"
    assert support_address({"SUPPORT_EMAIL": "a@b.example", "MAIL_FROM": "x@y"}) == "a@b.example"
    assert support_address({}) == ""
