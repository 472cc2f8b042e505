"""Keeps a member's Stripe customer record in step with their name and e-mail address.

A `profile_changed` event can be published late, retried or out of order, so the
receiver never sends what the event was about: it reads the account's current name and
address and sends those, which makes sending them twice harmless. A Stripe error raises,
so the event stays pending and is retried; a customer record that no longer exists at
Stripe is logged and left alone (a new one is made the next time a card is saved).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.db import db
from shop.events.bus import profile_changed
from shop.payments.gateway import GatewayNotFound, PaymentGateway
from shop.payments.setup import gateway

log = logging.getLogger(__name__)

SYNCED_FIELDS = frozenset({"name", "email"})
# Sends in one go while the account keeps changing under us; after that the event is retried.
MAX_ROUNDS = 3


class CustomerChangedMeanwhile(RuntimeError):
    """The account changed again after every send; the event is to be retried."""


def _current(sessions: Callable[[], Session], user_id: int) -> tuple[str, str, str] | None:
    """The account's customer id, e-mail and name, or None when there is nothing to update."""
    with sessions() as session:
        row = session.execute(
            select(User.stripe_customer_id, User.email, User.name, User.deleted_at).where(
                User.id == user_id
            )
        ).one_or_none()
    if row is None or not row.stripe_customer_id or row.deleted_at is not None:
        return None
    return row.stripe_customer_id, row.email or "", row.name or ""


def sync_customer(
    sessions: Callable[[], Session], provider: Callable[[], PaymentGateway], user_id: int
) -> bool:
    """Send the account's current e-mail and name to its customer record; True if sent."""
    sent: tuple[str, str, str] | None = None
    for _ in range(MAX_ROUNDS):
        current = _current(sessions, user_id)
        if current is None or current == sent:
            return sent is not None
        customer, email, name = current
        try:
            provider().update_customer(customer, email=email, name=name)
        except GatewayNotFound:
            log.warning(
                "user %d's customer record %s is gone at the payment provider; not updated",
                user_id,
                customer,
            )
            return False
        # Read again: a change committed while the request was on its way may have been
        # sent by its own event before ours arrived, and ours must not be the last word.
        sent = current
    raise CustomerChangedMeanwhile(f"user {user_id} kept changing while their record was sent")


def on_profile_changed(_sender: object, **payload: Any) -> None:
    """A changed name or e-mail address: update the member's customer record at Stripe."""
    if not SYNCED_FIELDS & set(payload.get("fields") or ()):
        return
    assert db.session_factory is not None
    sync_customer(db.session_factory, gateway, int(payload["user_id"]))


def init_app(app: Flask) -> None:
    """Subscribe to `profile_changed` (connecting twice is harmless)."""
    profile_changed.connect(on_profile_changed)
