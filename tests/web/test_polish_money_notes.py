"""Money in an order's timeline is written as the shop writes it everywhere: £2.95."""

from __future__ import annotations

from html import unescape

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import db
from shop.payments import refunds, services
from shop.payments.gateway import Intent
from tests import factories
from tests.checkout_support import fresh, placed_order, settings
from tests.console_support import client_as


def test_a_refund_shows_on_the_timeline_as_pounds_and_pence(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    order_id = order.id
    session.commit()
    with app.app_context(), db.transaction() as tx:
        placed = tx.get(type(order), order_id)
        assert placed is not None
        booked = refunds.record_gateway_refunds(tx, settings(app), placed, [("re_1", 295)])
        assert booked == 1
    notes = [step.note for step in fresh(session, order_id).history]
    assert "Refunded £2.95" in notes
    client = client_as(app, session, "merchandiser")
    page = unescape(client.get(f"/console/orders/{order_id}").get_data(as_text=True))
    assert "Refunded £2.95" in page
    assert "GBP" not in page


def test_a_refund_larger_than_what_is_left_is_refused_in_pounds(
    app: Flask, session: Session
) -> None:
    order = factories.paid_order_with_address(session)
    order_id, total = order.id, order.total_pence
    session.commit()
    request = refunds.RefundRequest(amount_pence=total + 1)
    with app.app_context(), pytest.raises(refunds.RefundError) as refused:
        # Refused before the payment provider is asked, so no gateway is needed.
        refunds.refund_order(db.transaction, None, settings(app), order_id, request)  # type: ignore[arg-type]
    message = str(refused.value)
    assert message == "At most £11.80 of order HP-1001 can still be refunded."


def test_an_amount_mismatch_is_noted_in_pounds(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    intent = Intent("pi_fake", "succeeded", 100, "GBP", metadata={"order_id": str(order_id)})
    with app.app_context(), db.transaction() as tx:
        assert services.apply_intent(tx, settings(app), intent, source="test") == "flagged"
    order = fresh(session, order_id)
    total = f"£{order.total_pence // 100}.{order.total_pence % 100:02d}"
    assert f"amount mismatch: paid £1.00, order total is {total}" in (order.payment_flag or "")
    assert any(
        step.staff_note.startswith(
            f"Payment flagged: amount mismatch: paid £1.00, order total is {total}"
        )
        for step in order.history
    )
