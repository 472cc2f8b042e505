"""The "Order these again" button of an order page (the account's and the guest link's)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, url_for
from werkzeug import Response

from shop.cart.reorder import order_again, order_again_message
from shop.cart.services import CartError
from shop.db import db
from shop.form_fields import ShopForm
from shop.orders.models import Order
from shop.tracking.recorder import record
from shop.web_context import cart_owner


def order_again_from(order: Order, back_url: str) -> Response:
    """Put the order's products in the shopper's cart and show the cart with what happened."""
    if not ShopForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    number = order.number
    try:
        result = order_again(
            db.session, cart_owner(), order, current_app.config["MAX_CART_LINE_QTY"]
        )
    except CartError as exc:  # stock sold between the check and the addition
        db.session.rollback()
        flash(f"{exc} Nothing from order {number} was added; please try again.", "error")
        return redirect(back_url)
    db.session.commit()
    for product_id, quantity in result.added.items():
        record("cart_add", product_id=product_id, quantity=quantity, rec_id=None)
    message, category = order_again_message(result, number)
    flash(message, category)
    return redirect(url_for("cart.show") if result.added else back_url)
