"""The goodbye e-mail after an account deletion says the loyalty membership was closed."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import csrf_token, sign_in


def _delete_account(app: Flask, session: Session, email: str) -> OutboxEmail:
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    token = csrf_token(client, "/account/delete")
    data = {"csrf_token": token, "password": factories.PASSWORD, "confirm": "y"}
    response = client.post("/account/delete", data=data)
    assert response.status_code == 302
    session.rollback()
    (goodbye,) = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "account_deleted"))
    return goodbye


@pytest.mark.parametrize(
    ("points", "said"),
    [
        (
            1234,
            "Your loyalty membership is closed, and its unspent balance of 1,234 points is lost.",
        ),
        (1, "Your loyalty membership is closed, and its unspent balance of 1 point is lost."),
        (0, "Your loyalty membership is closed."),
    ],
)
def test_a_members_goodbye_says_the_membership_closed_and_points_were_lost(
    app: Flask, session: Session, points: int, said: str
) -> None:
    factories.member(session, "mia@example.com", points=points)
    goodbye = _delete_account(app, session, "mia@example.com")
    assert said in " ".join(goodbye.text_body.split())
    assert said in unescape(goodbye.html_body)
    if not points:
        assert "unspent" not in goodbye.text_body


def test_a_non_members_goodbye_does_not_mention_loyalty(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    goodbye = _delete_account(app, session, "ann@example.com")
    assert "loyalty" not in goodbye.text_body.lower()
    assert "loyalty" not in goodbye.html_body.lower()


def test_points_an_unpaid_order_holds_count_as_lost_too(app: Flask, session: Session) -> None:
    from loyalty import ledger
    from loyalty.models import Membership

    mia = factories.member(session, "mia@example.com", points=610)
    held = factories.bare_order(
        session, "W-HELD", utcnow(), 2_000, status="pending_payment", user_id=mia.id
    )
    held.points_redeemed = 500
    session.flush()
    member = session.scalar(select(Membership).where(Membership.user_id == mia.id))
    assert member is not None
    ledger.append(session, member.id, -500, "redeem", f"order:{held.id}", order_id=held.id)
    session.commit()
    goodbye = _delete_account(app, session, "mia@example.com")
    assert "unspent balance of 610 points is lost" in " ".join(goodbye.text_body.split())
