"""Console: orders (list, detail, ship, cancel, refund) and the mail outbox."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from shop.checkout.pricing import CheckoutSettings
from shop.console import audit, order_admin
from shop.console.catalog_admin import format_price
from shop.console.order_admin import OrderAdminError, RefundNotMade
from shop.console.order_forms import (
    CancelForm,
    DeliverForm,
    OrderFilterForm,
    RefundForm,
    RetryForm,
    ShipForm,
    refund_form,
)
from shop.console.order_reviews import cancel_review, refund_review
from shop.console.reviews import ActionReview
from shop.db import db
from shop.form_fields import ConfirmedForm, ShopForm
from shop.mail.outbox import DEFAULT_CLAIM_TIMEOUT_S
from shop.money import format_money
from shop.orders import fulfilment, invoice
from shop.orders.invoice_views import invoice_page
from shop.pagination import Page, PageError, parse_page
from shop.payments.gateway import GatewayError
from shop.payments.setup import PaymentsNotConfigured, gateway

bp = Blueprint("orders", __name__, url_prefix="/orders")

PER_PAGE = 50


def _settings() -> CheckoutSettings:
    return CheckoutSettings.from_config(current_app.config)


def _error(status: int, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, message=message), status


@bp.route("/")
def index() -> str | tuple[str, int]:
    """Orders, newest first, filtered by status, dates and customer or number."""
    form = OrderFilterForm(request.args)
    try:
        page = parse_page(request.args.get("page"))
    except PageError as exc:
        return _error(exc.status, str(exc))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    if not form.validate():
        empty: Page[object] = Page([], 0, 1, PER_PAGE)
        return render_template(
            "console/orders/index.html", form=form, page=empty, badges={}, args=args
        ), 400
    try:
        found = order_admin.order_list(db.session, form.filters(), page=page, per_page=PER_PAGE)
    except PageError as exc:
        return _error(exc.status, str(exc))
    return render_template(
        "console/orders/index.html", form=form, page=found.page, badges=found.badges, args=args
    )


def _detail_page(
    order_id: int,
    *,
    ship_form: ShipForm | None = None,
    deliver_form: DeliverForm | None = None,
    cancel_form: CancelForm | None = None,
    refund: RefundForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    detail = order_admin.order_detail(db.session, order_id)
    if detail is None:
        abort(404)
    if refund is None:
        refund = refund_form(detail.order, formdata=None)
        refund.amount.data = format_price(detail.refundable_pence)
    # Always what the page shows now, so that a refused form can be checked and sent again.
    refund.refunded_before.data = str(detail.order.refunded_pence)
    return render_template(
        "console/orders/detail.html",
        detail=detail,
        order=detail.order,
        ship_form=ship_form or ShipForm(formdata=None),
        deliver_form=deliver_form or DeliverForm(formdata=None),
        return_days=current_app.config["RETURN_DAYS"],
        cancel_form=cancel_form or CancelForm(formdata=None),
        refund_form=refund,
        invoice_url=None
        if invoice.refusal(detail.order)
        else url_for(".invoice_copy", order_id=order_id),
    ), status


@bp.route("/<int:order_id>")
def detail(order_id: int) -> tuple[str, int]:
    """One order: lines, totals, address, timeline, payments, refunds and e-mails."""
    return _detail_page(order_id)


@bp.get("/<int:order_id>/invoice")
def invoice_copy(order_id: int) -> tuple[str, int]:
    """The order's VAT invoice (or receipt) as its customer sees it, to print or send."""
    return invoice_page(_found(order_id).order, url_for(".detail", order_id=order_id))


def _fail(form: ShopForm, field_name: str, message: str) -> None:
    target = form[field_name]
    target.errors = [*target.errors, message]


@bp.route("/<int:order_id>/ship", methods=["POST"])
def ship(order_id: int) -> Response | tuple[str, int]:
    """Mark the order shipped and queue the shopper's e-mail."""
    form = ShipForm()
    if form.validate():
        try:
            order = order_admin.ship(
                db.session,
                audit.Actor.of(current_user),
                _settings(),
                order_id,
                form.tracking.data or "",
            )
        except OrderAdminError as exc:
            db.session.rollback()
            _fail(form, "tracking", str(exc))
        else:
            number = order.number
            db.session.commit()
            flash(f"Order {number} is marked shipped; the customer's e-mail is queued.", "success")
            return redirect(url_for(".detail", order_id=order_id))
    return _detail_page(order_id, ship_form=form, status=400)


@bp.route("/<int:order_id>/deliver", methods=["POST"])
def deliver(order_id: int) -> Response | tuple[str, int]:
    """Mark the shipped order delivered: its return period starts."""
    form = DeliverForm()
    if not form.validate():
        return _detail_page(order_id, deliver_form=form, status=400)
    try:
        order = order_admin.deliver(db.session, audit.Actor.of(current_user), order_id)
    except OrderAdminError as exc:
        db.session.rollback()
        form.form_errors.append(str(exc))
        return _detail_page(order_id, deliver_form=form, status=400)
    number = order.number
    db.session.commit()
    flash(f"Order {number} is marked delivered.", "success")
    return redirect(url_for(".detail", order_id=order_id))


def _confirmation(
    review: ActionReview, form: ConfirmedForm, order_id: int, endpoint: str
) -> tuple[str, int]:
    """The page that shows what an action will do before it is done."""
    return render_template(
        "console/confirm.html",
        review=review,
        form=form,
        action=url_for(endpoint, order_id=order_id),
        back_url=url_for(".detail", order_id=order_id),
        back_text="Back to the order",
    ), 200


@bp.route("/<int:order_id>/cancel", methods=["POST"])
def cancel(order_id: int) -> Response | tuple[str, int]:
    """Cancel an unpaid order and put its stock back, once confirmed."""
    form = CancelForm()
    if not form.validate():
        return _detail_page(order_id, cancel_form=form, status=400)
    if form.edit.data:  # back from the confirmation page, as typed
        return _detail_page(order_id, cancel_form=form)
    reason = form.reason.data or ""
    try:
        if not form.confirm.data:
            return _confirmation(
                cancel_review(db.session, _found(order_id), reason), form, order_id, ".cancel"
            )
        order = order_admin.cancel(
            db.session, audit.Actor.of(current_user), _settings(), order_id, reason
        )
    except OrderAdminError as exc:
        db.session.rollback()
        _fail(form, "reason", str(exc))
        return _detail_page(order_id, cancel_form=form, status=400)
    number, told = order.number, bool(order.email)
    db.session.commit()
    fulfilment.cancel_open_payments_of(_settings(), order_id)
    queued = "; the customer's e-mail is queued" if told else ""
    flash(f"Order {number} is cancelled and its stock is back{queued}.", "success")
    return redirect(url_for(".detail", order_id=order_id))


@bp.route("/<int:order_id>/refund", methods=["POST"])
def refund(order_id: int) -> Response | tuple[str, int]:
    """Refund part or all of the order through the payment provider, once confirmed."""
    found = _found(order_id)
    form = refund_form(found.order)
    if not form.validate():
        return _detail_page(order_id, refund=form, status=400)
    if form.edit.data:  # back from the confirmation page, as typed
        return _detail_page(order_id, refund=form)
    amount, restock = form.amount.pence, form.restock()  # type: ignore[attr-defined]
    reason = form.reason.data or ""
    try:
        if not form.confirm.data:
            review = refund_review(found, amount, restock, reason)
            return _confirmation(review, form, order_id, ".refund")
        db.session.close()  # the refund runs its own transactions around the gateway call
        made = order_admin.refund(
            db.transaction,
            gateway(),
            _settings(),
            audit.Actor.of(current_user),
            order_id,
            amount,
            restock=restock,
            reason=reason,
            refunded_before=int(form.refunded_before.data),
        )
    except RefundNotMade as exc:
        flash(str(exc), "error")
        return redirect(url_for(".detail", order_id=order_id))
    except (OrderAdminError, GatewayError, PaymentsNotConfigured) as exc:
        _fail(form, "amount", str(exc))
        return _detail_page(order_id, refund=form, status=400)
    flash(f"Refunded {format_money(made.amount_pence, made.currency)}.", "success")
    return redirect(url_for(".detail", order_id=order_id))


def _found(order_id: int) -> order_admin.OrderDetail:
    found = order_admin.order_detail(db.session, order_id)
    if found is None:
        abort(404)
    return found


@bp.route("/outbox")
def outbox() -> str:
    """The mail outbox: counts by status, failed e-mails (with retry) and pending ones."""
    timeout_s = current_app.config.get("MAIL_CLAIM_TIMEOUT_S", DEFAULT_CLAIM_TIMEOUT_S)
    overview = order_admin.outbox_overview(db.session, float(timeout_s))
    return render_template("console/orders/outbox.html", overview=overview, form=RetryForm())


@bp.route("/outbox/<int:email_id>/retry", methods=["POST"])
def retry_email(email_id: int) -> Response:
    """Queue a failed e-mail again."""
    form = RetryForm()
    if not form.validate():
        abort(400)
    try:
        row = order_admin.retry_email(db.session, audit.Actor.of(current_user), email_id)
    except OrderAdminError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        to = row.to_address
        db.session.commit()
        flash(f"The e-mail to {to} is queued again.", "success")
    return redirect(url_for(".outbox"))
