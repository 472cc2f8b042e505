"""The payment gateway interface the shop talks to; only `stripe_gateway` imports `stripe`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class GatewayError(Exception):
    """The gateway refused a request for a reason the shopper cannot fix."""


class CardDeclined(GatewayError):
    """The card was declined; `message` is safe to show to the shopper."""

    def __init__(
        self, message: str, code: str = "card_declined", intent_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.intent_id = intent_id


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached; the outcome of the request is unknown."""


class GatewayNotFound(GatewayError):
    """The object the request names does not exist at the gateway (or no longer does)."""


class InvalidWebhook(GatewayError):
    """A webhook whose signature or timestamp does not verify."""


@dataclass(frozen=True)
class Intent:
    """A payment intent as the gateway reports it."""

    id: str
    status: str  # succeeded | requires_action | requires_payment_method | processing | canceled
    amount: int
    currency: str  # upper case, like the shop's
    client_secret: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    payment_method: str | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        """True when the money has been taken."""
        return self.status == "succeeded"


@dataclass(frozen=True)
class CardDetails:
    """The displayable details of a saved card."""

    payment_method: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    customer: str | None
    # The gateway's id of the card number itself (the same for every payment method made
    # from one card), when it gives one.
    fingerprint: str | None = None


@dataclass(frozen=True)
class RefundResult:
    """A refund as the gateway reports it."""

    id: str
    status: str
    amount: int


@dataclass(frozen=True)
class ChargeRefunds:
    """The refunds of one charge, as reported by a `charge.refunded` event."""

    intent_id: str | None
    currency: str
    amount_refunded: int
    refunds: tuple[RefundResult, ...]


@dataclass(frozen=True)
class GatewayEvent:
    """A verified webhook event, with its payment intent or charge refunds parsed."""

    id: str
    type: str
    intent: Intent | None = None
    charge: ChargeRefunds | None = None


class PaymentGateway(Protocol):
    """What checkout, refunds and saved cards need from a payment provider."""

    publishable_key: str
    js_url: str

    def create_setup(self, customer: str | None) -> str:
        """Start collecting a card in the browser; return the setup's client secret."""
        ...

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
        """Create and confirm a payment intent for a card."""
        ...

    def retrieve(self, intent_id: str) -> Intent:
        """Fetch a payment intent's current state."""
        ...

    def find_by_metadata(self, key: str, value: str) -> list[Intent]:
        """Recent intents whose metadata[key] equals value (used when an id was lost)."""
        ...

    def cancel(self, intent_id: str) -> Intent:
        """Cancel an intent that has not succeeded."""
        ...

    def refund(self, *, intent_id: str, amount: int, idempotency_key: str) -> RefundResult:
        """Refund part or all of a succeeded intent."""
        ...

    def create_customer(self, *, email: str, name: str) -> str:
        """Create a customer record; return its id."""
        ...

    def update_customer(self, customer: str, *, email: str, name: str) -> None:
        """Set a customer record's e-mail address and name (GatewayNotFound if it is gone)."""
        ...

    def card(self, payment_method: str) -> CardDetails:
        """The displayable details of a card payment method."""
        ...

    def attach(self, payment_method: str, customer: str) -> None:
        """Attach a card to a customer so it can be used again."""
        ...

    def detach(self, payment_method: str) -> None:
        """Remove a saved card from its customer."""
        ...

    def delete_customer(self, customer: str) -> None:
        """Delete a customer record; one that is already gone is not an error."""
        ...

    def parse_webhook(self, payload: bytes, signature: str) -> GatewayEvent:
        """Verify a webhook's signature and timestamp and return its event."""
        ...
