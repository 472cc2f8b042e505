"""QA of the console member page: a form-level error in the adjustment form's summary."""

from __future__ import annotations

import html
import re

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Membership
from tests import factories
from tests.console_support import client_as
from tests.helpers import csrf_token


def test_taking_off_too_many_points_names_the_field_in_the_error_summary(
    app: Flask, session: Session
) -> None:
    user = factories.member(session, "mia@example.com", points=50)
    found = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    member_id = found.id
    session.commit()
    admin = client_as(app, session, "admin")
    page = admin.get(f"/console/loyalty/members/{member_id}").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', page)
    assert key
    response = admin.post(
        f"/console/loyalty/members/{member_id}/points",
        data={
            "csrf_token": csrf_token(admin, f"/console/loyalty/members/{member_id}"),
            "key": key.group(1),
            "points": "-51",
            "note": "Correction",
        },
    )
    assert response.status_code == 400
    summary = html.unescape(response.get_data(as_text=True))
    assert "The member has 50 points; you cannot take off more." in summary
    assert "<li>: " not in summary and "<li>None: " not in summary
