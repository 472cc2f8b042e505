"""Repairing orders whose payment confirmation was lost, by asking the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.db import Transaction, utcnow
from shop.orders import states
from shop.orders.models import Order
from shop.payments.gateway import GatewayError, GatewayUnavailable, Intent, PaymentGateway
from shop.payments.models import PaymentAttempt
from shop.payments.services import OPEN, apply_intent


@dataclass
class ReconcileReport:
    """What reconciliation looked at and changed."""

    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def reconcile(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    *,
    min_age_minutes: int = 5,
) -> ReconcileReport:
    """Ask the gateway about every unpaid or cancelled order with an open attempt older
    than min_age.

    A cancelled order's open intents are cancelled at the gateway (so a bank check left
    open can no longer take the money); one that took the money anyway is recorded and the
    order flagged for a refund.
    """
    cutoff = utcnow() - timedelta(minutes=min_age_minutes)
    with transaction() as session:
        rows = session.execute(
            select(PaymentAttempt.order_id, Order.number, Order.status, PaymentAttempt.intent_id)
            .join(Order, Order.id == PaymentAttempt.order_id)
            .where(
                Order.status.in_((states.PENDING_PAYMENT, states.CANCELLED)),
                PaymentAttempt.status.in_(OPEN),
                PaymentAttempt.updated_at <= cutoff,
            )
            .order_by(PaymentAttempt.order_id)
        ).all()
    report = ReconcileReport()
    for order_id, number, status, intent_id in rows:
        report.checked += 1
        try:
            if intent_id:
                intents = [gateway.retrieve(intent_id)]
            else:
                # The number is unique across databases too (ids restart in a fresh shop).
                intents = gateway.find_by_metadata("order_number", number)
            if status == states.CANCELLED:
                intents = [_cancel_if_open(gateway, intent) for intent in intents]
        except GatewayError as exc:
            report.errors.append(f"order {order_id}: {exc}")
            continue
        if not intents:
            with transaction() as session:
                _close_lost_attempts(session, order_id)
            report.outcomes["no payment found"] = report.outcomes.get("no payment found", 0) + 1
        for intent in intents:
            with transaction() as session:
                outcome = apply_intent(session, settings, intent, source="reconcile")
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
    return report


def _cancel_if_open(gateway: PaymentGateway, intent: Intent) -> Intent:
    """A cancelled order's intent, cancelled at the gateway unless it is already final."""
    if intent.status in ("succeeded", "canceled", "processing"):
        return intent
    try:
        return gateway.cancel(intent.id)
    except GatewayUnavailable:
        raise
    except GatewayError:  # it moved on meanwhile (succeeded, say): what is it now?
        return gateway.retrieve(intent.id)


def _close_lost_attempts(session: Session, order_id: int) -> None:
    """Attempts the gateway never saw: mark them failed so the shopper can simply retry."""
    for attempt in session.scalars(
        select(PaymentAttempt).where(
            PaymentAttempt.order_id == order_id,
            PaymentAttempt.status.in_(OPEN),
            PaymentAttempt.intent_id.is_(None),
        )
    ):
        attempt.status = "failed"
        attempt.error = "no payment reached the gateway"
