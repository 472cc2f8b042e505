"""Console fixes from a QA round of whole workflows: each test fails without its fix."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.db import db
from shop.personalization import service
from tests.console_support import client_as

VERSIONS = "/console/recommendations/versions"


def _form_fields(page: str, action: str) -> dict[str, str]:
    """The hidden and text inputs of the page's form posting to `action`."""
    match = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
    assert match, f"no form posting to {action}"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", match.group(0)):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


def test_a_roll_back_sent_twice_goes_back_one_version_not_two(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    with app.app_context():
        first = service().store.active()
        second = service().train(db.session)
        third = service().train(db.session)
        assert service().store.active() == third
    merch = client_as(app, session, "merchandiser")
    button = _form_fields(merch.get(VERSIONS).get_data(as_text=True), f"{VERSIONS}/rollback")
    done = merch.post(f"{VERSIONS}/rollback", data=button, follow_redirects=True)
    assert f"Rolled back: version {second} is live again." in done.get_data(as_text=True)
    again = merch.post(f"{VERSIONS}/rollback", data=button, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert f"Rolled back: version {second} is live again." not in page
    assert f"Not rolled back: version {second} is live now, not version {third}" in page
    with app.app_context():
        assert service().store.active() == second  # not first: one step back, as clicked
        assert service().store.active() != first
    session.rollback()
    rollbacks = session.scalars(
        select(AuditEntry.after).where(AuditEntry.action == "model.rollback")
    ).all()
    assert rollbacks == [second]

    # A page opened before the roll-back still rolls back once it is reloaded.
    button = _form_fields(merch.get(VERSIONS).get_data(as_text=True), f"{VERSIONS}/rollback")
    assert button["shown"] == second
    back = merch.post(f"{VERSIONS}/rollback", data=button, follow_redirects=True)
    assert f"Rolled back: version {first} is live again." in back.get_data(as_text=True)
    # A form that does not say what it showed changes nothing.
    with app.app_context():
        service().store.activate(third)
    blind = merch.post(
        f"{VERSIONS}/rollback", data={"csrf_token": button["csrf_token"]}, follow_redirects=True
    )
    assert "the page did not say which version it showed" in blind.get_data(as_text=True)
    with app.app_context():
        assert service().store.active() == third
