"""Console: returns awaiting their parcel and closed ones; receive (refund) or reject one."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from shop.checkout.pricing import CheckoutSettings
from shop.console import audit
from shop.db import db, utcnow
from shop.money import format_money, plain_amount
from shop.payments.gateway import GatewayError
from shop.payments.refunds import refundable_pence
from shop.payments.setup import PaymentsNotConfigured, gateway
from shop.returns import handling, rules
from shop.returns.console_forms import ReceiveForm, RejectForm
from shop.returns.models import ReturnRequest
from shop.returns.services import ReturnNotMade
from shop.returns.stats import most_returned

bp = Blueprint("returns", __name__, url_prefix="/returns")
MOST_RETURNED_DAYS = 90


@bp.route("/")
def index() -> str:
    """Returns awaiting their parcel, oldest first, then the latest closed ones."""
    lists = handling.return_lists(db.session)
    since = utcnow() - timedelta(days=MOST_RETURNED_DAYS)
    return render_template(
        "console/returns/index.html",
        lists=lists,
        most_returned=most_returned(db.session, since),
        most_returned_days=MOST_RETURNED_DAYS,
    )


def _found(return_id: int) -> ReturnRequest:
    ret = handling.find_return(db.session, return_id)
    if ret is None:
        abort(404)
    return ret


def _detail_page(
    return_id: int,
    *,
    receive: ReceiveForm | None = None,
    reject: RejectForm | None = None,
    error: str = "",
    status: int = 200,
) -> tuple[str, int]:
    ret = _found(return_id)
    if receive is None:
        receive = ReceiveForm(formdata=None)
        receive.amount.data = plain_amount(handling.suggested_refund(ret))
        receive.restock.data = ret.order.stock_reserved
    html = render_template(
        "console/returns/detail.html",
        ret=ret,
        order=ret.order,
        reasons=rules.REASONS,
        postage_reasons=rules.AT_FAULT,
        refundable=refundable_pence(ret.order),
        receive_form=receive,
        reject_form=reject or RejectForm(formdata=None),
        error=error,
    )
    return html, status


@bp.route("/<int:return_id>")
def detail(return_id: int) -> tuple[str, int]:
    """One return: its order, items, reason, and what to do when the parcel arrives."""
    return _detail_page(return_id)


@bp.route("/<int:return_id>/receive", methods=["POST"])
def receive(return_id: int) -> Response | tuple[str, int]:
    """The parcel arrived: refund it through the payment provider, once confirmed."""
    form = ReceiveForm()
    if not form.validate():
        return _detail_page(return_id, receive=form, status=400)
    if form.edit.data:  # back from the confirmation page, as typed
        return _detail_page(return_id, receive=form)
    amount, restock = form.amount.pence, bool(form.restock.data)  # type: ignore[attr-defined]
    if not form.confirm.data:
        review = handling.receive_review(_found(return_id), amount, restock)
        return render_template(
            "console/confirm.html",
            review=review,
            form=form,
            action=url_for(".receive", return_id=return_id),
            back_url=url_for(".detail", return_id=return_id),
            back_text="Back to the return",
        ), 200
    db.session.close()  # the refund runs its own transactions around the gateway call
    try:
        made = handling.receive_return(
            db.transaction,
            gateway(),
            CheckoutSettings.from_config(current_app.config),
            audit.Actor.of(current_user),
            return_id,
            amount,
            restock,
        )
    except (ReturnNotMade, GatewayError, PaymentsNotConfigured) as exc:
        return _detail_page(return_id, receive=form, error=str(exc), status=409)
    flash(
        f"Refunded {format_money(made.amount_pence, made.currency)}; the customer's e-mail "
        "is queued.",
        "success",
    )
    return redirect(url_for(".detail", return_id=return_id))


@bp.route("/<int:return_id>/reject", methods=["POST"])
def reject(return_id: int) -> Response | tuple[str, int]:
    """Do not accept the return; the customer is e-mailed the reason."""
    form = RejectForm()
    if not form.validate():
        return _detail_page(return_id, reject=form, status=400)
    db.session.close()  # its own transaction below; the request's may hold SQLite's lock
    try:
        number = handling.reject_return(
            db.transaction,
            CheckoutSettings.from_config(current_app.config),
            audit.Actor.of(current_user),
            return_id,
            form.reason.data or "",
        )
    except ReturnNotMade as exc:
        return _detail_page(return_id, reject=form, error=str(exc), status=409)
    flash(f"Return {number} is not accepted; the customer's e-mail is queued.", "success")
    return redirect(url_for(".detail", return_id=return_id))
