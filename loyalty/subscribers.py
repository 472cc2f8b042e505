"""Domain-event receivers: points and immediate upgrades on `order_paid` (and what is owed
to refunds beyond the points unpaid orders still hold written off); on
`order_refunded`, spent points returned and earned points reversed; on a changed e-mail
address (`profile_changed`), unconfirmed opt-in links voided. Each runs in its own
transaction and is idempotent (the ledger's unique reference per order and per refund), so
a retried event changes nothing twice."""

from __future__ import annotations

from typing import Any

from flask import Flask

from loyalty import earning, owed_points, preferences
from loyalty.membership import find_membership
from shop.db import db
from shop.events.bus import order_paid, order_refunded, profile_changed


def on_order_paid(_sender: object, **payload: Any) -> None:
    """Award the member's points for the order and upgrade them if it crossed a threshold;
    points the order held for a refund's debt are spent now, so that debt is written off."""
    with db.transaction() as session:
        earning.award_for_order(session, int(payload["order_id"]), paid_by=payload.get("user_id"))
        member = find_membership(session, payload["user_id"]) if payload.get("user_id") else None
        if member is not None:
            owed_points.write_off_spent(session, member.id)


def on_order_refunded(_sender: object, **payload: Any) -> None:
    """Return spent points and take back earned points in proportion to the refund."""
    with db.transaction() as session:
        earning.settle_refund(
            session,
            int(payload["order_id"]),
            int(payload["refund_id"]),
            int(payload["refunded_pence"]),
            int(payload["total_pence"]),
            int(payload["amount_pence"]),
        )


def on_profile_changed(_sender: object, **payload: Any) -> None:
    """A new e-mail address (or an old one given back by its undo link): opt-in links sent
    to the address the account no longer has no longer confirm anything."""
    if payload.get("change") not in ("email", "email_revert"):
        return
    with db.transaction() as session:
        preferences.withdraw_pending(session, int(payload["user_id"]))


def init_app(app: Flask) -> None:
    """Subscribe to the shop's events (connecting twice is harmless)."""
    order_paid.connect(on_order_paid)
    order_refunded.connect(on_order_refunded)
    profile_changed.connect(on_profile_changed)
