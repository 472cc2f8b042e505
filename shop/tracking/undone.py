"""Recording the purchases an order no longer stands for: items sent back, or an order
cancelled after it was paid, so that recommendations stop treating them as bought."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.orders.models import Order
from shop.tracking.models import UNDONE_KIND, Event


def record_undone(
    session: Session, order: Order, quantities: Mapping[int, int], now: datetime | None = None
) -> int:
    """Record that these quantities of the order's lines (by line id) came back, in the
    caller's transaction; return how many rows were written (none when the shopper
    switched personalization off: their purchases were not recorded either)."""
    from shop.accounts.privacy import personalization_refused  # privacy imports payments

    lines = {line.id: line for line in order.lines}
    rows = [
        {
            "kind": UNDONE_KIND,
            "visitor_id": order.visitor_id or f"order-{order.number}",
            "user_id": order.user_id,
            "product_id": lines[line_id].product_id,
            "order_id": order.id,
            "quantity": qty,
            "created_at": now or utcnow(),
        }
        for line_id, qty in quantities.items()
        if qty > 0 and line_id in lines and lines[line_id].product_id is not None
    ]
    if not rows or personalization_refused(session, order.user_id, order.visitor_id):
        return 0
    session.execute(insert(Event), rows)
    return len(rows)
