"""Registers the blueprints and the per-request hooks of the storefront."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from shop import personalization, visitor
from shop.accounts.models import User
from shop.db import ID_MAX, db
from shop.extensions import login_manager
from shop.tracking import recorder


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number too long for a database id is a 404 like any
    unknown id, rather than an overflow in the database driver (a 500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(url_map, *args, **kwargs)


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not (user_id.isascii() and user_id.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.can_login else None


def init_app(app: Flask) -> None:
    """Attach visitor ids, event recording and every storefront blueprint."""
    from shop.accounts.views import bp as accounts_bp
    from shop.cart.views import bp as cart_bp
    from shop.catalog.stock_alert_views import bp as stock_alerts_bp
    from shop.catalog.views import bp as catalog_bp
    from shop.checkout.views import bp as checkout_bp
    from shop.console.registry import console_blueprint
    from shop.contact import bp as contact_bp
    from shop.orders.views import bp as orders_bp
    from shop.payments.views import cards_bp, webhooks_bp
    from shop.seo.views import bp as seo_bp

    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    visitor.init_app(app)
    recorder.init_app(app)
    personalization.init_app(app)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(stock_alerts_bp)
    app.register_blueprint(cart_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(cards_bp)
    app.register_blueprint(seo_bp)
    app.register_blueprint(contact_bp)
    app.register_blueprint(console_blueprint())
