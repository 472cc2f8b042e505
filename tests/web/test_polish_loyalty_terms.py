"""The loyalty programme terms on the join and member pages."""

from __future__ import annotations

from html import unescape

from flask import Flask
from sqlalchemy.orm import Session

from tests import factories
from tests.helpers import sign_in

REFUNDS = (
    "If an order is refunded, the points it earned are taken back and the points you spent "
    "on it come back to you, both in proportion to the refund (all of them once the goods "
    "are refunded in full). Points that come back keep the expiry date of the points you "
    "spent, but never expire within 30 days of coming back."
)


def test_the_terms_say_that_spent_points_come_back_on_a_refund(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    factories.member(session, "mia@example.com")
    for email in ("ann@example.com", "mia@example.com"):  # the join page, the member page
        client = app.test_client()
        sign_in(client, email, factories.PASSWORD)
        page = client.get("/account/loyalty")
        assert page.status_code == 200
        assert REFUNDS in unescape(page.get_data(as_text=True)), email


def test_the_terms_heading_shows_once_on_the_member_and_join_pages(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    factories.member(session, "mia@example.com")
    for email in ("ann@example.com", "mia@example.com"):
        client = app.test_client()
        sign_in(client, email, factories.PASSWORD)
        html = client.get("/account/loyalty").get_data(as_text=True)
        assert html.count("Programme terms (version 2026-11") == 1, email
        assert html.count('id="terms-heading"') == 1, email
    # The member page's heading is the summary that opens the terms.
    assert '<summary id="terms-heading">Programme terms (version 2026-11)</summary>' in html
