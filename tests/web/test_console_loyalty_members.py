"""Console member pages: admins find a member, see their points and tiers, and adjust
points with a note the member sees; bad input is a form error; others get 404."""

from __future__ import annotations

import html
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.models import Membership, PointsEntry
from shop.console.models import AuditEntry
from shop.mail.models import OutboxEmail
from tests import factories
from tests.console_support import client_as
from tests.helpers import csrf_token, sign_in


def _membership(session: Session, email: str, points: int = 0) -> Membership:
    user = factories.member(session, email, points=points)
    found = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
    session.commit()
    return found


def _form(client: FlaskClient, membership_id: int) -> dict[str, str]:
    page = client.get(f"/console/loyalty/members/{membership_id}").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]+)"', page)
    assert key, page
    return {
        "csrf_token": csrf_token(client, f"/console/loyalty/members/{membership_id}"),
        "key": key.group(1),
    }


def test_admins_find_members_and_open_one(app: Flask, session: Session) -> None:
    mia = _membership(session, "mia@example.com", points=120)
    _membership(session, "bob@example.com")
    admin = client_as(app, session, "admin")

    listing = admin.get("/console/loyalty/members/?q=MIA")
    assert listing.status_code == 200
    text = listing.get_data(as_text=True)
    assert "1 member." in text and mia.number in text and "bob@example.com" not in text
    assert "Loyalty members" in admin.get("/console/").get_data(as_text=True)  # in the nav

    page = admin.get(f"/console/loyalty/members/{mia.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="points-balance">120<' in text
    assert "mia@example.com" in text and 'data-testid="adjust-form"' in text


def test_an_adjustment_moves_points_and_the_member_sees_it(app: Flask, session: Session) -> None:
    mia = _membership(session, "mia@example.com", points=120)
    admin = client_as(app, session, "admin")
    form = _form(admin, mia.id)
    data = {**form, "points": "-20", "note": "Points for a <b>returned</b> gift"}
    response = admin.post(f"/console/loyalty/members/{mia.id}/points", data=data)
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Points adjusted by -20; balance 100. The member was told by e-mail." in page
    assert "Points for a &lt;b&gt;returned&lt;/b&gt; gift" in page

    again = admin.post(f"/console/loyalty/members/{mia.id}/points", data=data)  # double click
    assert again.status_code == 302
    changed = {**data, "points": "-30", "note": "A different correction"}  # same form, edited
    assert admin.post(f"/console/loyalty/members/{mia.id}/points", data=changed).status_code == 302
    assert "This form was sent before, so nothing changed now." in admin.get(
        f"/console/loyalty/members/{mia.id}"
    ).get_data(as_text=True)
    session.rollback()
    assert session.get(Membership, mia.id).points_balance == 100
    adjustments = session.scalars(
        select(PointsEntry).where(PointsEntry.reference.like("console:%"))
    ).all()
    assert [(e.points, e.description) for e in adjustments] == [
        (-20, "Points for a <b>returned</b> gift")
    ]
    mail = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "loyalty_points_adjusted")
    ).one()
    assert "Points for a &lt;b&gt;returned&lt;/b&gt; gift" in mail.html_body
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "loyalty.points_adjust")
        )
        == 1
    )

    member_client = app.test_client()
    sign_in(member_client, "mia@example.com", factories.PASSWORD)
    own = member_client.get("/account/loyalty").get_data(as_text=True)
    assert "Adjustment: Points for a &lt;b&gt;returned&lt;/b&gt; gift" in own
    assert 'data-testid="points-balance">100<' in own


def test_bad_adjustments_are_form_errors_and_change_nothing(app: Flask, session: Session) -> None:
    mia = _membership(session, "mia@example.com", points=50)
    admin = client_as(app, session, "admin")
    form = _form(admin, mia.id)
    cases = [
        ({"points": "0", "note": "Goodwill"}, "Give a number of points other than 0."),
        ({"points": "abc", "note": "Goodwill"}, "Not a valid integer value."),
        ({"points": "1e3", "note": "Goodwill"}, "Not a valid integer value."),
        ({"points": "99999999999999999999", "note": "Goodwill"}, "from -1,000,000 to 1,000,000"),
        ({"points": "10", "note": " "}, "Say why: the member sees the note."),
        ({"points": "10", "note": "x" * 201}, "between 3 and 200 characters"),
        (
            {"points": "-51", "note": "Correction"},
            "The member has 50 points; you cannot take off more.",
        ),
        ({"points": "10", "note": "Goodwill", "key": "../../x"}, "The form is out of date"),
    ]
    for fields, message in cases:
        response = admin.post(f"/console/loyalty/members/{mia.id}/points", data={**form, **fields})
        assert response.status_code == 400, fields
        assert message in html.unescape(response.get_data(as_text=True)), fields
    session.rollback()
    assert session.get(Membership, mia.id).points_balance == 50
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_bad_addresses_and_pages(app: Flask, session: Session) -> None:
    mia = _membership(session, "mia@example.com")
    admin = client_as(app, session, "admin")
    assert admin.get("/console/loyalty/members/999999").status_code == 404
    assert admin.get("/console/loyalty/members/?page=0").status_code == 400
    assert admin.get("/console/loyalty/members/?page=9").status_code == 404
    assert admin.get(f"/console/loyalty/members/{mia.id}?points_page=x").status_code == 400
    assert admin.get("/console/loyalty/members/?q=" + "x" * 300).status_code == 400
    mia.status = "closed"
    session.commit()
    assert admin.get(f"/console/loyalty/members/{mia.id}").status_code == 404
    token = csrf_token(admin, "/console/loyalty/members/")
    closed = admin.post(
        f"/console/loyalty/members/{mia.id}/points",
        data={"csrf_token": token, "points": "5", "note": "Goodwill", "key": "0123456789abcdef"},
    )
    assert closed.status_code == 404
    assert "it may have been closed" in closed.get_data(as_text=True)


def test_only_admins_reach_members(app: Flask, session: Session) -> None:
    mia = _membership(session, "mia@example.com", points=10)
    for role in ("merchandiser", "shopper", "anonymous"):
        client = client_as(app, session, role)
        assert client.get("/console/loyalty/members/").status_code == 404, role
        assert client.get(f"/console/loyalty/members/{mia.id}").status_code == 404, role
        response = client.post(
            f"/console/loyalty/members/{mia.id}/points",
            data={
                "csrf_token": csrf_token(client, "/"),
                "points": "5",
                "note": "Goodwill",
                "key": "0123456789abcdef",
            },
        )
        assert response.status_code == 404, role
        client.get("/account/logout")
    session.rollback()
    assert session.get(Membership, mia.id).points_balance == 10
