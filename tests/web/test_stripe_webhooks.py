"""POST /webhooks/stripe: signatures, stale timestamps, replays, mismatches and refunds."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.payments.models import PaymentAttempt, Refund, WebhookEvent
from tests.checkout_support import emails, fresh, placed_order
from tests.stripe_support import (
    config,  # noqa: F401
    intent_event,
    localstripe_url,  # noqa: F401
    signed_webhook,
)


def _post(client: FlaskClient, payload: bytes, signature: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


def _open_attempt(session: Session, order_id: int, intent_id: str) -> None:
    order = fresh(session, order_id)
    session.add(
        PaymentAttempt(
            order_id=order_id,
            attempt=1,
            idempotency_key=f"order-{order_id}-attempt-1",
            intent_id=intent_id,
            status="requires_action",
            amount_pence=order.total_pence,
            currency="GBP",
        )
    )
    session.commit()


def test_a_verified_succeeded_event_pays_the_order_and_a_replay_changes_nothing(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    total = fresh(session, order_id).total_pence
    _open_attempt(session, order_id, "pi_hook_1")
    payload, signature = signed_webhook(
        intent_event("evt_1", "payment_intent.succeeded", "pi_hook_1", order_id, total)
    )
    response = _post(client, payload, signature)
    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "paid"}
    assert fresh(session, order_id).status == "paid"

    replay = _post(client, payload, signature)
    assert replay.status_code == 200
    assert replay.get_json()["outcome"] == "duplicate"
    assert len(emails(session, "order_confirmation")) == 1
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1

    # A late "failed" event for the same, already paid, order is harmless.
    late, late_sig = signed_webhook(
        intent_event(
            "evt_2",
            "payment_intent.payment_failed",
            "pi_hook_1",
            order_id,
            total,
            status="requires_payment_method",
        )
    )
    assert _post(client, late, late_sig).status_code == 200
    assert fresh(session, order_id).status == "paid"


@pytest.mark.parametrize(
    ("secret", "age_s", "message"),
    [
        ("whsec_wrong", 0, "missing or invalid signature"),
        (None, 3600, "signature timestamp too old"),
    ],
)
def test_bad_signatures_and_stale_timestamps_are_rejected(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    secret: str | None,
    age_s: int,
    message: str,
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    event = intent_event("evt_bad", "payment_intent.succeeded", "pi_x", order_id, 690)
    kwargs = {"at": int(time.time()) - age_s}
    payload, signature = (
        signed_webhook(event, secret=secret, **kwargs)
        if secret
        else signed_webhook(event, **kwargs)
    )
    response = _post(client, payload, signature)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}
    assert fresh(session, order_id).status == "pending_payment"
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_a_missing_signature_and_garbage_are_400(client: FlaskClient, session: Session) -> None:
    # A short answer of the shop's own: not the Stripe library's advice to developers.
    refused = {"error": "missing or invalid signature"}
    missing = client.post("/webhooks/stripe", data=b"{}")
    assert missing.status_code == 400 and missing.get_json() == refused
    for header in ("t=1,v1=abc", "nonsense", "t=x,v1=abc", "t=1"):
        response = client.post(
            "/webhooks/stripe", data=b"not json", headers={"Stripe-Signature": header}
        )
        assert response.status_code == 400 and response.get_json() == refused, header
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_an_amount_mismatch_is_flagged_and_not_paid(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    _open_attempt(session, order_id, "pi_short")
    payload, signature = signed_webhook(
        intent_event("evt_short", "payment_intent.succeeded", "pi_short", order_id, 1)
    )
    response = _post(client, payload, signature)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "flagged"
    order = fresh(session, order_id)
    assert order.status == "pending_payment"
    assert "amount mismatch" in (order.payment_flag or "")


def test_a_failed_event_releases_the_stock_and_mails_the_shopper(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["lantern"], 2)])
    total = fresh(session, order_id).total_pence
    _open_attempt(session, order_id, "pi_fail")
    payload, signature = signed_webhook(
        intent_event(
            "evt_fail",
            "payment_intent.payment_failed",
            "pi_fail",
            order_id,
            total,
            status="requires_payment_method",
            last_payment_error={"message": "Your card has insufficient funds."},
        )
    )
    assert _post(client, payload, signature).get_json()["outcome"] == "failed"
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved
    assert session.get(Product, items["lantern"].id).stock_qty == 3  # type: ignore[union-attr]
    failed = emails(session, "payment_failed")
    assert len(failed) == 1 and "insufficient funds" in failed[0].text_body


def test_an_unknown_order_is_acknowledged_and_ignored(client: FlaskClient) -> None:
    payload, signature = signed_webhook(
        intent_event("evt_unknown", "payment_intent.succeeded", "pi_nobody", 987654, 100)
    )
    response = _post(client, payload, signature)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"


def test_a_refund_made_in_the_stripe_dashboard_is_booked_once(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 2)])
    total = fresh(session, order_id).total_pence
    _open_attempt(session, order_id, "pi_paid")
    paid, paid_sig = signed_webhook(
        intent_event("evt_paid", "payment_intent.succeeded", "pi_paid", order_id, total)
    )
    _post(client, paid, paid_sig)
    charge = {
        "id": "evt_refund",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": "pi_paid",
                "currency": "gbp",
                "amount_refunded": 295,
                "refunds": {
                    "object": "list",
                    "data": [
                        {"id": "re_1", "object": "refund", "amount": 295, "status": "succeeded"}
                    ],
                },
            }
        },
    }
    payload, signature = signed_webhook(charge)
    response = _post(client, payload, signature)
    assert response.get_json()["outcome"] == "booked 1 refund(s)"
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("partially_refunded", 295)
    again, again_sig = signed_webhook({**charge, "id": "evt_refund_again"})
    assert _post(client, again, again_sig).get_json()["outcome"] == "booked 0 refund(s)"
    assert fresh(session, order_id).refunded_pence == 295
    assert len(emails(session, "order_refunded")) == 1
    # A webhook that arrives while the shop's own refund of that amount is still being
    # booked leaves it to that request, rather than booking the money twice.
    session.rollback()
    session.add(
        Refund(
            order_id=order_id,
            amount_pence=195,
            currency="GBP",
            idempotency_key=f"order-{order_id}-refund-2",
            status="pending",
        )
    )
    session.commit()
    in_flight = {"id": "re_2", "object": "refund", "amount": 195, "status": "succeeded"}
    charge["data"]["object"]["refunds"]["data"].append(in_flight)  # type: ignore[index]
    early, early_sig = signed_webhook({**charge, "id": "evt_refund_early"})
    assert _post(client, early, early_sig).get_json()["outcome"] == "booked 0 refund(s)"
    assert fresh(session, order_id).refunded_pence == 295


@pytest.mark.parametrize(
    "event",
    [
        {},
        [],
        {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}},
        {
            "id": "evt_2",
            "type": "payment_intent.succeeded",
            "data": {
                "object": {
                    "id": "pi_1",
                    "status": "succeeded",
                    "amount": "abc",
                    "currency": "gbp",
                    "payment_method": None,
                }
            },
        },
        {
            "id": "evt_3",
            "type": "charge.refunded",
            "data": {"object": {"payment_intent": "pi_1", "refunds": {"data": [{"id": "re_1"}]}}},
        },
    ],
)
def test_a_signed_event_of_the_wrong_shape_is_400_not_500(
    client: FlaskClient, session: Session, event: object
) -> None:
    payload, signature = signed_webhook(event)  # type: ignore[arg-type]
    response = _post(client, payload, signature)
    assert response.status_code == 400
    assert "not shaped like a stripe event" in response.get_json()["error"].lower()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
