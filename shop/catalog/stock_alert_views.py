"""Back-in-stock alerts: set one on a product page (signed in, or with an e-mail address to
confirm), cancel it, list them in the account."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug import Response

from shop.accounts.redirects import local_path
from shop.catalog import guest_stock_alerts, stock_alerts
from shop.catalog.models import Product
from shop.catalog.services import NotFoundError, get_product
from shop.db import db
from shop.form_fields import ShopForm, email_field
from shop.rate_limits import post_limit
from shop.web_context import catalogue_viewer

bp = Blueprint("stock_alerts", __name__)


class StockAlertForm(ShopForm):
    """Set or cancel an alert: only its CSRF token."""


class GuestAlertForm(ShopForm):
    """A visitor's alert: the address to confirm it from."""

    email = email_field("Your e-mail address")


@dataclass(frozen=True)
class AlertState:
    """What an out-of-stock product page offers: a signed-in shopper's alert, or the
    visitor's form (`guest`)."""

    waiting: bool
    form: StockAlertForm | GuestAlertForm
    guest: bool = False


def alert_state(product: Product) -> AlertState | None:
    """The shopper's alert for an out-of-stock product, or a visitor's form; None for a
    product in stock."""
    if product.in_stock:
        return None
    if not current_user.is_authenticated:
        return AlertState(False, GuestAlertForm(), guest=True)
    waiting = stock_alerts.is_waiting(db.session, current_user.id, product.id)
    return AlertState(waiting, StockAlertForm())


@bp.post("/products/<int:product_id>/stock-alert")
def ask(product_id: int) -> Response:
    """Keep an alert for this out-of-stock product; a visitor is asked for an address."""
    page = url_for("catalog.product", product_id=product_id)
    if not current_user.is_authenticated:
        return redirect(url_for("stock_alerts.ask_by_email", product_id=product_id))
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


@bp.route("/products/<int:product_id>/stock-alert/email", methods=["GET", "POST"])
@post_limit("STOCK_ALERT_RATE_LIMIT")
def ask_by_email(product_id: int) -> Response | tuple[str, int]:
    """A visitor's alert: e-mail the address they give a link that confirms it."""
    if current_user.is_authenticated:
        return redirect(url_for("catalog.product", product_id=product_id))
    form = GuestAlertForm()
    try:
        if form.validate_on_submit():
            product = guest_stock_alerts.ask(
                db.session,
                form.email.data,
                product_id,
                catalogue_viewer(),
                str(current_app.config["SHOP_BASE_URL"]),
            )
            db.session.commit()
            flash(
                f"Check your inbox at {form.email.data}: open the link we sent to confirm "
                f"the alert for {product.name}. (If you confirmed it already, there is "
                "nothing more to do.)",
                "success",
            )
            return redirect(url_for("catalog.product", product_id=product_id))
        product = get_product(db.session, product_id, catalogue_viewer())
        if product.in_stock:
            return redirect(url_for("catalog.product", product_id=product_id))
    except NotFoundError as exc:
        db.session.rollback()
        abort(404, str(exc))
    except stock_alerts.StockAlertError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("catalog.product", product_id=product_id))
    status = 400 if form.is_submitted() else 200
    return render_template("shop/stock_alert_email.html", form=form, product=product), status


def _alert_page(found: guest_stock_alerts.GuestAlert, done: str | None = None) -> tuple[str, int]:
    page = render_template(
        "shop/stock_alert_link.html", found=found, form=StockAlertForm(), done=done
    )
    return page, 200


def _link_error(exc: guest_stock_alerts.GuestAlertLinkError) -> tuple[str, int]:
    return render_template("shop/stock_alert_link_error.html", message=str(exc)), exc.status


@bp.get("/stock-alerts/<token>")
def guest_link(token: str) -> tuple[str, int]:
    """The page an alert's e-mailed link opens: confirm it, or cancel it."""
    try:
        found = guest_stock_alerts.find(db.session, token)
    except guest_stock_alerts.GuestAlertLinkError as exc:
        return _link_error(exc)
    return _alert_page(found)


@bp.post("/stock-alerts/<token>/confirm")
def guest_confirm(token: str) -> tuple[str, int]:
    """Confirm a visitor's alert from its link."""
    if not StockAlertForm().validate_on_submit():
        abort(400, "The form had expired. Please try again.")
    try:
        found = guest_stock_alerts.confirm(db.session, token)
    except guest_stock_alerts.GuestAlertLinkError as exc:
        db.session.rollback()
        return _link_error(exc)
    db.session.commit()
    return _alert_page(found, done="confirmed")


@bp.post("/stock-alerts/<token>/cancel")
def guest_cancel(token: str) -> tuple[str, int]:
    """Cancel a visitor's alert from its link."""
    if not StockAlertForm().validate_on_submit():
        abort(400, "The form had expired. Please try again.")
    try:
        found = guest_stock_alerts.cancel(db.session, token)
    except guest_stock_alerts.GuestAlertLinkError as exc:
        db.session.rollback()
        return _link_error(exc)
    db.session.commit()
    return render_template("shop/stock_alert_cancelled.html", product=found.product), 200
