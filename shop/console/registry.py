"""Assembles the console: its shell blueprint with every area's blueprint nested inside.

Nesting puts each area under /console and behind the shell's staff-only check.
"""

from __future__ import annotations

from importlib import import_module

from flask import Blueprint

# Each module has a blueprint named `bp`.
AREA_MODULES = (
    "shop.console.products",
    "shop.console.orders",
    "shop.returns.console_views",
    "shop.merchandising.views",
    "shop.analytics.views",
    "shop.analytics.customer_views",
    "shop.merchandising.experiment_views",
    "loyalty.console_views",
    "loyalty.member_views",
    "loyalty.campaign_views",
    "shop.promotions.admin_views",
)


def console_blueprint() -> Blueprint:
    """The /console blueprint with the areas registered inside it."""
    from shop.console.views import bp

    if not getattr(bp, "_areas_registered", False):
        for name in AREA_MODULES:
            bp.register_blueprint(import_module(name).bp)
        bp._areas_registered = True  # type: ignore[attr-defined]
    return bp
