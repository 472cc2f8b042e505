"""Locking an order's row, so that two changes of one order take turns."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shop.orders.models import Order


def lock_order(session: Session, order: Order) -> Order:
    """Lock the order's row until the transaction ends and read it again, status and
    timeline, so that a status change is checked against what is stored now.

    Two requests moving the same order on (two clicks on "Mark shipped", a payment landing
    while staff cancel the order, the console and `flask orders ship` at once) then take
    turns: the second waits for the first to commit and sees its change, so it is refused
    (or flagged) instead of shipping twice or marking a cancelled order paid. The lock is
    the one refunds take (`payments.refunds`), so a refund waits for it too. SQLite has no
    row locks; its write transactions (BEGIN IMMEDIATE) are serial already.
    """
    session.flush()  # refresh would discard unflushed changes
    session.refresh(order, with_for_update=True)
    session.expire(order, ["history"])
    return order
