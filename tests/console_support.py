"""Console test helpers: staff and shopper logins, and the console's routes."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests import factories
from tests.helpers import csrf_token, sign_in
from tests.web.page_forms import read_form

ROLES = ("anonymous", "shopper", "merchandiser", "admin")


def client_as(app: Flask, session: Session, role: str) -> FlaskClient:
    """A test client signed in as a new account with the given role ("anonymous": none)."""
    client = app.test_client()
    if role == "anonymous":
        return client
    if role == "shopper":
        account = factories.user(session, "shopper@example.com", "Shopper")
    else:
        account = factories.staff(session, role)
    email = account.email
    session.commit()
    assert email
    sign_in(client, email, factories.PASSWORD)
    session.rollback()  # start a fresh snapshot after the login's writes
    return client


def console_token(client: FlaskClient, path: str = "/console/") -> str:
    """A CSRF token read from a console page."""
    return csrf_token(client, path)


def confirmed(
    client: FlaskClient, path: str, data: dict[str, str], follow_redirects: bool = False
) -> TestResponse:
    """Post a form whose action is shown on a page of its own first (a publish, a discard,
    a revert), then confirm it there, carrying over what that page carries."""
    review = client.post(path, data=data)
    assert review.status_code == 200, review.get_data(as_text=True)[:300]
    html = review.get_data(as_text=True)
    assert 'data-testid="action-review"' in html
    carried = read_form(html).values
    return client.post(path, data={**carried, "confirm": "1"}, follow_redirects=follow_redirects)


def review_lines(html: str) -> list[str]:
    """What a confirmation page says will happen, one line each."""
    found = re.search(r'data-testid="review-lines">(.*?)</ul>', html, re.S)
    assert found, "no confirmation page"
    return [unescape(line) for line in re.findall(r"<li>(.*?)</li>", found.group(1))]


def console_rules(app: Flask) -> list[tuple[str, str, set[str], bool]]:
    """Every /console route as (rule, endpoint, methods, admin only)."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console"):
            continue
        view = app.view_functions[rule.endpoint]
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        found.append((rule.rule, rule.endpoint, methods, bool(getattr(view, "admin_only", False))))
    return found


def concrete(rule: str) -> str:
    """A URL for a rule, with every variable part filled in with 1 (or 'x')."""
    return re.sub(
        r"<(?:(\w+):)?(\w+)>", lambda m: "1" if m.group(1) in ("int", None) else "x", rule
    )
