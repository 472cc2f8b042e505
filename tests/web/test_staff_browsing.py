"""Staff checking the shop while signed in are not shoppers: nothing they browse is
recorded, no list they see is counted, and no A/B test assigns them."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests.console_support import client_as
from tests.helpers import csrf_token


def _counts(session: Session) -> tuple[int, int]:
    session.rollback()
    events = session.scalar(select(func.count(Event.id))) or 0
    impressions = session.scalar(select(func.count(Impression.id))) or 0
    return events, impressions


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
