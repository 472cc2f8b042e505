"""QA of the programme terms: they say how points are worked out as the shop works them out
(to the penny, times the multiplier, then rounded down), and big figures read well."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from sqlalchemy.orm import Session

from loyalty import rules
from tests import factories
from tests.helpers import sign_in


def _terms(app: Flask, session: Session) -> str:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    page = unescape(client.get("/account/loyalty").get_data(as_text=True))
    found = re.search(r'data-testid="loyalty-terms">(.*?)</section>', page, re.S)
    assert found, page
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_terms_describe_earning_as_it_is_computed(app: Flask, session: Session) -> None:
    # £10.50 of goods at 1.25x: "every whole pound, times the multiplier" would be 12 points.
    assert rules.points_for_order(1050, 1, 125) == 13
    terms = _terms(app, session)
    assert "for every whole pound" not in terms
    assert "rounded down" in terms, terms


def test_the_terms_write_big_figures_with_thousands_separators(
    app: Flask, session: Session
) -> None:
    terms = _terms(app, session)
    assert "20,000 at most per order" in terms, terms
