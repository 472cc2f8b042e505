"""QA of the member page's points history: the wording of points a refund takes back, and
big figures with thousands separators like the balance."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty import ledger, membership, tiers
from shop.db import db
from tests import factories
from tests.helpers import sign_in


def _member(app: Flask, session: Session) -> tuple[FlaskClient, int]:
    """A signed-in customer who joined (default tiers: £0 / £100 / £500 / £1,500)."""
    user = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    user_id = user.id
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        member = membership.join(own, user_id, consent=True).membership
        member_id = member.id
    session.rollback()
    return client, member_id


def _history_rows(page: str) -> list[str]:
    rows = re.findall(r'<tr data-testid="points-row">(.*?)</tr>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_points_a_refund_takes_back_are_not_worded_refund_twice(
    app: Flask, session: Session
) -> None:
    client, member_id = _member(app, session)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member_id, 120, "earn", "order:1", description="Order W-1")
        ledger.append(own, member_id, -40, "refund", "refund:1", description="Refund on order W-1")
    rows = _history_rows(client.get("/account/loyalty").get_data(as_text=True))
    assert rows[0].endswith("Taken back: Refund on order W-1 -40"), rows
    assert not any("Refund: Refund" in row for row in rows)


def test_big_point_figures_in_the_history_have_thousands_separators(
    app: Flask, session: Session
) -> None:
    client, member_id = _member(app, session)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member_id, 12_500, "earn", "order:1", description="Order W-1")
        ledger.append(own, member_id, -2_000, "redeem", "order:2", description="Used on W-2")
    page = client.get("/account/loyalty").get_data(as_text=True)
    rows = _history_rows(page)
    assert "-2,000" in rows[0] and "+12,500" in rows[1], rows
    assert 'data-testid="points-balance">10,500<' in page
