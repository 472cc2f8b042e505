"""QA of the member page's progress line once the next tier's threshold is already reached
(an admin lowered it): no "£0.00 to go (100%)", but when the member moves up."""

from __future__ import annotations

import html
import re

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Membership
from shop.accounts.models import User
from shop.db import utcnow
from tests import factories
from tests.console_support import client_as
from tests.helpers import signed_in_member


def test_a_member_who_already_reaches_the_next_tier_is_not_told_zero_to_go(
    app: Flask, session: Session
) -> None:
    # An admin lowered Silver's threshold below the member's spend: they stay Member until
    # the daily review (or their next paid order) moves them up.
    client, _member_id = signed_in_member(app, session)
    owner = session.get(User, session.scalar(select(Membership)).user_id)
    item = factories.product(session, None, sku="SKU1", name="Lamp", price=15_000)
    placed = factories.order(session, owner, "W-1", [(item, 1)])
    placed.placed_at = utcnow()
    session.commit()
    page = html.unescape(client.get("/account/loyalty").get_data(as_text=True))
    assert 'data-testid="member-tier">Member<' in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "£0.00 to go" not in text
    assert "£150.00 of £100.00" not in text
    assert "already reaches Silver" in text, text
    assert 'data-testid="tier-next-review"' in page

    admin = client_as(app, session, "admin")
    member_id = session.scalar(select(Membership.id))
    console = html.unescape(
        admin.get(f"/console/loyalty/members/{member_id}").get_data(as_text=True)
    )
    assert "£0.00 to Silver" not in console
    assert "already reaches Silver" in console
