"""The e-mail outbox: rendering, Message-IDs, the caller's transaction, retry and listing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.mail.models import OutboxEmail
from shop.mail.outbox import (
    OutboxError,
    enqueue_email,
    message_id_domain,
    outbox_counts,
    outbox_rows,
    retry_email,
    withdraw_pending,
)
from shop.orders.models import Order
from tests.factories import paid_order_with_address

ORDER_URL = "https://shop.example/orders/HP-1001?token=a&b=c"
MESSAGE_ID_RE = re.compile(r"^<[0-9a-f]{32}@shop\.example>$")


def _context(order: Order, **extra: Any) -> dict[str, Any]:
    return {"order": order, "order_url": ORDER_URL, **extra}


def _enqueue(app: Flask, session: Session, order: Order, **overrides: Any) -> OutboxEmail:
    fields: dict[str, Any] = {
        "kind": "order_confirmation",
        "to": "ann@example.com",
        "subject": f"Order {order.number} confirmed",
        "template": "order_confirmation",
        "context": _context(order),
        "order_id": order.id,
        "user_id": order.user_id,
    }
    fields.update(overrides)
    with app.app_context():
        return enqueue_email(session, **fields)


@pytest.fixture
def order(app: Flask, session: Session) -> Order:
    app.config["SHOP_BASE_URL"] = "https://shop.example"
    placed = paid_order_with_address(session)
    session.commit()
    return placed


def test_enqueue_renders_both_parts_with_a_stable_message_id(
    app: Flask, session: Session, order: Order
) -> None:
    row = _enqueue(app, session, order, headers={"X-Order": order.number})
    session.commit()
    message_id = row.message_id
    assert MESSAGE_ID_RE.match(message_id)

    session.expire_all()
    stored = session.get(OutboxEmail, row.id)
    assert stored is not None
    assert stored.message_id == message_id
    assert stored.status == "pending"
    assert stored.attempts == 0
    assert stored.order_id == order.id
    assert stored.headers == {"X-Order": "HP-1001"}
    for part in (stored.text_body, stored.html_body):
        assert "HP-1001" in part
        assert "White Hanging Heart T-Light Holder" in part
        assert "£11.80" in part  # total: 2 x 2.95 + 1.95 + 3.95 delivery
        assert "Hearth &" in part
    assert ORDER_URL in stored.text_body
    assert "https://shop.example/orders/HP-1001?token=a&amp;b=c" in stored.html_body
    assert "<html" not in stored.text_body
    assert stored.html_body.lstrip().startswith("<!doctype html>")

    second = _enqueue(app, session, order)
    session.commit()
    assert second.message_id != message_id


@pytest.mark.parametrize(
    ("template", "extra", "expected"),
    [
        ("order_confirmation", {}, "Thank you for your order"),
        ("payment_failed", {"retry_url": "https://shop.example/pay/HP-1001"}, "/pay/HP-1001"),
        ("order_shipped", {}, "on its way"),
        ("order_refunded", {"refund_pence": 295}, "refunded £2.95"),
        ("order_cancelled", {"stock_released": True}, "no money has been taken"),
        ("order_cancelled_refunded", {"refund_pence": 295}, "as you asked"),
    ],
)
def test_every_order_message_renders_its_summary(
    app: Flask, session: Session, order: Order, template: str, extra: dict[str, Any], expected: str
) -> None:
    row = _enqueue(
        app, session, order, kind=template, template=template, context=_context(order, **extra)
    )
    for part in (row.text_body, row.html_body):
        assert expected in part
        assert "Jumbo Bag Red Retrospot" in part
        assert "YO1 7HH" in part
        assert "£1.95" in part
    assert ORDER_URL in row.text_body


def test_html_part_escapes_what_the_shop_did_not_write(
    app: Flask, session: Session, order: Order
) -> None:
    order.ship_name = "<script>alert(1)</script>"
    row = _enqueue(app, session, order)
    assert "<script>" not in row.html_body
    assert "&lt;script&gt;" in row.html_body
    assert "<script>alert(1)</script>" in row.text_body  # plain text is not HTML


def test_the_row_commits_and_rolls_back_with_the_callers_transaction(
    app: Flask, session: Session, order: Order
) -> None:
    order.status = "shipped"
    _enqueue(app, session, order, kind="order_shipped", template="order_shipped")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
    assert session.get(Order, order.id).status == "paid"  # type: ignore[union-attr]


def test_message_id_domain_falls_back_to_shop_local() -> None:
    assert message_id_domain("https://shop.example:8443/x") == "shop.example"
    assert message_id_domain("") == "shop.local"
    assert message_id_domain("not a url") == "shop.local"


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hello\r\nBcc: everyone@example.com"},
        {"to": "ann@example.com\nBcc: x@example.com"},
        {"to": "not-an-address"},
        {"subject": "   "},
        {"headers": {"Bcc": "x@example.com"}},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-Ok": "line\nbreak"}},
    ],
)
def test_enqueue_refuses_header_injection_and_bad_input(
    app: Flask, session: Session, order: Order, overrides: dict[str, Any]
) -> None:
    with pytest.raises(OutboxError):
        _enqueue(app, session, order, **overrides)


def test_retry_puts_only_failed_rows_back_in_the_queue(
    app: Flask, session: Session, order: Order
) -> None:
    failed = _enqueue(app, session, order)
    pending = _enqueue(app, session, order)
    session.flush()
    failed.status, failed.attempts, failed.last_error = "failed", 6, "SMTP down"
    session.commit()

    row = retry_email(session, failed.id)
    session.commit()
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "SMTP down")

    with pytest.raises(OutboxError, match="only failed"):
        retry_email(session, pending.id)
    with pytest.raises(OutboxError, match="no e-mail"):
        retry_email(session, 999_999)


def test_outbox_rows_lists_newest_first_and_filters_by_status(
    app: Flask, session: Session, order: Order
) -> None:
    rows = [_enqueue(app, session, order) for _ in range(3)]
    session.flush()
    rows[0].status = "failed"
    session.commit()

    assert [r.id for r in outbox_rows(session)] == [rows[2].id, rows[1].id, rows[0].id]
    assert [r.id for r in outbox_rows(session, status="failed")] == [rows[0].id]
    assert len(outbox_rows(session, limit=2)) == 2
    assert outbox_counts(session) == {
        "pending": 2,
        "sending": 0,
        "sent": 0,
        "failed": 1,
        "withdrawn": 0,
    }
    with pytest.raises(OutboxError):
        outbox_rows(session, status="lost")


def test_cli_lists_and_retries(app: Flask, session: Session, order: Order) -> None:
    row = _enqueue(app, session, order)
    session.flush()
    row.status, row.attempts, row.last_error = "failed", 6, "ConnectionRefusedError: refused"
    session.commit()
    runner = app.test_cli_runner()

    listed = runner.invoke(args=["mail", "list", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "failed 1" in listed.output
    assert "ann@example.com" in listed.output
    assert "ConnectionRefusedError" in listed.output

    retried = runner.invoke(args=["mail", "retry", str(row.id)])
    assert retried.exit_code == 0, retried.output
    assert "pending again" in retried.output
    session.rollback()
    assert session.get(OutboxEmail, row.id).status == "pending"  # type: ignore[union-attr]

    again = runner.invoke(args=["mail", "retry", str(row.id)])
    assert again.exit_code != 0
    assert "only failed" in again.output

    for command in (["mail", "--help"], ["mail", "send", "--help"], ["mail", "list", "--help"]):
        helped = runner.invoke(args=command)
        assert helped.exit_code == 0
        assert "e-mail" in helped.output.lower()


def test_payment_failed_shows_the_decline_reason_when_given(
    app: Flask, session: Session, order: Order
) -> None:
    context = _context(order, retry_url="https://shop.example/pay/x", reason="Card <declined>")
    row = _enqueue(app, session, order, template="payment_failed", context=context)
    assert "The reason given: Card <declined>" in row.text_body
    assert "The reason given: Card &lt;declined&gt;" in row.html_body

    plain = _enqueue(
        app, session, order, template="payment_failed", context=_context(order, retry_url="x")
    )
    assert "reason given" not in plain.text_body
    assert "reason given" not in plain.html_body


def test_withdrawing_takes_rows_a_dead_sender_left_sending_but_not_live_claims(
    app: Flask, session: Session, order: Order
) -> None:
    app.config["MAIL_CLAIM_TIMEOUT_S"] = 600
    waiting, abandoned, in_flight, other_kind = (
        _enqueue(app, session, order, kind=kind)
        for kind in ("reminder", "reminder", "reminder", "x")
    )
    session.flush()
    abandoned.status, abandoned.claimed_by = "sending", "dead-sender"
    abandoned.claimed_at = utcnow() - timedelta(minutes=11)
    in_flight.status, in_flight.claimed_by = "sending", "live-sender"
    in_flight.claimed_at = utcnow() - timedelta(minutes=1)
    other_kind.status, other_kind.claimed_by = "sending", "dead-sender"
    other_kind.claimed_at = abandoned.claimed_at
    session.commit()

    with app.app_context():
        count = withdraw_pending(session, ["reminder"], "order paid", order_id=order.id)
    session.commit()

    assert count == 2
    statuses = {
        row.id: (row.status, row.claimed_by) for row in session.scalars(select(OutboxEmail))
    }
    assert statuses[waiting.id] == ("withdrawn", None)
    assert statuses[abandoned.id] == ("withdrawn", None)
    assert statuses[in_flight.id] == ("sending", "live-sender")
    assert statuses[other_kind.id] == ("sending", "dead-sender")
