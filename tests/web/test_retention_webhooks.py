"""Storage limitation and Stripe webhooks: `flask privacy prune` keeps the webhook records
(no payload, only what makes a replay harmless), so an event Stripe delivers again after a
prune is still a duplicate, even once the order's `order_paid` event went."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import db, utcnow
from shop.events.models import DomainEvent
from shop.orders import states
from shop.payments.models import WebhookEvent
from shop.retention import prune
from tests.checkout_support import emails, fresh, placed_order
from tests.stripe_support import (
    config,  # noqa: F401
    intent_event,
    localstripe_url,  # noqa: F401
    signed_webhook,
)


def _deliver(client: FlaskClient, event: dict[str, Any]) -> str:
    """Sign and POST the event as Stripe would (each delivery signed anew); its outcome."""
    payload, signature = signed_webhook(event)
    response = client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.get_json()["outcome"])


def test_a_webhook_replayed_after_a_prune_is_still_a_duplicate(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    total = fresh(session, order_id).total_pence
    paid = intent_event("evt_paid", "payment_intent.succeeded", "pi_old", order_id, total)
    assert _deliver(client, paid) == "paid"
    session.rollback()
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_paid"))
    assert event is not None and event.payload["email"] == "guest@example.com"
    assert event.dispatched_at is not None

    with app.app_context():
        counts = prune(db.transaction, now=utcnow() + timedelta(days=400)).counts
    assert counts["domain_events"] == 1
    session.rollback()
    assert session.scalar(select(func.count(DomainEvent.id))) == 0
    rows = session.execute(select(WebhookEvent.event_id, WebhookEvent.outcome)).all()
    assert [tuple(row) for row in rows] == [("evt_paid", "paid")]

    assert _deliver(client, paid) == "duplicate"
    # A new event about the same old payment finds the order paid already: it changes nothing.
    again = intent_event("evt_again", "payment_intent.succeeded", "pi_old", order_id, total)
    assert _deliver(client, again) == "paid"

    order = fresh(session, order_id)
    assert order.status == states.PAID
    assert [change.to_status for change in order.history].count(states.PAID) == 1
    assert len(emails(session, "order_confirmation")) == 1
    assert session.scalar(select(func.count(DomainEvent.id))) == 0  # no second order_paid
    assert session.scalar(select(func.count(WebhookEvent.id))) == 2
