"""Staff mark a shipped order delivered in the console: the return period starts then."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from shop.console.models import AuditEntry
from shop.orders import states
from shop.orders.models import Order
from tests import factories
from tests.console_support import client_as
from tests.helpers import CSRF_RE


def _post_deliver(client: FlaskClient, order_id: int) -> TestResponse:
    page = client.get(f"/console/orders/{order_id}").get_data(as_text=True)
    token = CSRF_RE.search(page)
    assert token
    return client.post(
        f"/console/orders/{order_id}/deliver", data={"deliver-csrf_token": token.group(1)}
    )


def test_a_shipped_order_is_marked_delivered_once(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session, "W-DLV-1")
    order_id = order.id
    session.commit()
    staff = client_as(app, session, "merchandiser")
    page = staff.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert 'data-testid="mark-delivered"' not in page  # not shipped yet
    refused = _post_deliver(staff, order_id)
    assert refused.status_code == 400
    assert "has not been shipped, so it cannot be delivered" in refused.get_data(as_text=True)

    session.rollback()
    shipped = session.get(Order, order_id)
    assert shipped is not None
    states.transition(shipped, states.SHIPPED, "Shipped")
    session.commit()
    page = staff.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert "days to send items back start then" in page
    done = _post_deliver(staff, order_id)
    assert done.status_code == 302
    after = staff.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert "Order W-DLV-1 is marked delivered." in after
    assert 'data-testid="mark-delivered"' not in after
    session.rollback()
    assert session.get(Order, order_id).status == "delivered"  # type: ignore[union-attr]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.deliver"))
    assert entry is not None and entry.target == "order W-DLV-1"

    again = staff.post(
        f"/console/orders/{order_id}/deliver",
        data={"deliver-csrf_token": CSRF_RE.search(after).group(1)},  # type: ignore[union-attr]
    )
    assert again.status_code == 400
    assert "has been delivered already" in again.get_data(as_text=True)
