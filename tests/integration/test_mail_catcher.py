"""The development mail catcher as a real SMTP server: the sender's mail lands in .eml files."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from shop.mail.catcher import start_catcher
from shop.mail.outbox import enqueue_email
from shop.mail.sender import send_pending
from tests.factories import paid_order_with_address
from tests.mail_smtp import free_port


def test_the_catcher_saves_what_the_sender_delivers(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    port = free_port()
    directory = tmp_path / "mail"
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    order = paid_order_with_address(session)
    with app.app_context():
        row = enqueue_email(
            session,
            kind="order_shipped",
            to="ann@example.com",
            subject=f"Order {order.number} is on its way",
            template="order_shipped",
            context={"order": order, "order_url": "https://shop.example/orders/1"},
        )
    session.commit()

    controller = start_catcher("127.0.0.1", port, directory)
    try:
        assert send_pending(app).sent == 1
        deadline = time.monotonic() + 5
        while not list(directory.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        controller.stop()

    [saved] = list(directory.glob("*.eml"))
    assert saved.name.endswith("-order-hp-1001-is-on-its-way.eml")
    message = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == row.message_id
    assert message["To"] == "ann@example.com"
