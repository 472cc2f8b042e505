"""The order page behind the secret link (guests) or for its signed-in owner."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug import Response

from shop import personalization
from shop.checkout.services import order_by_token
from shop.db import db
from shop.payments.services import latest_attempt

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/<token>")
def show(token: str) -> Response | tuple[str, int]:
    """Status, lines, totals, address and timeline of one order."""
    order = order_by_token(db.session, token)
    if order is None:
        abort(404, "We could not find that order.")
    if order.user_id is not None:
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.path))
        if int(current_user.get_id()) != order.user_id:
            abort(404, "We could not find that order.")
    attempt = latest_attempt(db.session, order.id)
    more = personalization.service().for_order(
        db.session,
        personalization.current_shopper(),
        [line.product_id for line in order.lines if line.product_id is not None],
    )
    return render_template("orders/show.html", order=order, attempt=attempt, more=more), 200
