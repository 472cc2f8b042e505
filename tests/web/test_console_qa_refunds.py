"""Console refunds found by QA: a refund booked by a concurrent request is not reported as
this request's. Refunds go through a real localstripe server, as in test_console_orders."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console import order_admin
from shop.console.models import AuditEntry
from shop.payments import refunds
from shop.payments.models import Refund
from tests.checkout_support import fresh, paid_order
from tests.console_support import client_as, console_token
from tests.stripe_support import config, localstripe_url  # noqa: F401


def test_a_refund_booked_by_a_concurrent_request_is_not_reported_as_made(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    session.rollback()
    client = client_as(app, session, "merchandiser")
    path = f"/console/orders/{order_id}"
    token = console_token(client, path)

    def booked_elsewhere(*args: Any, **kwargs: Any) -> Refund:
        # As when the winner of two identical refunds booked it: this request made none.
        made = refunds.refund_order(*args, **{**kwargs, "on_booked": None})
        raise refunds.RefundMadeElsewhere(made)

    monkeypatch.setattr(order_admin, "refund_order", booked_elsewhere)
    form = {
        "refund-csrf_token": token,
        "refund-amount": "1.00",
        "refund-refunded_before": "0",
        "refund-confirm": "1",
    }
    response = client.post(f"{path}/refund", data=form)
    assert response.status_code == 302
    page = unescape(client.get(path).get_data(as_text=True))
    assert (
        "Another refund of £1.00 was being made on this order at the same moment; "
        "this one was not made. Check the order's refunds and refund again if you meant two."
    ) in page
    assert "Refunded £1.00." not in page
    session.rollback()
    assert [r.amount_pence for r in session.scalars(select(Refund))] == [100]
    assert fresh(session, order_id).refunded_pence == 100
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "order.refund")) is None
