"""Returns whose parcel never arrives are closed by `flask returns lapse` and the shopper is
told; staff can still refund one whose parcel turns up after all."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console.models import AuditEntry
from tests import factories
from tests.checkout_support import emails, fresh
from tests.console_support import client_as, confirmed
from tests.helpers import csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401
from tests.web.test_returns import _ask, _dispatch, _lines, _member_order, _return, _text


def test_a_return_whose_parcel_never_came_lapses_and_can_still_be_refunded(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _member_order(app, session, items, localstripe_url)
    number, order_id = order.number, order.id
    lines = _lines(order)
    heart, bag = lines[items["heart"].sku], lines[items["jumbo"].sku]
    _dispatch(app, order_id)
    client = app.test_client()
    sign_in(client, "mia@example.com", factories.PASSWORD)
    assert _ask(client, f"/account/orders/{number}/return", {heart: 1}).status_code == 302
    assert _ask(client, f"/account/orders/{number}/return", {bag: 1}).status_code == 302
    old = _return(session, f"{number}-R1")
    old.created_at -= timedelta(days=29)
    session.commit()

    runner = app.test_cli_runner()
    assert runner.invoke(args=["returns", "lapse", "--days", "7"]).exit_code == 2  # too soon
    result = runner.invoke(args=["returns", "lapse"])
    assert result.exit_code == 0, result.output
    assert "Closed 1 return(s) whose parcel had not arrived after 28 days." in result.output
    assert f"{number}-R1" in result.output
    lapsed = _return(session, f"{number}-R1")
    assert lapsed.status == "lapsed" and lapsed.closed_at is not None
    assert _return(session, f"{number}-R2").status == "requested"  # asked for just now
    [mail] = emails(session, "return_lapsed")
    assert mail.subject == f"We have not received your return for order {number}"
    assert "reply with the proof of postage" in mail.text_body
    shown = _text(client.get(f"/account/orders/{number}"))
    assert f"Return {number}-R1 · Closed: the parcel did not arrive" in shown
    assert f"Return {number}-R1 closed: its parcel had not arrived after 28 days" in shown
    assert runner.invoke(args=["returns", "lapse"]).output.startswith("Closed 0 return(s)")

    # The parcel turns up after all: staff refund it as usual.
    staff = client_as(app, session, "merchandiser")
    assert "1 return awaiting the parcel" in _text(staff.get("/console/"))  # R2 only
    page = _text(staff.get(f"/console/returns/{lapsed.id}"))
    assert "Lapsed: no parcel" in page and "If it turns up after all" in page
    assert "Do not accept" not in page
    token = csrf_token(staff, f"/console/returns/{lapsed.id}")
    done = confirmed(
        staff,
        f"/console/returns/{lapsed.id}/receive",
        {"csrf_token": token, "amount": "2.95", "restock": "y"},
    )
    assert done.status_code == 302
    assert _return(session, f"{number}-R1").status == "refunded"
    assert fresh(session, order_id).refunded_pence == 295
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "return.receive"))
    assert entry is not None and entry.before == {"status": "lapsed"}
