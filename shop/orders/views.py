"""The order page behind the secret link (guests) or for its signed-in owner."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug import Response

from shop import personalization
from shop.cart.reorder_views import order_again_from
from shop.checkout.services import order_by_token
from shop.db import db
from shop.orders.cancel_views import cancel_page
from shop.orders.invoice_views import invoice_page
from shop.orders.models import Order
from shop.orders.page_links import order_page_links
from shop.payments.services import latest_attempt
from shop.returns.views import return_page, withdraw

bp = Blueprint("orders", __name__, url_prefix="/orders")


def _shown(token: str) -> Order | Response:
    """The order behind the link, or where to sign in first for a member's order; a 404
    for no such order or another member's."""
    order = order_by_token(db.session, token)
    if order is None:
        abort(404, "We could not find that order.")
    if order.user_id is not None:
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.path))
        if int(current_user.get_id()) != order.user_id:
            abort(404, "We could not find that order.")
    return order


@bp.get("/<token>")
def show(token: str) -> Response | tuple[str, int]:
    """Status, lines, totals, address and timeline of one order."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    attempt = latest_attempt(db.session, order.id)
    more = personalization.service().for_order(
        db.session,
        personalization.current_shopper(),
        [line.product_id for line in order.lines if line.product_id is not None],
    )
    links = order_page_links(order, "orders", token=token)
    html = render_template("orders/show.html", order=order, attempt=attempt, more=more, **links)
    return html, 200


@bp.route("/<token>/cancel", methods=["GET", "POST"])
def cancel_order(token: str) -> Response | tuple[str, int]:
    """Ask before cancelling the paid order behind the link, then cancel and refund it."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    return cancel_page(order, url_for(".show", token=token))


@bp.post("/<token>/again")
def order_again(token: str) -> Response:
    """Put the products of the order behind the link in the shopper's cart again."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    return order_again_from(order, url_for(".show", token=token))


@bp.get("/<token>/invoice")
def order_invoice(token: str) -> Response | tuple[str, int]:
    """The VAT invoice (or receipt) of the paid order behind the link."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    return invoice_page(order, url_for(".show", token=token))


@bp.route("/<token>/return", methods=["GET", "POST"])
def return_items(token: str) -> Response | tuple[str, int]:
    """Choose items of the dispatched order behind the link to send back, and ask to."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    return return_page(order, url_for(".show", token=token))


@bp.post("/<token>/returns/<return_number>/withdraw")
def withdraw_return(token: str, return_number: str) -> Response:
    """Withdraw a return of the order behind the link before its parcel arrives."""
    order = _shown(token)
    if not isinstance(order, Order):
        return order
    return withdraw(order, return_number, url_for(".show", token=token))
