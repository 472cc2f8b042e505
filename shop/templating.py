"""Template globals and filters shared by every page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask_wtf.csrf import generate_csrf

from shop.accounts import browsers
from shop.money import format_money
from shop.orders.states import LABELS as ORDER_STATUS_LABELS
from shop.orders.vat import breakdown, order_vat
from shop.returns import rules as return_rules
from shop.wording import counted, country_name, long_date


def product_path(product_id: int, rec: str | None = None) -> str:
    """The link to a product page (with the recommendation list it was shown in).

    Product cards appear dozens of times per page; formatting the path is much cheaper
    than `url_for`, and these paths are part of the shop's public URLs anyway.
    """
    path = f"{request.script_root}/products/{int(product_id)}"
    return f"{path}?rec={rec}" if rec else path


def product_image_path(product_id: int) -> str:
    """The link to a product's generated picture."""
    return f"{request.script_root}/products/{int(product_id)}/image.svg"


def order_status(status: str) -> str:
    """An order status as shoppers and staff read it ("Awaiting payment")."""
    return ORDER_STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


# Statuses that say nothing of refunds: a partial refund before shipping, or after it,
# is added to them (the status holds one state, and shipping or delivery replaces it).
_REFUND_SILENT = ("paid", "shipped", "delivered")


def order_state(order: Any) -> str:
    """An order's status with a partial refund its status does not show ("Shipped, partly
    refunded")."""
    label = order_status(order.status)
    refunded = order.refunded_pence or 0
    if order.status in _REFUND_SILENT and 0 < refunded < order.total_pence:
        return f"{label}, partly refunded"
    return label


def return_path() -> str:
    """Where to come back to after a form in the page frame (sign in, the personalization
    switch): this page with its query; for a page shown in answer to a POST (a form
    error), the page the form was on, since its URL only takes POSTs."""
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path.startswith("/"):
        return came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return "/"


def init_app(app: Flask) -> None:
    """Register the money and order status filters and the layout's context (categories,
    cart badge)."""
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["order_status"] = order_status
    app.jinja_env.filters["order_state"] = order_state
    app.jinja_env.filters["return_status"] = return_rules.label
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["counted"] = counted
    app.jinja_env.filters["order_vat"] = order_vat
    app.jinja_env.filters["vat_split"] = breakdown
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.filters["browser_name"] = browsers.describe
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.jinja_env.globals["product_path"] = product_path
    app.jinja_env.globals["product_image_path"] = product_image_path
    app.jinja_env.globals["return_path"] = return_path

    @app.context_processor
    def _layout_context() -> dict[str, Any]:
        from shop.cart.services import item_count
        from shop.catalog.services import navigation_categories
        from shop.db import db
        from shop.web_context import current_cart_owner

        if g.get("layout_context") is None:
            owner = current_cart_owner()
            g.layout_context = {
                "nav_categories": navigation_categories(db.session),
                "cart_count": item_count(db.session, owner) if owner else 0,
                "shop_name": app.config["SHOP_NAME"],
                "tracking_on": g.get("tracking_on", False),
            }
        return g.layout_context
