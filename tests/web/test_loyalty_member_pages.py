"""Member pages: joining with consent, the member page, pagination, and IDOR checks (a
member only ever sees their own membership)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import ledger, membership, tiers
from loyalty.models import Membership
from shop.db import db, utcnow
from tests import factories
from tests.helpers import csrf_token, sign_in


def _client(app: Flask, session: Session, email: str, name: str) -> tuple[FlaskClient, int]:
    user = factories.user(session, email, name)
    session.commit()
    user_id = user.id
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    session.rollback()
    return client, user_id


def _join(client: FlaskClient, consent: bool = True) -> object:
    token = csrf_token(client, "/account/loyalty")
    data = {"csrf_token": token}
    if consent:
        data["consent"] = "y"
    return client.post("/account/loyalty/join", data=data)


def _member_via_service(app: Flask, user_id: int, points: int = 0) -> Membership:
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        member = membership.join(own, user_id, consent=True).membership
        for i in range(points):
            ledger.append(
                own, member.id, 10 + i, "earn", f"order:{user_id}-{i}", description=f"Order B{i}"
            )
        return member


def test_the_page_needs_a_sign_in(client: FlaskClient) -> None:
    response = client.get("/account/loyalty")
    assert response.status_code == 302
    assert "/account/login" in response.headers["Location"]
    assert client.post("/account/loyalty/join").status_code in (302, 400)


def test_a_customer_sees_the_terms_and_joins(app: Flask, session: Session) -> None:
    client, user_id = _client(app, session, "ann@example.com", "Ann")
    page = client.get("/account/loyalty")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Programme terms" in html and 'name="consent"' in html
    response = _join(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/loyalty")
    member_page = client.get("/account/loyalty").get_data(as_text=True)
    session.rollback()
    member = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert member is not None
    assert member.number in member_page
    assert 'data-testid="member-tier">Member<' in member_page
    assert "Progress to Silver" in member_page
    assert "<progress" in member_page


def test_joining_without_consent_is_a_clear_error(app: Flask, session: Session) -> None:
    client, _user_id = _client(app, session, "ann@example.com", "Ann")
    response = _join(client, consent=False)
    assert response.status_code == 400
    assert "Please accept the programme terms to join." in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership)) == 0


def test_joining_again_shows_the_member_page(app: Flask, session: Session) -> None:
    client, _user_id = _client(app, session, "ann@example.com", "Ann")
    assert _join(client).status_code == 302
    again = _join(client)
    assert again.status_code == 302
    stale = _join(client, consent=False)  # an old join tab, box not ticked
    assert stale.status_code == 302 and stale.headers["Location"].endswith("/account/loyalty")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership)) == 1
    assert "Your membership" in client.get("/account/loyalty").get_data(as_text=True)


def test_points_history_is_paginated(app: Flask, session: Session) -> None:
    client, user_id = _client(app, session, "ann@example.com", "Ann")
    _member_via_service(app, user_id, points=25)
    first = client.get("/account/loyalty").get_data(as_text=True)
    assert first.count('data-testid="points-row"') == 20
    assert "points_page=2" in first
    second = client.get("/account/loyalty?points_page=2").get_data(as_text=True)
    assert second.count('data-testid="points-row"') == 5
    balance = sum(10 + i for i in range(25))
    assert f'data-testid="points-balance">{balance:,}<' in second
    assert client.get("/account/loyalty?points_page=9").status_code == 404
    assert client.get("/account/loyalty?points_page=abc").status_code == 400
    assert client.get("/account/loyalty?history_page=-1").status_code == 400


def test_points_returned_by_a_refund_are_labelled_in_the_history(
    app: Flask, session: Session
) -> None:
    client, user_id = _client(app, session, "ann@example.com", "Ann")
    member = _member_via_service(app, user_id)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member.id, 300, "adjust", "gift", description="Welcome gift")
        ledger.append(own, member.id, -300, "redeem", "order:1", description="Used on order W-1")
        ledger.append(
            own,
            member.id,
            300,
            "redeem_refund",
            "refund:1",
            description="From the refund on order W-1",
        )
    html = client.get("/account/loyalty").get_data(as_text=True)
    assert "Returned: From the refund on order W-1" in html
    assert "Spent: Used on order W-1" in html
    assert 'data-testid="points-balance">300<' in html


def test_points_expiring_soon_are_dated_as_the_history_dates_them(
    app: Flask, session: Session
) -> None:
    client, user_id = _client(app, session, "ann@example.com", "Ann")
    member = _member_via_service(app, user_id)
    soon = utcnow() + timedelta(days=10)
    with app.app_context(), db.transaction() as own:
        ledger.append(own, member.id, 1200, "earn", "order:soon", expires_at=soon)
    html = client.get("/account/loyalty").get_data(as_text=True)
    assert f"<li>1,200 points expire on {soon:%d %b %Y}</li>" in html
    assert soon.date().isoformat() not in html


def test_member_a_never_sees_member_b(app: Flask, session: Session) -> None:
    client_a, a_id = _client(app, session, "ann@example.com", "Ann")
    _client_b, b_id = _client(app, session, "bob@example.com", "Bob")
    a = _member_via_service(app, a_id, points=1)
    b = _member_via_service(app, b_id, points=3)
    for query in (
        "",
        f"?user_id={b_id}",
        f"?membership_id={b.id}",
        f"?member={b.number}",
        f"?number={b.number}",
        f"?id={b.id}",
    ):
        page = client_a.get(f"/account/loyalty{query}").get_data(as_text=True)
        html = page.split("<main", 1)[1].split("</main>", 1)[0]  # the frame echoes the URL
        assert a.number in html
        assert b.number not in html and "Order B2" not in html
    for path in (
        f"/account/loyalty/{b.number}",
        f"/account/loyalty/{b.id}",
        f"/account/loyalty/members/{b.id}",
    ):
        response = client_a.get(path)
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert "Order B" not in html and "points-balance" not in html


def test_member_b_cannot_be_changed_through_member_a(app: Flask, session: Session) -> None:
    client_a, a_id = _client(app, session, "ann@example.com", "Ann")
    _client_b, b_id = _client(app, session, "bob@example.com", "Bob")
    token = csrf_token(client_a, "/account/loyalty")
    response = client_a.post(
        "/account/loyalty/join", data={"csrf_token": token, "consent": "y", "user_id": b_id}
    )
    assert response.status_code == 302
    session.rollback()
    owners = list(session.scalars(select(Membership.user_id)))
    assert owners == [a_id]  # A joined; B did not


def test_the_join_form_needs_a_csrf_token(app: Flask, session: Session) -> None:
    client, _user_id = _client(app, session, "ann@example.com", "Ann")
    response = client.post("/account/loyalty/join", data={"consent": "y"})
    assert response.status_code == 400
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Membership)) == 0
