"""The Stripe gateway: the only module that imports `stripe`.

It works against Stripe itself and against localstripe (dev and tests): the card is
collected in the browser with a SetupIntent (`stripe.confirmCardSetup`), and the server
creates and confirms the PaymentIntent with the amount it computed itself. A card that
needs 3-D Secure comes back as `requires_action`; the browser finishes it with
`stripe.confirmCardPayment(clientSecret)` and the server retrieves the intent again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import stripe

from shop.payments.gateway import (
    CardDeclined,
    CardDetails,
    ChargeRefunds,
    GatewayError,
    GatewayEvent,
    GatewayNotFound,
    GatewayUnavailable,
    Intent,
    InvalidWebhook,
    RefundResult,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
WEBHOOK_TOLERANCE_S = 300
# Stripe words a failed 3-D Secure check for developers ("The provided PaymentMethod has
# failed authentication..."); the shopper reads this instead.
AUTHENTICATION_FAILED = "payment_intent_authentication_failure"
# The pay page and the e-mail add how to try again.
AUTHENTICATION_FAILED_MESSAGE = "Your bank could not confirm this payment, so nothing was charged."


class StripeGateway:
    """`PaymentGateway` backed by the official Stripe SDK."""

    def __init__(
        self,
        *,
        secret_key: str,
        publishable_key: str,
        webhook_secret: str,
        api_base: str = "",
        js_url: str = "https://js.stripe.com/v3/",
        timeout_s: float = 20,
    ) -> None:
        bases = {"api": api_base.rstrip("/")} if api_base else {}
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses=bases,  # type: ignore[arg-type]
            max_network_retries=1,
            http_client=stripe.RequestsClient(timeout=timeout_s),
        )
        self._webhook_secret = webhook_secret
        self.publishable_key = publishable_key
        self.js_url = js_url

    def create_setup(self, customer: str | None) -> str:
        """Start collecting a card in the browser; return the SetupIntent's client secret."""
        params: dict[str, Any] = {"usage": "on_session", "payment_method_types": ["card"]}
        if customer:
            params["customer"] = customer
        setup = _call(lambda: self._client.v1.setup_intents.create(params=params))  # type: ignore[arg-type]
        return str(setup.client_secret)

    def pay(
        self,
        *,
        amount: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
        customer: str | None = None,
    ) -> Intent:
        """Create and confirm a PaymentIntent; a decline raises `CardDeclined`."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "confirm": True,
            "metadata": dict(metadata),
        }
        if customer:
            params["customer"] = customer
        intent = _call(
            lambda: self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return _intent(intent)

    def retrieve(self, intent_id: str) -> Intent:
        """Fetch a PaymentIntent's current state."""
        return _intent(_call(lambda: self._client.v1.payment_intents.retrieve(intent_id)))

    def find_by_metadata(self, key: str, value: str) -> list[Intent]:
        """Intents whose metadata[key] is value: Stripe's search, or the recent list."""
        try:
            found = _call(
                lambda: self._client.v1.payment_intents.search(
                    params={"query": f"metadata['{key}']:'{value}'", "limit": 20}
                )
            )
            return [_intent(i) for i in found.data]
        except GatewayUnavailable:
            raise
        except GatewayError:
            recent = _call(lambda: self._client.v1.payment_intents.list(params={"limit": 100}))
            return [_intent(i) for i in recent.data if _plain(i.metadata).get(key) == value]

    def cancel(self, intent_id: str) -> Intent:
        """Cancel an intent that has not succeeded."""
        return _intent(_call(lambda: self._client.v1.payment_intents.cancel(intent_id)))

    def refund(self, *, intent_id: str, amount: int, idempotency_key: str) -> RefundResult:
        """Refund part or all of a succeeded intent."""
        refund = _call(
            lambda: self._client.v1.refunds.create(
                params={"payment_intent": intent_id, "amount": amount},
                options={"idempotency_key": idempotency_key},
            )
        )
        return RefundResult(id=refund.id, status=str(refund.status), amount=int(refund.amount))

    def create_customer(self, *, email: str, name: str) -> str:
        """Create a Stripe Customer; return its id."""
        customer = _call(
            lambda: self._client.v1.customers.create(params={"email": email, "name": name})
        )
        return str(customer.id)

    def update_customer(self, customer: str, *, email: str, name: str) -> None:
        """Set a Stripe Customer's e-mail and name (`stripe.Customer.modify`); a customer
        that does not exist raises GatewayNotFound."""
        _call(
            lambda: self._client.v1.customers.update(
                customer, params={"email": email, "name": name}
            )
        )

    def card(self, payment_method: str) -> CardDetails:
        """The displayable details of a card PaymentMethod."""
        pm = _call(lambda: self._client.v1.payment_methods.retrieve(payment_method))
        card = pm.card
        if card is None:
            raise GatewayError("that payment method is not a card")
        customer = pm.customer if isinstance(pm.customer, str) or pm.customer is None else None
        return CardDetails(
            payment_method=pm.id,
            brand=str(card.brand or "card"),
            last4=str(card.last4),
            exp_month=int(card.exp_month),
            exp_year=int(card.exp_year),
            customer=customer,
            fingerprint=str(getattr(card, "fingerprint", None) or "") or None,
        )

    def attach(self, payment_method: str, customer: str) -> None:
        """Attach a card to a customer so it can be used again."""
        _call(
            lambda: self._client.v1.payment_methods.attach(
                payment_method, params={"customer": customer}
            )
        )

    def detach(self, payment_method: str) -> None:
        """Remove a saved card from its customer."""
        _call(lambda: self._client.v1.payment_methods.detach(payment_method))

    def delete_customer(self, customer: str) -> None:
        """Delete a Stripe Customer; one that is already gone is fine."""
        with contextlib.suppress(GatewayNotFound):
            _call(lambda: self._client.v1.customers.delete(customer))

    def parse_webhook(self, payload: bytes, signature: str) -> GatewayEvent:
        """Verify the signature (and its timestamp) over the raw body; return the event."""
        if not self._webhook_secret:
            raise InvalidWebhook("no webhook secret is configured")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
        except stripe.SignatureVerificationError as exc:
            # The library's words are meant for the developer wiring the endpoint up: they
            # go to the log, and the caller gets a short answer of ours.
            log.info("webhook refused: %s", exc)
            problem = _signature_problem(payload, signature, self._webhook_secret)
            raise InvalidWebhook(problem) from exc
        except ValueError as exc:
            raise InvalidWebhook("the payload is not valid JSON") from exc
        except (AttributeError, KeyError, TypeError) as exc:  # JSON, but not an object
            raise InvalidWebhook(f"the event is not shaped like a Stripe event: {exc!r}") from exc
        try:
            return _event(event)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Signed, so from Stripe (or whoever holds the secret), but not an event's shape.
            raise InvalidWebhook(f"the event is not shaped like a Stripe event: {exc!r}") from exc


def _signature_problem(payload: bytes, signature: str, secret: str) -> str:
    """Why a signature was refused: a stale timestamp on a good signature, or anything else."""
    try:  # without a tolerance, only the signature itself is checked
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=None)
    except (stripe.SignatureVerificationError, ValueError):
        return "missing or invalid signature"
    return "signature timestamp too old"


def _event(event: Any) -> GatewayEvent:
    obj = event.data.object
    if event.type.startswith("payment_intent."):
        return GatewayEvent(id=event.id, type=event.type, intent=_intent(obj))
    if event.type.startswith("charge."):
        return GatewayEvent(id=event.id, type=event.type, charge=_charge_refunds(obj))
    return GatewayEvent(id=str(event.id), type=str(event.type))


def _call(request: Callable[[], T]) -> T:
    """Run one Stripe request, translating its errors into the gateway's."""
    try:
        return request()
    except stripe.CardError as exc:
        intent = getattr(exc.error, "payment_intent", None) if exc.error else None
        raise CardDeclined(
            exc.user_message or "Your card was declined.",
            str(exc.code or "card_declined"),
            intent_id=getattr(intent, "id", None),
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayUnavailable(str(exc.user_message or exc)) from exc
    except stripe.APIError as exc:
        raise GatewayUnavailable(str(exc.user_message or exc)) from exc
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            raise GatewayNotFound(str(exc.user_message or exc)) from exc
        raise GatewayError(str(exc.user_message or exc)) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc


def _intent(obj: Any) -> Intent:
    error = getattr(obj, "last_payment_error", None)
    payment_method = obj.payment_method
    if payment_method is not None and not isinstance(payment_method, str):
        payment_method = payment_method.id
    return Intent(
        id=obj.id,
        status=str(obj.status),
        amount=int(obj.amount),
        currency=str(obj.currency).upper(),
        client_secret=obj.client_secret,
        metadata=_plain(obj.metadata),
        payment_method=payment_method,
        error_message=_error_message(error),
    )


def _error_message(error: Any) -> str | None:
    """What the shopper is told about an intent's last payment error (None: no error)."""
    if not error:
        return None
    details = _plain(error)
    if details.get("code") == AUTHENTICATION_FAILED:
        return AUTHENTICATION_FAILED_MESSAGE
    message = details.get("message")
    return str(message) if message else None


def _plain(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _charge_refunds(obj: Any) -> ChargeRefunds:
    data = _plain(obj)
    intent = data.get("payment_intent")
    refunds = (data.get("refunds") or {}).get("data") or []
    return ChargeRefunds(
        intent_id=intent if isinstance(intent, str) or intent is None else intent.get("id"),
        currency=str(data.get("currency", "")).upper(),
        amount_refunded=int(data.get("amount_refunded") or 0),
        refunds=tuple(
            RefundResult(id=str(r["id"]), status=str(r.get("status")), amount=int(r["amount"]))
            for r in refunds
        ),
    )
