"""Back-in-stock alerts: set one on a product page, cancel it, list them in the account."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug import Response

from shop.accounts.redirects import local_path
from shop.catalog import stock_alerts
from shop.catalog.models import Product
from shop.catalog.services import NotFoundError
from shop.db import db
from shop.form_fields import ShopForm
from shop.web_context import catalogue_viewer

bp = Blueprint("stock_alerts", __name__)


class StockAlertForm(ShopForm):
    """Set or cancel an alert: only its CSRF token."""


@dataclass(frozen=True)
class AlertState:
    """What an out-of-stock product page offers a signed-in shopper."""

    waiting: bool
    form: StockAlertForm


def alert_state(product: Product) -> AlertState | None:
    """The signed-in shopper's alert for an out-of-stock product; None for a visitor."""
    if not current_user.is_authenticated:
        return None
    waiting = not product.in_stock and stock_alerts.is_waiting(
        db.session, current_user.id, product.id
    )
    return AlertState(waiting, StockAlertForm())


@bp.post("/products/<int:product_id>/stock-alert")
def ask(product_id: int) -> Response:
    """Keep an alert for this out-of-stock product; a visitor is asked to sign in first."""
    page = url_for("catalog.product", product_id=product_id)
    if not current_user.is_authenticated:
        flash("Sign in, and we will e-mail you when it is back in stock.", "info")
        return redirect(url_for("accounts.login", next=page))
    if not StockAlertForm().validate_on_submit():
        abort(400, "The form had expired. Please try again.")
    try:
        product = stock_alerts.ask(db.session, current_user.id, product_id, catalogue_viewer())
    except NotFoundError as exc:
        abort(404, str(exc))
    except stock_alerts.StockAlertError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(page)
    db.session.commit()
    flash(
        f"We will e-mail you at {current_user.email} when {product.name} is back in stock.",
        "success",
    )
    return redirect(page)


@bp.post("/products/<int:product_id>/stock-alert/cancel")
@login_required
def cancel(product_id: int) -> Response:
    """Stop waiting for this product; back to where the shopper came from."""
    if not StockAlertForm().validate_on_submit():
        abort(400, "The form had expired. Please try again.")
    cancelled = stock_alerts.cancel(db.session, current_user.id, product_id)
    db.session.commit()
    if cancelled:
        flash("We will not e-mail you about it.", "success")
    back = local_path(request.form.get("next")) or url_for("stock_alerts.index")
    return redirect(back)


@bp.get("/account/stock-alerts")
@login_required
def index() -> str:
    """The products the shopper waits for, each with a way to stop."""
    return render_template(
        "account/stock_alerts.html",
        waiting=stock_alerts.waiting_list(db.session, current_user.id),
        form=StockAlertForm(),
        limit=stock_alerts.MAX_WAITING,
    )
