"""The page that asks before a shopper cancels their paid order, and the cancelling; the
account's and the guest link's routes both use it."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request
from werkzeug import Response

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.money import format_money
from shop.orders.customer_cancel import CancelNotMade, cancel_order, cancel_terms
from shop.orders.forms import CancelOrderForm
from shop.orders.models import Order
from shop.orders.states import customer_cancel_refusal
from shop.payments.setup import PaymentsNotConfigured, gateway
from shop.wording import counted

NOT_SET_UP = (
    "Card refunds are not available just now, so the order is still on. Please try again later."
)


def cancel_page(order: Order, back_url: str) -> Response | tuple[str, int]:
    """Ask before cancelling the order (GET); cancel it and go back to it (POST)."""
    form = CancelOrderForm()
    if request.method == "GET" or customer_cancel_refusal(order):  # the page says why not
        return _page(order, form, back_url)
    if not form.validate():
        return _page(order, form, back_url, status=400)
    order_id, number, currency = order.id, order.number, order.currency
    points = order.points_redeemed or 0
    db.session.close()  # the refund runs its own transactions around the gateway call
    try:
        refunded = cancel_order(
            db.transaction,
            gateway(),
            CheckoutSettings.from_config(current_app.config),
            order_id,
            form.reason.data or "",
        )
    except CancelNotMade as exc:
        return _page(reloaded(order_id), form, back_url, error=str(exc), status=409)
    except PaymentsNotConfigured:
        return _page(reloaded(order_id), form, back_url, error=NOT_SET_UP, status=503)
    verb = "goes" if points == 1 else "go"
    points_back = f" The {counted(points, 'point')} you spent on it {verb} back to your balance."
    flash(
        f"Order {number} is cancelled. We have refunded {format_money(refunded, currency)} to "
        "the card you paid with; banks usually take 5 to 10 working days to show it."
        f"{points_back if points else ''}",
        "success",
    )
    return redirect(back_url)


def reloaded(order_id: int) -> Order:
    """The order read again in the request's session, after a service's own transactions."""
    order = db.session.get(Order, order_id)
    assert order is not None  # orders are never deleted
    return order


def _page(
    order: Order, form: CancelOrderForm, back_url: str, error: str = "", status: int = 200
) -> tuple[str, int]:
    terms = cancel_terms(order)
    if terms.refusal and status == 200:
        status = 409
    html = render_template(
        "orders/cancel.html", order=order, terms=terms, form=form, back_url=back_url, error=error
    )
    return html, status
