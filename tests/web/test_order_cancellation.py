"""Shoppers cancel their own paid order before it is dispatched, from its page: all of it is
refunded through a real localstripe server, its items go back to stock, spent points come
back, the reason is kept for the shop, and a parcel already marked shipped wins."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Membership
from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.console import order_admin
from shop.console.audit import CLI_ACTOR
from shop.db import db, utcnow
from shop.orders import customer_cancel, fulfilment
from shop.orders.models import Order
from shop.payments import refunds
from shop.payments.gateway import GatewayError
from shop.payments.models import Refund
from shop.payments.stripe_gateway import StripeGateway
from shop.promotions.codes import apply_code, earlier_use
from shop.promotions.models import PromoCode
from shop.recommendation_data import Shopper, shopper_interactions
from shop.tracking.models import Event
from tests import factories
from tests.checkout_support import (
    emails,
    fresh,
    new_card,
    paid_order,
    pay,
    place_cart,
    settings,
    stock,
)
from tests.console_support import client_as
from tests.helpers import csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401

CANCELLED = "Cancelled at your request before dispatch"


def _member_order(app: Flask, session: Session, items: dict[str, Product], base: str) -> Order:
    """Mia (a member with 1,500 points) pays for 10 hearts (£29.50) with 1,000 points off."""
    mia = factories.member(session, "mia@example.com", points=1500)
    owner = CartOwner(user_id=mia.id)
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 10)
        order_id = place_cart(tx, app, owner, redeem_points=1000).id
    assert pay(app, order_id, new_card(app, base)).ok
    return fresh(session, order_id)


def _balance(session: Session, user_id: int) -> int:
    session.rollback()
    found = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert found is not None
    return found.points_balance


def _cancel(client: FlaskClient, path: str, reason: str = "") -> Any:
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, "reason": reason})


def _ship(app: Flask, order_id: int) -> None:
    with app.app_context(), db.transaction() as tx:
        placed = tx.get(Order, order_id)
        assert placed is not None
        fulfilment.ship_order(tx, settings(app), placed, "TRK1")


def test_a_member_cancels_a_paid_order_and_gets_money_stock_and_points_back(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id, user_id = order.number, order.id, order.user_id
    assert order.total_pence == 2950 - 1000 + 395
    assert stock(session, items["heart"]) == 40
    assert _balance(session, user_id) < 1500 - 1000 + 100  # spent 1,000, earned some
    [confirmation] = emails(session, "order_confirmation")
    assert "You can cancel the order on that page until we dispatch it" in confirmation.text_body
    assert "You can cancel the order on its page until we dispatch it" in confirmation.html_body
    client = app.test_client()
    sign_in(client, "mia@example.com", factories.PASSWORD)

    page = unescape(client.get(f"/account/orders/{number}").get_data(as_text=True))
    assert 'data-testid="cancel-offer"' in page
    assert f'href="/account/orders/{number}/cancel"' in page

    response = client.get(f"/account/orders/{number}/cancel")
    asked = re.sub(r"<[^>]+>", "", unescape(response.get_data(as_text=True)))
    assert response.status_code == 200
    assert f"Cancel order {number}?" in asked
    assert "we refund £23.45 to the card you paid with" in asked
    assert "the 1,000 points you spent on it go back to your points balance" in asked
    assert "any points the order earned you are taken off your balance again" in asked
    assert fresh(session, order_id).status == "paid"  # asking changes nothing

    response = _cancel(client, f"/account/orders/{number}/cancel", "mistake")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/account/orders/{number}"
    after = unescape(client.get(f"/account/orders/{number}").get_data(as_text=True))
    assert (
        f"Order {number} is cancelled. We have refunded £23.45 to the card you paid with; banks "
        "usually take 5 to 10 working days to show it. The 1,000 points you spent on it go "
        "back to your balance."
    ) in after
    assert 'data-testid="order-status">Refunded<' in after
    assert CANCELLED in after
    assert 'data-testid="cancel-offer"' not in after

    done = fresh(session, order_id)
    assert (done.status, done.refunded_pence) == ("refunded", 2345)
    moves = [s.to_status for s in done.history if s.from_status != s.to_status]
    assert moves == ["pending_payment", "paid", "cancelled", "refunded"]
    # The recommendations no longer count the hearts as bought ("Buy it again", reasons),
    # though the purchase stays on record.
    kinds = session.scalars(select(Event.kind).where(Event.order_id == order_id)).all()
    assert sorted(kinds) == ["purchase", "purchase_undone"]
    assert (
        shopper_interactions(session, Shopper("mia", user_id=user_id))
        .of_kinds(["purchase"])
        .items.tolist()
        == []
    )
    [refund] = session.scalars(select(Refund).where(Refund.order_id == order_id)).all()
    assert (refund.status, refund.amount_pence, refund.source, refund.restock) == (
        "succeeded",
        2345,
        "customer",
        True,
    )
    assert refund.reason == "Cancelled by the customer: I ordered it by mistake"
    assert stock(session, items["heart"]) == 50
    assert _balance(session, user_id) == 1500  # spent points back, earned ones taken off
    [told] = emails(session, "order_cancelled_refunded")
    assert told.subject == f"Your order {number} is cancelled and refunded"
    assert "as you asked, before it was dispatched, and refunded £23.45" in told.text_body
    assert "The 1,000 points you spent on it go back to your points balance." in told.text_body
    assert emails(session, "order_refunded") == []


def test_a_guest_cancels_from_the_order_link(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["jumbo"], 4)], localstripe_url)
    order = fresh(session, order_id)
    token, number = order.access_token, order.number
    client = app.test_client()
    page = client.get(f"/orders/{token}").get_data(as_text=True)
    assert f'href="/orders/{token}/cancel"' in page

    asked = unescape(client.get(f"/orders/{token}/cancel").get_data(as_text=True))
    assert "points" not in asked.split("cancel-terms")[1].split("</ul>")[0]  # a guest has none
    response = _cancel(client, f"/orders/{token}/cancel")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/orders/{token}"
    assert f"Order {number} is cancelled. We have refunded £11.75" in unescape(
        client.get(f"/orders/{token}").get_data(as_text=True)
    )
    done = fresh(session, order_id)
    assert (done.status, done.refunded_pence) == ("refunded", 780 + 395)
    assert session.scalars(select(Refund.reason)).one() == "Cancelled by the customer"
    assert stock(session, items["jumbo"]) == 200
    [told] = emails(session, "order_cancelled_refunded")
    assert told.to_address == order.email


def test_a_parcel_marked_shipped_before_the_shopper_confirms_is_not_cancelled(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    token = fresh(session, order_id).access_token
    client = app.test_client()
    path = f"/orders/{token}/cancel"
    csrf = csrf_token(client, path)
    _ship(app, order_id)  # staff mark it shipped while the page is open

    response = client.post(path, data={"csrf_token": csrf, "reason": ""})
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "has been dispatched, so it can no longer be cancelled" in page
    assert 'data-testid="confirm-cancel"' not in page
    assert fresh(session, order_id).status == "shipped"
    assert session.scalars(select(Refund)).all() == []
    assert stock(session, items["heart"]) == 48
    assert emails(session, "order_cancelled_refunded") == []

    assert client.get(path).status_code == 409
    assert 'data-testid="cancel-offer"' not in client.get(f"/orders/{token}").get_data(as_text=True)


def test_a_refused_refund_leaves_the_order_on_and_can_be_tried_again(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    token = fresh(session, order_id).access_token
    client = app.test_client()
    path = f"/orders/{token}/cancel"

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise GatewayError("card_declined")

    with monkeypatch.context() as patched:
        patched.setattr(StripeGateway, "refund", refused)
        response = _cancel(client, path)
    page = unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "We could not refund your card just now, so the order is still on." in page
    assert 'data-testid="confirm-cancel"' in page  # the shopper can try again
    assert fresh(session, order_id).status == "paid"
    assert [r.status for r in session.scalars(select(Refund))] == ["failed"]
    assert stock(session, items["heart"]) == 48
    assert emails(session, "order_cancelled_refunded") == []

    assert _cancel(client, path).status_code == 302
    assert fresh(session, order_id).status == "refunded"
    assert stock(session, items["heart"]) == 50


def test_a_double_submit_reports_the_cancellation_the_other_request_made(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    order = fresh(session, order_id)
    token, number = order.access_token, order.number

    def booked_elsewhere(*args: Any, **kwargs: Any) -> Refund:
        raise refunds.RefundMadeElsewhere(refunds.refund_order(*args, **kwargs))

    monkeypatch.setattr(customer_cancel, "refund_order", booked_elsewhere)
    client = app.test_client()
    assert _cancel(client, f"/orders/{token}/cancel").status_code == 302
    page = unescape(client.get(f"/orders/{token}").get_data(as_text=True))
    assert f"Order {number} is cancelled. We have refunded £9.85" in page
    assert fresh(session, order_id).status == "refunded"
    assert len(session.scalars(select(Refund)).all()) == 1


def test_no_one_else_can_cancel_and_a_made_up_reason_is_refused(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id = order.number, order.id
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    bob = app.test_client()
    sign_in(bob, "bob@example.com", factories.PASSWORD)
    assert bob.get(f"/account/orders/{number}/cancel").status_code == 404
    token = csrf_token(bob, "/account")
    response = bob.post(f"/account/orders/{number}/cancel", data={"csrf_token": token})
    assert response.status_code == 404
    signed_out = app.test_client().get(f"/account/orders/{number}/cancel")
    assert signed_out.status_code == 302 and "/account/login" in signed_out.headers["Location"]

    mia = app.test_client()
    sign_in(mia, "mia@example.com", factories.PASSWORD)
    response = _cancel(mia, f"/account/orders/{number}/cancel", "because-i-said-so")
    assert response.status_code == 400
    assert "Not a valid choice" in response.get_data(as_text=True)
    no_token = mia.post(f"/account/orders/{number}/cancel", data={"reason": "mistake"})
    assert no_token.status_code == 400
    assert fresh(session, order_id).status == "paid"
    assert session.scalars(select(Refund)).all() == []


def test_staff_cannot_ship_an_order_whose_cancellation_refund_is_under_way(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    order = fresh(session, order_id)
    session.add(
        Refund(
            order_id=order_id,
            amount_pence=order.total_pence,
            currency="GBP",
            idempotency_key=f"order-{order_id}-refund-1",
            reason="Cancelled by the customer",
            source="customer",
        )
    )
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order_id}"
    token = csrf_token(client, path)
    response = client.post(f"{path}/ship", data={"ship-csrf_token": token, "ship-tracking": ""})
    assert response.status_code == 400
    assert (
        f"Order {order.number} is being cancelled by the customer and its refund of £9.85 is "
        "under way; it cannot be shipped."
    ) in unescape(response.get_data(as_text=True))
    assert fresh(session, order_id).status == "paid"
    with pytest.raises(order_admin.OrderAdminError), app.app_context(), db.transaction() as tx:
        order_admin.ship(tx, CLI_ACTOR, settings(app), order_id)


def test_a_cancelled_order_gives_its_discount_code_back(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    factories.promo_code(session, "ONCE10", once_per_customer=True, max_uses=5)
    owner = CartOwner(visitor_id="v-code")
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 2)
        apply_code(tx, owner, "ONCE10", now=utcnow())
        order_id = place_cart(tx, app, owner).id
    assert pay(app, order_id, new_card(app, localstripe_url)).ok
    placed = fresh(session, order_id)
    assert placed.promo_discount_pence == 59
    assert session.scalars(select(PromoCode.uses)).one() == 1

    assert _cancel(app.test_client(), f"/orders/{placed.access_token}/cancel").status_code == 302
    done = fresh(session, order_id)
    assert (done.status, done.promo_code, done.promo_code_id) == ("refunded", "ONCE10", None)
    assert session.scalars(select(PromoCode.uses)).one() == 0
    promo_id = session.scalars(select(PromoCode.id)).one()
    assert earlier_use(session, promo_id, user_id=None, email=done.email) is None
    assert "Discount code ONCE10: its use given back" in [s.staff_note for s in done.history]


def test_the_console_dashboard_counts_cancellations_by_reason(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    for reason in ("mistake", "", "mistake"):
        order_id = paid_order(app, [(items["heart"], 1)], localstripe_url)
        path = f"/orders/{fresh(session, order_id).access_token}/cancel"
        assert _cancel(app.test_client(), path, reason).status_code == 302
    session.rollback()
    staff = client_as(app, session, "merchandiser")
    board = unescape(staff.get("/console/").get_data(as_text=True))
    assert (
        "Shoppers cancelled 3 paid orders before dispatch in the last 7 days (£20.70 refunded). "
        "Reasons: I ordered it by mistake (2); No reason given (1)."
    ) in board
