"""Builds the app's payment gateway from its config."""

from __future__ import annotations

from flask import Flask, current_app

from shop.payments.gateway import PaymentGateway
from shop.payments.stripe_gateway import StripeGateway

EXTENSION = "payment_gateway"


class PaymentsNotConfigured(RuntimeError):
    """No Stripe key is set and no local Stripe server is configured."""


def init_app(app: Flask) -> None:
    """Create the Stripe gateway when a secret key is configured, and keep members' customer
    records at Stripe up to date."""
    from shop.payments import customer_sync  # it looks the gateway up here

    customer_sync.init_app(app)
    key = app.config.get("STRIPE_SECRET_KEY", "")
    if not key:
        app.extensions[EXTENSION] = None
        return
    app.extensions[EXTENSION] = StripeGateway(
        secret_key=key,
        publishable_key=app.config.get("STRIPE_PUBLISHABLE_KEY", ""),
        webhook_secret=app.config.get("STRIPE_WEBHOOK_SECRET", ""),
        api_base=app.config.get("STRIPE_API_BASE", ""),
        js_url=app.config.get("STRIPE_JS_URL", "https://js.stripe.com/v3/"),
    )


def gateway() -> PaymentGateway:
    """The current app's gateway; raise PaymentsNotConfigured when there is none."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        raise PaymentsNotConfigured(
            "Card payments are not set up: set STRIPE_SECRET_KEY (make run starts localstripe)."
        )
    return found
