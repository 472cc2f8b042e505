"""The pages where a shopper asks to send items back and withdraws the request; the
account's and the guest link's routes both use them."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request
from werkzeug import Response

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.form_fields import ShopForm
from shop.money import format_money
from shop.orders.cancel_views import reloaded
from shop.orders.models import Order
from shop.returns.forms import ReturnForm, chosen_quantities
from shop.returns.services import (
    ReturnNotMade,
    ReturnOffer,
    ReturnSettings,
    request_return,
    return_offer,
    withdraw_return,
)
from shop.wording import counted

NOTHING_CHOSEN = "Choose how many of at least one item you are sending back."


def return_page(order: Order, back_url: str) -> Response | tuple[str, int]:
    """Offer the order's items to send back (GET); record the return (POST)."""
    settings = ReturnSettings.from_config(current_app.config)
    offer = return_offer(db.session, order, settings)
    form = ReturnForm()
    if request.method == "GET" or offer.refusal:
        return _page(offer, form, back_url, status=409 if offer.refusal else 200)
    most = {line.id: left for line, left in offer.lines}
    quantities, line_errors = chosen_quantities(request.form, most)
    valid = form.validate()
    if not valid or line_errors or not quantities:
        none = "" if quantities or line_errors else NOTHING_CHOSEN
        return _page(offer, form, back_url, line_errors=line_errors, error=none, status=400)
    order_id = order.id
    db.session.close()
    try:
        made = request_return(
            db.transaction,
            CheckoutSettings.from_config(current_app.config),
            settings,
            order_id,
            quantities,
            form.reason.data or "",
            form.comment.data or "",
        )
    except ReturnNotMade as exc:
        again = return_offer(db.session, reloaded(order_id), settings)
        return _page(again, form, back_url, error=str(exc), status=409)
    flash(
        f"Return {made.number} is recorded ({counted(made.item_count, 'item')}). We have "
        "e-mailed you how to send it back; once it arrives we refund "
        f"{format_money(made.expected_pence, made.currency)} to the card you paid with.",
        "success",
    )
    return redirect(back_url)


def withdraw(order: Order, number: str, back_url: str) -> Response:
    """Withdraw one of the order's returns that is still waiting for its parcel."""
    if not ShopForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    order_id = order.id
    db.session.close()
    try:
        withdrawn = withdraw_return(db.transaction, order_id, number)
    except ReturnNotMade as exc:
        flash(str(exc), "error")
    else:
        flash(f"Return {withdrawn} is withdrawn; nothing needs sending back for it.", "success")
    return redirect(back_url)


def _page(
    offer: ReturnOffer,
    form: ReturnForm,
    back_url: str,
    *,
    line_errors: dict[int, str] | None = None,
    error: str = "",
    status: int = 200,
) -> tuple[str, int]:
    html = render_template(
        "returns/request.html",
        offer=offer,
        order=offer.order,
        form=form,
        back_url=back_url,
        line_errors=line_errors or {},
        chosen=request.form if request.method == "POST" else {},
        error=error,
    )
    return html, status
