"""Shoppers send items of a dispatched order back from its page, and staff refund the
return through a real localstripe server when the parcel arrives (items back in stock,
the delivery charge too when the whole order comes back), or do not accept it."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.db import db
from shop.orders import fulfilment
from shop.orders.models import Order, OrderStatusChange
from shop.payments.models import Refund
from shop.recommendation_data import Shopper, shopper_interactions
from shop.returns.models import ReturnRequest
from tests import factories
from tests.checkout_support import emails, fresh, new_card, pay, place_cart, settings, stock
from tests.console_support import client_as, confirmed
from tests.helpers import csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(response.get_data(as_text=True))))


def _member_order(app: Flask, session: Session, items: dict[str, Product], base: str) -> Order:
    """Mia buys 4 hearts (£2.95 each) and 2 jumbo bags (£1.95 each): £15.70 + £3.95 delivery."""
    mia = factories.member(session, "mia@example.com")
    session.commit()
    owner = CartOwner(user_id=mia.id)
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 4)
        add_item(tx, owner, items["jumbo"].id, 2)
        order_id = place_cart(tx, app, owner).id
    assert pay(app, order_id, new_card(app, base)).ok
    return fresh(session, order_id)


def _dispatch(app: Flask, order_id: int, delivered: bool = True) -> None:
    with app.app_context(), db.transaction() as tx:
        order = tx.get(Order, order_id)
        assert order is not None
        fulfilment.ship_order(tx, settings(app), order, "TRK1")
        if delivered:
            fulfilment.deliver_order(tx, order)


def _lines(order: Order) -> dict[str, int]:
    return {line.sku: line.id for line in order.lines}


def _ask(client: FlaskClient, path: str, quantities: dict[int, Any], **fields: str) -> Any:
    data = {"csrf_token": csrf_token(client, path), "reason": "changed_mind", **fields}
    data.update({f"qty-{line_id}": str(qty) for line_id, qty in quantities.items()})
    return client.post(path, data=data)


def _return(session: Session, number: str) -> ReturnRequest:
    session.rollback()
    found = session.scalar(select(ReturnRequest).where(ReturnRequest.number == number))
    assert found is not None
    return found


def test_a_member_returns_part_then_the_rest_and_staff_refund_each_on_arrival(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id = order.number, order.id
    lines = _lines(order)
    heart, bag = lines[items["heart"].sku], lines[items["jumbo"].sku]
    assert order.total_pence == 1570 + 395
    _dispatch(app, order_id)
    hearts_in_stock = stock(session, items["heart"])
    client = app.test_client()
    sign_in(client, "mia@example.com", factories.PASSWORD)

    page = client.get(f"/account/orders/{number}")
    assert f'href="/account/orders/{number}/return"' in page.get_data(as_text=True)
    asked = client.get(f"/account/orders/{number}/return")
    assert asked.status_code == 200
    assert f"Return items of order {number}" in _text(asked)
    assert f'name="qty-{heart}"' in asked.get_data(as_text=True)

    response = _ask(client, f"/account/orders/{number}/return", {heart: 2}, comment="Too big")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/account/orders/{number}"
    first = _return(session, f"{number}-R1")
    assert (first.status, first.reason, first.comment) == ("requested", "changed_mind", "Too big")
    assert first.expected_pence == 590  # two hearts, no delivery: the bags stay
    assert [(line.order_line_id, line.quantity) for line in first.lines] == [(heart, 2)]
    shown = _text(client.get(f"/account/orders/{number}"))
    assert (
        f"Return {number}-R1 is recorded (2 items). We have e-mailed you how to send it back; "
        "once it arrives we refund £5.90 to the card you paid with."
    ) in shown
    assert f"Return {number}-R1 · Waiting for your parcel" in shown
    assert f"Return {number}-R1 requested: 2 items" in shown
    [mail] = emails(session, "return_requested")
    assert mail.subject == f"How to send back items of order {number}"
    assert f"Its return number is {number}-R1" in mail.text_body
    assert "2 x White Hanging Heart T-Light Holder" in mail.text_body
    assert "Example Trading Estate" in mail.text_body and "Leeds" in mail.html_body
    assert "we refund £5.90" in mail.text_body

    # Only two hearts are left to send back: asking for three is refused and nothing is made.
    again = _ask(client, f"/account/orders/{number}/return", {heart: 3})
    assert again.status_code == 400
    assert "Choose between 0 and 2." in _text(again)
    session.rollback()
    assert len(list(session.scalars(select(ReturnRequest)))) == 1

    staff = client_as(app, session, "merchandiser")
    listing = _text(staff.get("/console/returns/"))
    assert f"{number}-R1" in listing and "1 return awaiting the parcel" in listing
    board = _text(staff.get("/console/"))
    assert "1 return awaiting the parcel: refund each when it arrives" in board
    order_page = _text(staff.get(f"/console/orders/{order_id}"))
    assert f"{number}-R1" in order_page and "Awaiting the parcel" in order_page
    detail = staff.get(f"/console/returns/{first.id}")
    assert detail.status_code == 200
    assert 'value="5.90"' in detail.get_data(as_text=True)
    assert "Too big" in _text(detail)
    assert 'data-testid="postage-hint"' not in detail.get_data(as_text=True)  # changed mind
    token = csrf_token(staff, f"/console/returns/{first.id}")
    review = staff.post(
        f"/console/returns/{first.id}/receive",
        data={"csrf_token": token, "amount": "5.90", "restock": "y"},
    )
    assert "£5.90 goes back to the card order" in _text(review)
    assert stock(session, items["heart"]) == hearts_in_stock  # nothing happened yet
    done = confirmed(
        staff,
        f"/console/returns/{first.id}/receive",
        {"csrf_token": token, "amount": "5.90", "restock": "y"},
    )
    assert done.status_code == 302
    first = _return(session, f"{number}-R1")
    assert (first.status, first.refunded_pence, first.restocked) == ("refunded", 590, True)
    refund = session.get(Refund, first.refund_id)
    assert refund is not None
    assert (refund.status, refund.source, refund.amount_pence) == ("succeeded", "return", 590)
    assert stock(session, items["heart"]) == hearts_in_stock + 2
    assert fresh(session, order_id).status == "partially_refunded"
    [refunded] = emails(session, "return_refunded")
    assert f"Your return {number}-R1 has arrived, and we have refunded £5.90" in refunded.text_body
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "return.receive"))
    # Merchandisers see how often the heart comes back, and why.
    product_page = _text(staff.get(f"/console/products/{items['heart'].id}"))
    assert "Sent back: 2 items of 4 sold on web orders (50.0%). Why: I changed my mind (2)." in (
        product_page
    )
    most = _text(staff.get("/console/returns/"))
    assert f"{items['heart'].sku} White Hanging Heart T-Light Holder 2 4 50.0% I changed" in most
    # Recommendations now see two hearts bought, not four.
    history = shopper_interactions(session, Shopper("mia", user_id=order.user_id))
    bought = dict(zip(history.items.tolist(), history.quantities.tolist(), strict=True))
    assert bought == {items["heart"].id: 2.0, items["jumbo"].id: 2.0}

    # The rest of the order comes back: the delivery charge is refunded with it.
    rest = _ask(client, f"/account/orders/{number}/return", {heart: 2, bag: 2})
    assert rest.status_code == 302
    second = _return(session, f"{number}-R2")
    assert second.expected_pence == 590 + 390 + 395 == 1965 - 590
    shown = _text(client.get(f"/account/orders/{number}"))
    assert f"Return {number}-R1 · Received and refunded" in shown
    assert 'data-testid="start-return"' not in client.get(f"/account/orders/{number}").get_data(
        as_text=True
    )  # nothing is left to send back


def test_a_guest_withdraws_a_return_and_staff_turn_down_the_next(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    owner = CartOwner(visitor_id="guest-visitor")
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 3)
        order_id = place_cart(tx, app, owner, visitor_id="guest-visitor").id
    assert pay(app, order_id, new_card(app, localstripe_url)).ok
    _dispatch(app, order_id, delivered=False)  # dispatched, delivery never recorded
    order = fresh(session, order_id)
    token, number, heart = order.access_token, order.number, order.lines[0].id
    client = app.test_client()

    assert 'data-testid="start-return"' in client.get(f"/orders/{token}").get_data(as_text=True)
    assert _ask(client, f"/orders/{token}/return", {heart: 3}).status_code == 302
    path = f"/orders/{token}/returns/{number}-R1/withdraw"
    withdrawn = client.post(path, data={"csrf_token": csrf_token(client, f"/orders/{token}")})
    assert withdrawn.status_code == 302
    assert _return(session, f"{number}-R1").status == "withdrawn"
    shown = _text(client.get(f"/orders/{token}"))
    assert f"Return {number}-R1 is withdrawn; nothing needs sending back for it." in shown
    assert f"Return {number}-R1 · Withdrawn" in shown
    # Withdrawing twice says so, and changes nothing.
    twice = client.post(path, data={"csrf_token": csrf_token(client, f"/orders/{token}")})
    assert twice.status_code == 302
    assert "is withdrawn already, so it cannot be withdrawn" in _text(
        client.get(f"/orders/{token}")
    )

    # The hearts may be asked back again; this time staff do not accept the return.
    assert _ask(client, f"/orders/{token}/return", {heart: 1}).status_code == 302
    second = _return(session, f"{number}-R2")
    staff = client_as(app, session, "admin")
    form_token = csrf_token(staff, f"/console/returns/{second.id}")
    empty = staff.post(f"/console/returns/{second.id}/reject", data={"csrf_token": form_token})
    assert empty.status_code == 400
    assert "Say why the return is not accepted" in _text(empty)
    why = "The parcel arrived empty; we have asked the carrier."
    rejected = staff.post(
        f"/console/returns/{second.id}/reject", data={"csrf_token": form_token, "reason": why}
    )
    assert rejected.status_code == 302
    second = _return(session, f"{number}-R2")
    assert (second.status, second.decision_note) == ("rejected", why)
    [mail] = emails(session, "return_rejected")
    assert why in mail.text_body and f"{number}-R2" in mail.text_body
    shown = _text(client.get(f"/orders/{token}"))
    assert f"We could not accept it: {why}" in shown
    assert f"Return {number}-R2 not accepted: {why}" in shown
    late = staff.post(
        f"/console/returns/{second.id}/receive",
        data={"csrf_token": form_token, "amount": "2.95", "confirm": "1"},
    )
    assert late.status_code == 409
    assert f"Return {number}-R2 is not accepted already." in _text(late)
    assert fresh(session, order_id).refunded_pence == 0
    # Returns withdrawn or turned down do not count against the product.
    product_page = staff.get(f"/console/products/{items['heart'].id}").get_data(as_text=True)
    assert 'data-testid="product-returns"' not in product_page
    # Every heart may come back again.
    asked = client.get(f"/orders/{token}/return").get_data(as_text=True)
    assert '<option value="3">3 (all)</option>' in asked


def test_returns_are_refused_with_the_reason_and_bad_input_is_told(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id = order.number, order.id
    heart = _lines(order)[items["heart"].sku]
    client = app.test_client()
    sign_in(client, "mia@example.com", factories.PASSWORD)
    path = f"/account/orders/{number}/return"

    not_sent = client.get(path)
    assert not_sent.status_code == 409
    assert f"Order {number} has not been dispatched yet" in _text(not_sent)
    assert 'data-testid="start-return"' not in client.get(f"/account/orders/{number}").get_data(
        as_text=True
    )
    assert _ask(client, path, {heart: 1}).status_code == 409

    _dispatch(app, order_id)
    nothing = _ask(client, path, {})
    assert nothing.status_code == 400
    assert "Choose how many of at least one item you are sending back." in _text(nothing)
    assert _ask(client, path, {heart: "two"}).status_code == 400
    assert _ask(client, path, {heart: -1}).status_code == 400
    no_reason = _ask(client, path, {heart: 1}, reason="")
    assert no_reason.status_code == 400
    assert "Choose why you are sending the items back." in _text(no_reason)
    assert _ask(client, path, {heart: 1}, reason="bored").status_code == 400
    session.rollback()
    assert session.scalar(select(ReturnRequest.id)) is None

    # Another shopper's order is not found; a guest's link needs its own token.
    other = client_as(app, session, "shopper")
    assert other.get(path).status_code == 404
    assert client.get("/orders/not-a-token/return").status_code == 404

    # Thirty days after delivery the window has closed.
    session.rollback()
    delivered = session.scalar(
        select(OrderStatusChange).where(
            OrderStatusChange.order_id == order_id, OrderStatusChange.to_status == "delivered"
        )
    )
    assert delivered is not None
    delivered.created_at -= timedelta(days=31)
    session.commit()
    closed = client.get(path)
    assert closed.status_code == 409
    assert f"The 30 days to return items of order {number} ended on" in _text(closed)

    # Without a returns address the shop arranges returns by e-mail.
    delivered.created_at += timedelta(days=31)
    session.commit()
    app.config["RETURNS_ADDRESS"] = ""
    by_mail = client.get(path)
    assert by_mail.status_code == 409
    assert "are arranged by e-mail" in _text(by_mail)


def test_console_return_pages_refuse_bad_input(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id = order.number, order.id
    heart = _lines(order)[items["heart"].sku]
    _dispatch(app, order_id)
    client = app.test_client()
    sign_in(client, "mia@example.com", factories.PASSWORD)
    asked = _ask(client, f"/account/orders/{number}/return", {heart: 4}, reason="damaged")
    assert asked.status_code == 302
    ret = _return(session, f"{number}-R1")
    assert ret.expected_pence == 1180

    shopper = client_as(app, session, "shopper")
    assert shopper.get("/console/returns/").status_code == 404
    assert shopper.get(f"/console/returns/{ret.id}").status_code == 404
    staff = client_as(app, session, "merchandiser")
    assert staff.get("/console/returns/999999").status_code == 404
    shown = _text(staff.get(f"/console/returns/{ret.id}"))
    assert "add their return postage if they send a receipt (up to £19.65 is left" in shown
    token = csrf_token(staff, f"/console/returns/{ret.id}")
    path = f"/console/returns/{ret.id}/receive"
    for amount, message in (
        ("abc", "Enter an amount in pounds, such as 4.50."),
        ("0", "The refund amount must be more than zero."),
        ("1.234", "Use at most two decimal places (pence)."),
        ("1" + "0" * 30, "Enter an amount in pounds, such as 4.50."),
    ):
        bad = staff.post(path, data={"csrf_token": token, "amount": amount})
        assert bad.status_code == 400
        assert message in _text(bad)
    too_much = staff.post(path, data={"csrf_token": token, "amount": "30.00", "confirm": "1"})
    assert too_much.status_code == 409
    assert f"at most £19.65, what is left to refund of order {number}" in _text(too_much)
    assert fresh(session, order_id).refunded_pence == 0
    assert _return(session, f"{number}-R1").status == "requested"
