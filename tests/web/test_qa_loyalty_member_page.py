"""QA of the member page's points history: the wording of points a refund takes back, and
big figures with thousands separators like the balance."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy.orm import Session

from loyalty import ledger
from shop.db import db
from tests.helpers import signed_in_member


def _history_rows(page: str) -> list[str]:
    rows = re.findall(r'<tr data-testid="points-row">(.*?)</tr>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_points_a_refund_takes_back_are_not_worded_refund_twice(
    app: Flask, session: Session
) -> None:
    client, member_id = signed_in_member(app, session)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member_id, 120, "earn", "order:1", description="Order W-1")
        ledger.append(own, member_id, -40, "refund", "refund:1", description="Refund on order W-1")
    rows = _history_rows(client.get("/account/loyalty").get_data(as_text=True))
    assert rows[0].endswith("Taken back: Refund on order W-1 -40"), rows
    assert not any("Refund: Refund" in row for row in rows)


def test_big_point_figures_in_the_history_have_thousands_separators(
    app: Flask, session: Session
) -> None:
    client, member_id = signed_in_member(app, session)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member_id, 12_500, "earn", "order:1", description="Order W-1")
        ledger.append(own, member_id, -2_000, "redeem", "order:2", description="Used on W-2")
    page = client.get("/account/loyalty").get_data(as_text=True)
    rows = _history_rows(page)
    assert "-2,000" in rows[0] and "+12,500" in rows[1], rows
    assert 'data-testid="points-balance">10,500<' in page
