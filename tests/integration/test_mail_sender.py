"""The outbox sender against a real SMTP server (aiosmtpd): delivery, retries, claims, CLI."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from shop.mail.outbox import (
    FORGOTTEN_ADDRESS,
    FORGOTTEN_TEXT,
    OutboxError,
    enqueue_email,
    retry_email,
)
from shop.mail.sender import claim_batch, run_loop, send_pending
from shop.orders.models import Order
from tests.factories import paid_order_with_address
from tests.mail_smtp import SmtpServer, free_port, smtp_server  # noqa: F401


@pytest.fixture
def order(app: Flask, session: Session, smtp_server: SmtpServer) -> Order:  # noqa: F811
    """A paid order, with the app's SMTP settings pointing at the test server."""
    app.config.update(
        SHOP_BASE_URL="https://shop.example",
        SMTP_HOST=smtp_server.host,
        SMTP_PORT=smtp_server.port,
        SMTP_TIMEOUT_S=5,
        MAIL_FROM="Hearth & Parcel <orders@shop.example>",
    )
    placed = paid_order_with_address(session)
    session.commit()
    return placed


def _enqueue(
    app: Flask, session: Session, order: Order, count: int = 1, **overrides: Any
) -> list[int]:
    """Queue e-mails in a write transaction of their own, as services do (BEGIN IMMEDIATE)."""
    ids = []
    session.rollback()  # the test's read snapshot must not hold SQLite back
    with app.app_context(), db.transaction() as tx:
        for n in range(count):
            fields: dict[str, Any] = {
                "kind": "order_confirmation",
                "to": f"customer{n}@example.com",
                "subject": f"Order {order.number} confirmed ({n})",
                "template": "order_confirmation",
                "context": {"order": order, "order_url": "https://shop.example/orders/1"},
                "order_id": order.id,
            }
            fields.update(overrides)
            row = enqueue_email(tx, **fields)
            tx.flush()
            ids.append(row.id)
    return ids


def _row(session: Session, email_id: int) -> OutboxEmail:
    session.rollback()  # end the read snapshot: the sender wrote through its own sessions
    row = session.get(OutboxEmail, email_id, populate_existing=True)
    assert row is not None
    return row


def test_sender_delivers_a_multipart_message_with_the_stored_message_id(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    [email_id] = _enqueue(
        app,
        session,
        order,
        headers={"List-Unsubscribe": "<https://shop.example/unsubscribe/abc>"},
    )
    stored_id = _row(session, email_id).message_id

    report = send_pending(app)

    assert (report.claimed, report.sent, report.retrying, report.failed) == (1, 1, 0, 0)
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["customer0@example.com"]
    assert received.mail_from == "orders@shop.example"
    message = received.message
    assert message["Message-ID"] == stored_id
    assert message["From"] == "Hearth & Parcel <orders@shop.example>"
    assert message["To"] == "customer0@example.com"
    assert message["Subject"] == "Order HP-1001 confirmed (0)"
    assert message["Date"]
    assert message["List-Unsubscribe"] == "<https://shop.example/unsubscribe/abc>"
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "Order HP-1001" in parts["text/plain"] or "ORDER HP-1001" in parts["text/plain"]
    assert "£11.80" in parts["text/plain"]
    assert "<table" in parts["text/html"]
    assert "£11.80" in parts["text/html"]

    row = _row(session, email_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None
    assert send_pending(app).claimed == 0  # sent once, never again


def test_a_batch_reuses_one_smtp_connection(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    _enqueue(app, session, order, count=5)
    assert send_pending(app, limit=10).sent == 5
    received = smtp_server.wait_for(5)
    assert len({message.peer for message in received}) == 1


def test_smtp_down_keeps_rows_pending_with_backoff_until_the_server_is_back(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    ids = _enqueue(app, session, order, count=3)
    smtp_server.stop()
    before = utcnow()

    report = send_pending(app)

    assert (report.claimed, report.sent, report.retrying, report.failed) == (3, 0, 3, 0)
    for email_id in ids:
        row = _row(session, email_id)
        assert row.status == "pending"
        assert row.attempts == 1
        assert row.next_attempt_at > before + timedelta(seconds=20)  # 30 s base, +-10%
        assert row.last_error and "refused" in row.last_error.lower()
        assert row.claimed_by is None
    assert send_pending(app).claimed == 0  # not due yet

    smtp_server.start()
    report = send_pending(app, now=utcnow() + timedelta(minutes=5))
    assert report.sent == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_server.wait_for(3)) == [
        "customer0@example.com",
        "customer1@example.com",
        "customer2@example.com",
    ]
    assert {_row(session, email_id).status for email_id in ids} == {"sent"}
    assert _row(session, ids[0]).attempts == 2


def test_after_max_attempts_a_row_is_failed_kept_and_can_be_retried(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    app.config.update(MAIL_MAX_ATTEMPTS=3, MAIL_BACKOFF_BASE_S=1)
    [email_id] = _enqueue(app, session, order)
    smtp_server.stop()
    now = utcnow()
    statuses = []
    for _ in range(3):
        now += timedelta(hours=2)
        send_pending(app, now=now)
        statuses.append(_row(session, email_id).status)
    assert statuses == ["pending", "pending", "failed"]

    now += timedelta(hours=2)
    assert send_pending(app, now=now).claimed == 0  # failed rows are not retried on their own
    row = _row(session, email_id)
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error

    retry_email(session, email_id)
    session.commit()
    smtp_server.start()
    assert send_pending(app).sent == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_a_recipient_refused_for_good_fails_at_once(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    smtp_server.handler.refuse.add("customer0@example.com")
    refused, accepted = _enqueue(app, session, order, count=2)

    report = send_pending(app)

    assert (report.sent, report.failed, report.retrying) == (1, 1, 0)
    row = _row(session, refused)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error and "550" in row.last_error
    # The error is kept for staff after the address is removed: it must not hold it.
    assert "customer0@example.com" not in row.last_error + " ".join(report.errors)
    assert "<the recipient>: Recipient address rejected" in row.last_error
    assert _row(session, accepted).status == "sent"


def test_a_stale_sending_claim_is_taken_over(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    stale, fresh = _enqueue(app, session, order, count=2)
    now = utcnow()
    for email_id, claimed_at in ((stale, now - timedelta(minutes=11)), (fresh, now)):
        row = _row(session, email_id)
        row.status, row.claimed_by, row.claimed_at = "sending", "dead-sender", claimed_at
    session.commit()

    report = send_pending(app, worker_id="rescuer")

    assert (report.claimed, report.sent) == (1, 1)
    assert _row(session, stale).status == "sent"
    assert _row(session, stale).claimed_by == "rescuer"
    assert _row(session, fresh).status == "sending"  # another sender may still be on it
    assert len(smtp_server.wait_for(1)) == 1


def test_claims_by_two_workers_never_overlap(app: Flask, session: Session, order: Order) -> None:
    ids = _enqueue(app, session, order, count=6)
    assert db.write_session_factory is not None
    now = utcnow()
    first = claim_batch(db.write_session_factory, "w1", 4, now)
    second = claim_batch(db.write_session_factory, "w2", 4, now)
    assert len(first) == 4
    assert len(second) == 2
    assert sorted(first + second) == ids
    assert claim_batch(db.write_session_factory, "w3", 4, now) == []
    session.rollback()
    owners = dict(session.execute(select(OutboxEmail.id, OutboxEmail.claimed_by)).all())
    assert {owners[i] for i in first} == {"w1"}
    assert {owners[i] for i in second} == {"w2"}


def test_postgres_claims_skip_rows_another_transaction_has_locked(
    app: Flask, session: Session, order: Order
) -> None:
    if not db.engine or db.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is the PostgreSQL path")
    ids = _enqueue(app, session, order, count=3)
    assert db.write_session_factory is not None
    with db.write_session_factory() as holder, holder.begin():
        locked = holder.scalars(
            select(OutboxEmail.id).where(OutboxEmail.id == ids[0]).with_for_update()
        ).all()
        assert locked == [ids[0]]
        # Would block until `holder` ends if the claim waited on the lock instead of skipping.
        claimed = claim_batch(db.write_session_factory, "w1", 10, utcnow())
    assert claimed == ids[1:]
    assert claim_batch(db.write_session_factory, "w2", 10, utcnow()) == [ids[0]]


def test_concurrent_senders_send_each_row_exactly_once(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    total = 40
    ids = _enqueue(app, session, order, count=total)
    message_ids = {_row(session, email_id).message_id for email_id in ids}
    start = threading.Barrier(3)
    sent: dict[str, int] = {}
    errors: list[BaseException] = []

    def sender(name: str) -> None:
        """Send small batches until the outbox is drained."""
        try:
            start.wait()
            count = 0
            while True:
                report = send_pending(app, limit=3, worker_id=name)
                count += report.sent
                if report.claimed == 0:
                    break
            sent[name] = count
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(f"sender-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(sent.values()) == total

    received = smtp_server.wait_for(total)
    assert len(received) == total
    assert sorted(m.message["Message-ID"] for m in received) == sorted(message_ids)
    session.rollback()
    statuses = session.scalars(select(OutboxEmail.status)).all()
    assert statuses == ["sent"] * total


def test_run_loop_sends_until_stopped(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run_loop(stop, 0.05, app)))
    thread.start()
    try:
        _enqueue(app, session, order, count=2)
        assert len(smtp_server.wait_for(2)) == 2
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert result[0].sent == 2


def test_sender_logs_in_when_credentials_are_configured(
    app: Flask, session: Session, order: Order
) -> None:
    server = SmtpServer(credentials=("shop", "s3cret"))
    server.start()
    try:
        app.config.update(SMTP_PORT=server.port, SMTP_USERNAME="shop", SMTP_PASSWORD="wrong")
        [email_id] = _enqueue(app, session, order)
        report = send_pending(app)
        assert (report.sent, report.retrying) == (0, 1)
        row = _row(session, email_id)
        assert row.status == "pending"
        assert row.last_error and "535" in row.last_error  # authentication failed

        app.config["SMTP_PASSWORD"] = "s3cret"
        assert send_pending(app, now=utcnow() + timedelta(minutes=5)).sent == 1
        [received] = server.wait_for(1)
        assert received.login == "shop"
    finally:
        server.stop()


def test_cli_send_prints_a_summary(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    _enqueue(app, session, order, count=2)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["mail", "send"])

    assert result.exit_code == 0, result.output
    assert "sent 2, retrying 0, failed 0" in result.output
    assert len(smtp_server.wait_for(2)) == 2

    smtp_server.stop()
    _enqueue(app, session, order, count=1)
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 0, retrying 1, failed 0" in result.output


def test_cli_send_reports_an_unreachable_relay(app: Flask, session: Session, order: Order) -> None:
    app.config["SMTP_PORT"] = free_port()
    _enqueue(app, session, order)
    result = app.test_cli_runner().invoke(args=["mail", "send", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "retrying 1" in result.output


def test_a_message_asked_to_be_forgotten_loses_address_and_text_once_sent(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    forget, keep = (
        _enqueue(app, session, order, forget_after_send=True)[0],
        _enqueue(app, session, order)[0],
    )
    assert send_pending(app).sent == 2
    received = smtp_server.wait_for(2)
    assert [m.rcpt_tos for m in received] == [["customer0@example.com"]] * 2
    gone = _row(session, forget)
    assert (gone.status, gone.to_address, gone.text_body, gone.html_body, gone.headers) == (
        "sent",
        FORGOTTEN_ADDRESS,
        FORGOTTEN_TEXT,
        FORGOTTEN_TEXT,
        {},
    )
    assert gone.forgotten_at is not None
    kept = _row(session, keep)
    assert kept.to_address == "customer0@example.com" and kept.forgotten_at is None


def test_a_forgotten_message_that_failed_for_good_cannot_be_retried(
    app: Flask,
    session: Session,
    order: Order,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    smtp_server.handler.refuse.add("customer0@example.com")
    [email_id] = _enqueue(app, session, order, forget_after_send=True)
    send_pending(app)
    row = _row(session, email_id)
    assert (row.status, row.to_address) == ("failed", FORGOTTEN_ADDRESS)
    with pytest.raises(OutboxError, match="address and text were removed"):
        retry_email(session, email_id)
    session.rollback()
    assert _row(session, email_id).status == "failed"
