"""Returns and the member's own data: the export holds them, an account with a return on
its way back is kept until it is refunded or withdrawn, and deletion forgets its note."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy.orm import Session

from shop.orders import states
from shop.returns.models import ReturnLine, ReturnRequest
from tests import factories
from tests.helpers import csrf_token, sign_in

NOTE = "Please collect it, I am in on Tuesdays (07700 900123)"


def _shipped_order_with_a_return(session: Session) -> ReturnRequest:
    order = factories.paid_order_with_address(session, "W-RET-1", email="ret@example.com")
    states.transition(order, states.SHIPPED, "Shipped")
    heart = next(line for line in order.lines if line.sku.endswith("-H"))
    ret = ReturnRequest(
        number="W-RET-1-R1",
        order_id=order.id,
        status="requested",
        reason="damaged",
        comment=NOTE,
        expected_pence=295,
        lines=[ReturnLine(order_line_id=heart.id, quantity=1)],
    )
    session.add(ret)
    session.commit()
    return ret


def test_the_export_holds_the_members_returns(app: Flask, session: Session) -> None:
    _shipped_order_with_a_return(session)
    client = app.test_client()
    sign_in(client, "ret@example.com", factories.PASSWORD)
    data = json.loads(client.get("/account/privacy/export").get_data(as_text=True))
    [order] = data["orders"]
    [exported] = order["returns"]
    assert exported["number"] == "W-RET-1-R1"
    assert (exported["status"], exported["reason"], exported["comment"]) == (
        "requested",
        "damaged",
        NOTE,
    )
    assert exported["expected_pence"] == 295 and exported["closed_at"] is None
    assert exported["items"] == [{"sku": "W-RET-1-H", "quantity": 1}]


def test_an_account_with_a_return_on_its_way_is_kept_until_it_is_closed(
    app: Flask, session: Session
) -> None:
    ret = _shipped_order_with_a_return(session)
    return_id = ret.id
    client = app.test_client()
    sign_in(client, "ret@example.com", factories.PASSWORD)
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Your return W-RET-1-R1 is on its way back to us" in page
    assert 'name="password"' not in page
    data = {"csrf_token": csrf_token(client, "/account/delete"), "confirm": "y"}
    refused = client.post("/account/delete", data={**data, "password": factories.PASSWORD})
    assert refused.status_code == 409
    assert "withdraw it first on the order page" in refused.get_data(as_text=True)

    session.rollback()
    withdrawn = session.get(ReturnRequest, return_id)
    assert withdrawn is not None
    withdrawn.status = "withdrawn"
    session.commit()
    token = csrf_token(client, "/account/delete")
    deleted = client.post(
        "/account/delete",
        data={"csrf_token": token, "confirm": "y", "password": factories.PASSWORD},
    )
    assert deleted.status_code == 302
    session.rollback()
    kept = session.get(ReturnRequest, return_id)
    assert kept is not None and kept.comment == "" and kept.status == "withdrawn"
