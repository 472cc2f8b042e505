"""Wires the loyalty programme into the Flask app. Each module below has `init_app(app)`:
it subscribes to domain events, registers its pages, commands or checkout benefits."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

MODULES = (
    "loyalty.subscribers",  # order_paid, order_refunded, ...: points, tiers, confirmations
    "loyalty.views",  # the member pages under /account/loyalty
    "loyalty.checkout_benefits",  # tier discount, free shipping and points at checkout
    "loyalty.early_access",  # members of early-access tiers see new products before launch
    "loyalty.preference_views",  # communication preferences, opt-in, unsubscribe, favourites
    "loyalty.tier_cli",  # flask loyalty evaluate-tiers, expire-points, ...
    "loyalty.campaign_cli",  # flask loyalty send-weekly
)


def init_app(app: Flask) -> None:
    """Initialise every loyalty module, and let recommendations boost favourite categories."""
    from loyalty.favourites import favourite_category_ids

    for name in MODULES:
        import_module(name).init_app(app)
    recommendations = app.extensions.get("recommendations")
    if recommendations is not None:
        recommendations.favourites = favourite_category_ids
