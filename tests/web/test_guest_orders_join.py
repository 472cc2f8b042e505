"""Paid guest orders join the account of their e-mail address once its owner has confirmed
the address (a link opened while signed in, or a password reset), never at sign-up alone."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty import earning, membership, tiers
from loyalty.models import Membership, PointsEntry
from shop.accounts import tokens
from shop.accounts.models import User
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.orders import states
from shop.orders.models import Order
from shop.payments.models import PaymentAttempt
from tests import factories
from tests.helpers import csrf_token, register, sign_in

PASSWORD = "a-long-password"
LINK_RE = re.compile(r"(https?://\S+/account/email/verify/[A-Za-z0-9_\-]+)")
TWO_JOINED = "2 earlier orders placed with this e-mail address are now in your account."


def _guest_orders(session: Session) -> None:
    """Ann's two paid guest orders (one under another spelling of her address), her unpaid
    one from another browser, and Bob's paid one."""
    cat = factories.category(session)
    item = factories.product(session, cat, sku="85123A", name="Heart Holder")
    for number, email, status in (
        ("W1001", "ann@example.com", "delivered"),
        ("W1002", " Ann@Example.com", "paid"),
        ("W1003", "ann@example.com", "pending_payment"),
        ("W1004", "bob@example.com", "paid"),
    ):
        order = factories.order(session, None, number, [(item, 1)])
        order.email, order.status, order.source = email, status, "web"
    session.commit()


def _owners(session: Session) -> dict[str, str | None]:
    session.rollback()
    rows = session.execute(
        select(Order.number, User.email).outerjoin(User, User.id == Order.user_id)
    )
    return {number: email for number, email in rows}


def _verify_link(session: Session, email: str) -> str:
    session.rollback()
    mails = session.scalars(
        select(OutboxEmail).where(OutboxEmail.to_address == email).order_by(OutboxEmail.id)
    )
    links = [m.group(1) for mail in mails if (m := LINK_RE.search(mail.text_body))]
    assert links, "no confirmation link was sent"
    return urlsplit(links[-1]).path


def _open_link(client: FlaskClient, path: str) -> tuple[int, str]:
    token = csrf_token(client, path)
    response = client.post(path, data={"csrf_token": token}, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def test_registering_with_the_address_does_not_bring_the_guest_orders(
    app: Flask, session: Session
) -> None:
    _guest_orders(session)
    client = app.test_client()
    register(client, "ann@example.com", PASSWORD)
    html = client.get("/account").get_data(as_text=True)
    assert "W1001" not in html and "earlier order" not in html
    assert "Send me a confirmation link" in html
    sign_in(app.test_client(), "ann@example.com", PASSWORD)  # an unconfirmed sign-in
    assert set(_owners(session).values()) == {None}


def test_confirming_the_address_brings_the_paid_guest_orders_once(
    app: Flask, session: Session
) -> None:
    _guest_orders(session)
    client = app.test_client()
    register(client, "ann@example.com", PASSWORD)
    link = _verify_link(session, "ann@example.com")  # in the welcome e-mail

    assert "Confirm my address" in client.get(link).get_data(as_text=True)
    status, html = _open_link(client, link)
    assert status == 200
    assert TWO_JOINED in html
    assert "W1001" in html and "W1002" in html
    assert _owners(session) == {
        "W1001": "ann@example.com",
        "W1002": "ann@example.com",
        "W1003": None,  # unpaid, from another browser
        "W1004": None,  # another address
    }
    # Opened again (a second click, the e-mail read later): it says the address is confirmed.
    for again in (client.get(link), client.post(link, data={"csrf_token": csrf_token(client)})):
        assert again.status_code == 302 and again.headers["Location"] == "/account"
    assert "ann@example.com is already confirmed." in client.get("/account").get_data(as_text=True)

    # Signing in again brings nothing twice, but does bring a guest order placed since.
    again = app.test_client()
    sign_in(again, "ann@example.com", PASSWORD)
    assert "earlier order" not in again.get("/account").get_data(as_text=True)
    session.rollback()
    cat = factories.category(session, "bags", "Bags")
    later = factories.order(
        session, None, "W1005", [(factories.product(session, cat, sku="2", name="Bag"), 1)]
    )
    later.email, later.status = "ann@example.com", "paid"
    session.commit()
    third = app.test_client()
    sign_in(third, "ann@example.com", PASSWORD)
    html = third.get("/account").get_data(as_text=True)
    assert "1 earlier order placed with this e-mail address is now in your account." in html
    assert _owners(session)["W1005"] == "ann@example.com"
    assert _owners(session)["W1004"] is None


def test_a_confirmation_link_only_works_for_its_own_account(app: Flask, session: Session) -> None:
    _guest_orders(session)
    register(app.test_client(), "ann@example.com", PASSWORD)
    link = _verify_link(session, "ann@example.com")
    bob = app.test_client()
    register(bob, "bob@example.com", PASSWORD)
    assert bob.get(link).status_code == 400
    assert bob.post(link, data={"csrf_token": csrf_token(bob)}).status_code == 400
    signed_out = app.test_client().get(link)
    assert signed_out.status_code == 302 and "/account/login" in signed_out.location
    assert set(_owners(session).values()) == {None}


def test_an_account_from_before_asks_for_a_link(app: Flask, session: Session) -> None:
    _guest_orders(session)
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    response = client.post(
        "/account/email/verify",
        data={"csrf_token": csrf_token(client, "/account")},
        follow_redirects=True,
    )
    assert "We have sent a link to ann@example.com" in response.get_data(as_text=True)
    status, html = _open_link(client, _verify_link(session, "ann@example.com"))
    assert (status, TWO_JOINED in html) == (200, True)
    assert "Send me a confirmation link" not in client.get("/account").get_data(as_text=True)


def test_a_password_reset_confirms_the_address(app: Flask, session: Session) -> None:
    _guest_orders(session)
    register(app.test_client(), "ann@example.com", PASSWORD)
    session.rollback()
    ann = session.scalar(select(User).where(User.email == "ann@example.com"))
    assert ann is not None and ann.email_confirmed_at is None
    token = tokens.issue(session, ann.id, tokens.PASSWORD_RESET)
    session.commit()
    client = app.test_client()
    path = f"/account/password/reset/{token}"
    data = {"csrf_token": csrf_token(client, path), "password": "another-long-one"}
    assert client.post(path, data={**data, "confirm": data["password"]}).status_code == 302
    assert set(_owners(session).values()) == {None}  # they join when she signs in
    sign_in(client, "ann@example.com", "another-long-one")
    assert TWO_JOINED in client.get("/account").get_data(as_text=True)
    assert _owners(session)["W1002"] == "ann@example.com"


def test_an_address_change_link_opened_signed_out_confirms_nothing(
    app: Flask, session: Session
) -> None:
    _guest_orders(session)
    ann = factories.user(session, "ann@example.com")
    session.commit()
    token = tokens.issue(session, ann.id, tokens.EMAIL_CHANGE, new_email="bob@example.com")
    session.commit()
    status, html = _open_link(app.test_client(), f"/account/email/confirm/{token}")
    assert status == 200
    assert (
        "Your e-mail address is now bob@example.com. The link was opened without signing in "
        "to this account, so the address is not confirmed yet: sign in and ask for a "
        "confirmation link" in html
    )
    session.rollback()
    changed = session.get(User, ann.id)
    assert changed is not None and changed.email == "bob@example.com"
    assert changed.email_confirmed_at is None
    assert _owners(session)["W1004"] is None


def test_an_address_change_link_opened_signed_in_confirms_the_new_address(
    app: Flask, session: Session
) -> None:
    _guest_orders(session)
    ann = factories.user(session, "ann@old.example")
    session.commit()
    token = tokens.issue(session, ann.id, tokens.EMAIL_CHANGE, new_email="ann@example.com")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@old.example", factories.PASSWORD)
    status, html = _open_link(client, f"/account/email/confirm/{token}")
    assert (status, TWO_JOINED in html) == (200, True)
    assert "Your e-mail address is now ann@example.com." in html and "not confirmed" not in html
    assert _owners(session)["W1001"] == "ann@example.com"
    assert _owners(session)["W1004"] is None


def _paid_then_not(session: Session) -> None:
    """Ann's guest orders that were paid and then refunded or cancelled, and two cancelled
    ones that never took her money."""
    cat = factories.category(session)
    item = factories.product(session, cat, sku="85123A", name="Heart Holder")
    paths = {
        "W2001": [states.PAID, states.REFUNDED],
        "W2002": [states.PAID, states.PARTIALLY_REFUNDED],
        "W2003": [states.PAID, states.CANCELLED],
        "W2004": [states.CANCELLED],  # paid at the bank after it was cancelled: flagged
        "W2005": [states.CANCELLED],  # never paid
        "W2006": [states.CANCELLED],  # never paid: the card was declined
    }
    for number, path in paths.items():
        order = factories.order(session, None, number, [(item, 2)])
        order.email, order.source, order.status = "ann@example.com", "web", states.PENDING_PAYMENT
        states.start(order)
        for status in path:
            states.transition(order, status)
    late = {"W2004": "succeeded", "W2006": "failed"}
    orders = session.scalars(select(Order).where(Order.number.in_(late))).all()
    for order in orders:
        session.add(
            PaymentAttempt(
                order_id=order.id,
                attempt=1,
                idempotency_key=f"order-{order.id}-1",
                intent_id=f"pi_{order.number}",
                status=late[order.number],
                amount_pence=order.total_pence,
                currency="GBP",
            )
        )
    session.commit()


def test_orders_paid_and_then_cancelled_or_refunded_join_but_never_paid_ones_do_not(
    app: Flask, session: Session
) -> None:
    _paid_then_not(session)
    ann = factories.user(session, "ann@example.com")
    session.commit()
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        member_id = membership.join(own, ann.id, consent=True).membership.id
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    client.post("/account/email/verify", data={"csrf_token": csrf_token(client, "/account")})
    status, html = _open_link(client, _verify_link(session, "ann@example.com"))
    assert status == 200
    assert "4 earlier orders placed with this e-mail address are now in your account." in html
    owners = _owners(session)
    assert [n for n in sorted(owners) if owners[n] == "ann@example.com"] == [
        "W2001",
        "W2002",
        "W2003",
        "W2004",
    ]
    assert owners["W2005"] is None and owners["W2006"] is None
    history = client.get("/account")
    assert history.status_code == 200
    listed = history.get_data(as_text=True)
    assert all(n in listed for n in ("W2001", "W2002", "W2003", "W2004"))
    assert "W2005" not in listed and "W2006" not in listed

    # Joining earns nothing, and neither would an order_paid event arriving late for one
    # of the cancelled orders.
    session.rollback()
    assert (
        session.scalars(select(PointsEntry).where(PointsEntry.membership_id == member_id)).all()
        == []
    )
    for number in ("W2003", "W2004"):
        order = session.scalar(select(Order).where(Order.number == number))
        assert order is not None
        assert earning.award_for_order(session, order.id, paid_by=None).points == 0
    session.commit()
    member = session.get(Membership, member_id)
    assert member is not None and member.points_balance == 0


def _purchase_owners(session: Session) -> dict[str, int | None]:
    from shop.tracking.models import Event

    session.rollback()
    rows = session.execute(
        select(Order.number, Event.user_id).join(Event, Event.order_id == Order.id)
    )
    return {number: user_id for number, user_id in rows}


def _record_guest_purchases(session: Session) -> None:
    from shop.tracking.models import Event

    for order in session.scalars(select(Order).where(Order.number.in_(("W1001", "W1004")))):
        line = order.lines[0]
        session.add(
            Event(
                kind="purchase",
                visitor_id=f"guest-{order.number}",
                product_id=line.product_id,
                order_id=order.id,
                quantity=1,
            )
        )
    session.commit()


@pytest.mark.parametrize("personalized", [True, False])
def test_the_joined_orders_purchases_join_the_history_unless_personalization_is_off(
    app: Flask, session: Session, personalized: bool
) -> None:
    _guest_orders(session)
    _record_guest_purchases(session)
    client = app.test_client()
    register(client, "ann@example.com", PASSWORD)
    session.rollback()
    ann = session.scalars(select(User).where(User.email == "ann@example.com")).one()
    ann.tracking_enabled = personalized
    ann_id = ann.id
    session.commit()
    assert _open_link(client, _verify_link(session, "ann@example.com"))[0] == 200
    assert _owners(session)["W1001"] == "ann@example.com"
    # What recommendations learn from is hers only if she allows it; Bob's stays his.
    mine = ann_id if personalized else None
    assert _purchase_owners(session) == {"W1001": mine, "W1004": None}
