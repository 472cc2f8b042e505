"""Stripe webhooks: verified, recorded once by event id, and applied idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.db import Transaction
from shop.orders.models import Order
from shop.payments.gateway import ChargeRefunds, InvalidWebhook, PaymentGateway
from shop.payments.models import PaymentAttempt, WebhookEvent
from shop.payments.refunds import record_gateway_refunds
from shop.payments.services import apply_intent

HANDLED = ("payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded")


@dataclass(frozen=True)
class WebhookResult:
    """The HTTP status to answer with and what happened."""

    status_code: int
    outcome: str


def handle_webhook(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    payload: bytes,
    signature: str,
) -> WebhookResult:
    """Verify and apply one webhook delivery; a replay is answered 200 with no effect."""
    try:
        event = gateway.parse_webhook(payload, signature)
    except InvalidWebhook as exc:
        return WebhookResult(400, str(exc))
    try:
        with transaction() as session:
            if session.scalar(select(WebhookEvent.id).where(WebhookEvent.event_id == event.id)):
                return WebhookResult(200, "duplicate")
            outcome = "ignored: not a handled type"
            if event.type in HANDLED and event.intent is not None:
                outcome = apply_intent(session, settings, event.intent, source="webhook")
            elif event.type == "charge.refunded" and event.charge is not None:
                outcome = _refunded(session, settings, event.charge.intent_id, event.charge)
            session.add(WebhookEvent(event_id=event.id, type=event.type, outcome=outcome[:300]))
    except IntegrityError:
        return WebhookResult(200, "duplicate")
    return WebhookResult(200, outcome)


def _refunded(
    session: Session, settings: CheckoutSettings, intent_id: str | None, charge: ChargeRefunds
) -> str:
    order = session.scalar(
        select(Order)
        .join(PaymentAttempt, PaymentAttempt.order_id == Order.id)
        .where(PaymentAttempt.intent_id == intent_id)
    )
    if order is None:
        return "ignored: unknown payment"
    booked = record_gateway_refunds(
        session, settings, order, [(r.id, r.amount) for r in charge.refunds if r.status != "failed"]
    )
    return f"booked {booked} refund(s)"
