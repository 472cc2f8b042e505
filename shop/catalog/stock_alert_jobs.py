"""The back-in-stock job: accounts' alerts and visitors' confirmed alerts in one run."""

from __future__ import annotations

from datetime import datetime

from shop.catalog import guest_stock_alerts, stock_alerts
from shop.catalog.stock_alerts import BATCH_SIZE, SendReport
from shop.db import Transaction


def send_back_in_stock(
    transaction: Transaction,
    base_url: str,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> SendReport:
    """Queue the back-in-stock e-mails of accounts and of confirmed visitors' addresses."""
    sent = [
        send(transaction, base_url, now=now, batch_size=batch_size)
        for send in (stock_alerts.send_back_in_stock, guest_stock_alerts.send_back_in_stock)
    ]
    return SendReport(sum(r.emails for r in sent), sum(r.products for r in sent))
