"""Outbox throughput: how many e-mails per second the sender delivers to a local SMTP server.

A fresh migrated SQLite database gets one paid order and EMAILS order-confirmation e-mails
(rendered from the real templates); then `send_pending` runs in batches until the outbox is
empty, delivering over SMTP to an aiosmtpd server in the same process that only counts.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

from bench.common import bench_config, log, migrated_database, sqlite_url, verdict

EMAILS = 500
BATCH = 100  # the CLI's default --limit
TARGET_PER_S = 50.0


class CountingHandler:
    """An aiosmtpd handler that accepts every message and only counts it."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Count the message and accept it."""
        with self.lock:
            self.count += 1
        return "250 OK"


@dataclass
class MailResult:
    """Timings of enqueueing and delivering the outbox."""

    emails: int
    batch: int
    enqueue_s: float
    send_s: float
    batches: int
    sent: int
    received: int
    mean_message_bytes: int

    @property
    def enqueue_per_s(self) -> float:
        """E-mails rendered and inserted per second."""
        return self.emails / self.enqueue_s

    @property
    def send_per_s(self) -> float:
        """E-mails delivered (claimed, sent over SMTP, marked sent) per second."""
        return self.sent / self.send_s

    @property
    def ok(self) -> bool:
        """True when every e-mail arrived exactly once and fast enough."""
        return self.sent == self.emails == self.received and self.send_per_s >= TARGET_PER_S


def free_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_order(app: Flask) -> int:
    """Create one paid two-line order with a delivery address; return its id."""
    from shop.catalog.models import Product
    from shop.db import db
    from shop.orders.models import Order, OrderLine

    with app.app_context(), db.transaction() as session:
        heart = Product(sku="85123A", name="White Hanging Heart T-Light Holder", price_pence=295)
        bag = Product(sku="85099B", name="Jumbo Bag Red Retrospot", price_pence=195)
        session.add_all([heart, bag])
        session.flush()
        order = Order(
            number="BENCH-1",
            status="paid",
            email="ann@example.com",
            shipping_method="standard",
            shipping_pence=395,
            subtotal_pence=785,
            total_pence=1180,
            ship_name="Ann Example",
            ship_line1="1 High Street",
            ship_city="York",
            ship_postcode="YO1 7HH",
            country="United Kingdom",
        )
        for item, quantity in ((heart, 2), (bag, 1)):
            order.lines.append(
                OrderLine(
                    product_id=item.id,
                    sku=item.sku,
                    name=item.name,
                    quantity=quantity,
                    unit_price_pence=item.price_pence,
                    line_total_pence=item.price_pence * quantity,
                )
            )
        session.add(order)
        session.flush()
        return order.id


def enqueue(app: Flask, order_id: int, count: int) -> float:
    """Queue `count` confirmations in one transaction; return the seconds it took."""
    from shop.db import db
    from shop.mail.outbox import enqueue_email
    from shop.orders.models import Order

    started = time.perf_counter()
    with app.app_context(), db.transaction() as session:
        order = session.get(Order, order_id)
        for n in range(count):
            enqueue_email(
                session,
                kind="order_confirmation",
                to=f"customer{n}@example.com",
                subject=f"Order {order.number} confirmed",
                template="order_confirmation",
                context={"order": order, "order_url": f"https://shop.example/orders/{n}"},
                order_id=order.id,
            )
    return time.perf_counter() - started


def mean_message_bytes(app: Flask) -> int:
    """Average size of the text and HTML bodies of the queued e-mails."""
    from sqlalchemy import func, select

    from shop.db import db
    from shop.mail.models import OutboxEmail

    with app.app_context():
        query = select(
            func.avg(func.length(OutboxEmail.text_body) + func.length(OutboxEmail.html_body))
        )
        return int(db.session.scalar(query) or 0)


def run(emails: int = EMAILS, batch: int = BATCH) -> MailResult:
    """Enqueue `emails` e-mails in a fresh database and time their delivery."""
    from shop import create_app
    from shop.db import db
    from shop.mail.sender import send_pending

    with tempfile.TemporaryDirectory(prefix="shop-bench-mail-") as tmp:
        database = migrated_database(Path(tmp))
        port = free_port()
        app = create_app(
            bench_config(
                sqlite_url(database),
                Path(tmp) / "instance",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=port,
                SHOP_BASE_URL="https://shop.example",
            )
        )
        order_id = seed_order(app)
        log(f"mail: enqueueing {emails} e-mails")
        enqueue_s = enqueue(app, order_id, emails)
        size = mean_message_bytes(app)
        handler = CountingHandler()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            log(f"mail: sending in batches of {batch} to aiosmtpd on 127.0.0.1:{port}")
            sent = batches = 0
            started = time.perf_counter()
            while True:
                report = send_pending(app, limit=batch)
                if report.claimed == 0:
                    break
                batches += 1
                sent += report.sent
                if report.retrying or report.failed:
                    raise RuntimeError(f"mail bench: delivery failed: {report.errors[:3]}")
            send_s = time.perf_counter() - started
        finally:
            controller.stop()
            db.dispose()
        return MailResult(
            emails=emails,
            batch=batch,
            enqueue_s=enqueue_s,
            send_s=send_s,
            batches=batches,
            sent=sent,
            received=handler.count,
            mean_message_bytes=size,
        )


def report(result: MailResult) -> str:
    """Return the outbox-throughput section of the markdown report."""
    mark = verdict(result.ok)
    return "\n".join(
        [
            "## E-mail outbox throughput (SQLite, local aiosmtpd)",
            "",
            f"{result.emails} order confirmations (text + HTML, about "
            f"{result.mean_message_bytes / 1024:.1f} KiB of bodies each) rendered from the real "
            "templates into a fresh migrated SQLite database, then delivered by `send_pending` "
            f"in batches of {result.batch} (one claim transaction and one SMTP connection per "
            "batch, one short transaction per sent row) to an aiosmtpd server in the same "
            "process that only counts.",
            "",
            "| step | e-mails | seconds | e-mails/s |",
            "|---|---:|---:|---:|",
            f"| enqueue (render + insert, one transaction) | {result.emails} "
            f"| {result.enqueue_s:.2f} | {result.enqueue_per_s:,.0f} |",
            f"| send ({result.batches} batches) | {result.sent} | {result.send_s:.2f} "
            f"| {result.send_per_s:,.0f} |",
            "",
            "| measure | value | target | result |",
            "|---|---:|---:|---|",
            f"| delivered e-mails/s | {result.send_per_s:,.0f} | >= {TARGET_PER_S:.0f} | {mark} |",
            f"| received by the server | {result.received} | {result.emails} (each once) | |",
        ]
    )


def main() -> None:
    """Run the outbox benchmark alone and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=EMAILS, help="e-mails to enqueue")
    parser.add_argument("--batch", type=int, default=BATCH, help="e-mails per send_pending")
    args = parser.parse_args()
    print(report(run(args.emails, args.batch)))


if __name__ == "__main__":
    main()
