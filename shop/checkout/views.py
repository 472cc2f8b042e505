"""Checkout pages: details, shipping, review and place, then the payment page."""

from __future__ import annotations

import uuid
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug import Response

from shop import errors, rate_limits
from shop.accounts import profile
from shop.cart.services import view_cart
from shop.checkout import services
from shop.checkout.destination import STATE, entered_contact
from shop.checkout.forms import DetailsForm, PlaceOrderForm, RedeemPointsForm, ShippingForm
from shop.checkout.pricing import HOME_COUNTRY, CheckoutSettings, below_minimum_charge
from shop.db import db
from shop.form_fields import ShopForm
from shop.orders import fulfilment
from shop.orders.models import Order
from shop.payments import cards
from shop.payments import services as payments
from shop.payments.gateway import GatewayError
from shop.payments.setup import PaymentsNotConfigured, gateway
from shop.web_context import cart_owner

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _settings() -> CheckoutSettings:
    return CheckoutSettings.from_config(current_app.config)


def _state() -> dict[str, Any]:
    return dict(session.get(STATE) or {})


def _save_state(**values: Any) -> None:
    state = _state()
    state.update(values)
    session[STATE] = state


def _user_id() -> int | None:
    return int(current_user.get_id()) if current_user.is_authenticated else None


PLACED = "checkout_order"  # the access token of the order this browser session placed


def _pending() -> Order | None:
    """The unpaid order this shopper placed from the checkout and has not paid, while its
    stock is held (see `services.pending_checkout_order`)."""
    placed = session.get(PLACED)
    return services.pending_checkout_order(
        db.session, user_id=_user_id(), access_token=placed if isinstance(placed, str) else None
    )


def _redeem_points() -> int:
    raw = _state().get("redeem_points", 0)
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 0


def _priced_cart(
    method: str | None = None, redeem_points: int | None = None
) -> services.Quote | Response:
    """The cart priced for this step, or a redirect back to the cart when it is empty."""
    points = _redeem_points() if redeem_points is None else redeem_points
    contact = entered_contact()
    priced = services.quote(
        db.session,
        cart_owner(),
        _settings(),
        method,
        redeem_points=points,
        email=contact.email if contact is not None else None,
        country=contact.country if contact is not None else HOME_COUNTRY,
    )
    if not priced.cart.lines:
        flash("Your cart is empty.", "info")
        return redirect(url_for("cart.show"))
    return priced


@bp.route("", methods=["GET", "POST"])
def details() -> Response | tuple[str, int]:
    """Step 1: contact details and shipping address (members may pick a saved one)."""
    priced = _priced_cart()
    if isinstance(priced, Response):
        return priced
    user_id = _user_id()
    addresses = profile.addresses(db.session, user_id) if user_id else []
    saved = services.ContactAddress.from_dict(_state().get("contact"))
    form = DetailsForm(data=saved.as_dict() if saved and request.method == "GET" else None)
    if request.method == "GET" and user_id and not saved:
        form.email.data = current_user.email
        if addresses:
            form.address_id.data = str(addresses[0].id)
    if form.is_submitted():
        valid = form.validate()  # every error at once: the address is checked either way
        chosen = next((a for a in addresses if str(a.id) == form.address_id.data), None)
        if chosen is None and form.picks_saved_address():
            form.saved_address_gone(signed_in=user_id is not None)
        elif chosen is not None and form.refuse_both_addresses():
            pass  # the form says why, with what was typed still in it
        elif (chosen is not None or form.validate_new_address()) and valid:
            contact = _contact(form, chosen)
            _save_state(contact=contact.as_dict(), save_address=bool(form.save_address.data))
            return redirect(url_for("checkout.shipping"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "checkout/details.html", form=form, addresses=addresses, quote=priced, pending=_pending()
    ), status


def _contact(form: DetailsForm, chosen: Any) -> services.ContactAddress:
    if chosen is not None:
        return services.ContactAddress(
            email=form.email.data or "",
            name=chosen.name,
            line1=chosen.line1,
            line2=chosen.line2,
            city=chosen.city,
            postcode=chosen.postcode,
            country=chosen.country,
            phone=form.phone.data or chosen.phone,
        )
    return services.ContactAddress(
        email=form.email.data or "",
        name=form.name.data or "",
        line1=form.line1.data or "",
        line2=form.line2.data or "",
        city=form.city.data or "",
        postcode=form.postcode.data or "",
        country=form.country.data or "United Kingdom",
        phone=form.phone.data or "",
    )


@bp.route("/shipping", methods=["GET", "POST"])
def shipping() -> Response | tuple[str, int]:
    """Step 2: standard or express delivery, with prices."""
    priced = _priced_cart()
    if isinstance(priced, Response):
        return priced
    if services.ContactAddress.from_dict(_state().get("contact")) is None:
        return redirect(url_for("checkout.details"))
    form = ShippingForm(method=_state().get("method", "standard"))
    if form.validate_on_submit():
        _save_state(method=form.method.data)
        return redirect(url_for("checkout.review"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "checkout/shipping.html", form=form, quote=priced, pending=_pending()
    ), status


@bp.route("/review", methods=["GET", "POST"])
def review() -> Response | tuple[str, int]:
    """Step 3: everything at a glance before the order is placed; members may use points."""
    state = _state()
    method = state.get("method") if state.get("method") in ("standard", "express") else None
    wanted: int | None
    if request.method == "POST":
        redeem = RedeemPointsForm()
        wanted = redeem.amount if redeem.validate_on_submit() else None
    else:
        redeem = RedeemPointsForm(points=str(_redeem_points() or ""))
        wanted = _redeem_points()
    priced = _priced_cart(method, wanted or 0)
    if isinstance(priced, Response):
        return priced
    contact = services.ContactAddress.from_dict(state.get("contact"))
    if contact is None:
        return redirect(url_for("checkout.details"))
    if method is None:
        return redirect(url_for("checkout.shipping"))
    errors = list(redeem.points.errors) if wanted is None else _points_errors(priced, wanted)
    if request.method == "POST" and not errors:
        _save_state(redeem_points=wanted)
        return redirect(url_for("checkout.review"))
    if errors:  # show them, and the totals without points
        redeem.points.errors = errors
        _save_state(redeem_points=0)
        priced = _priced_cart(method, 0)
        if isinstance(priced, Response):
            return priced
    token = state.get("token") or uuid.uuid4().hex
    _save_state(token=token)
    return render_template(
        "checkout/review.html",
        quote=priced,
        too_small=below_minimum_charge(priced.totals.total_pence, _settings()),
        contact=contact,
        form=PlaceOrderForm(
            token=token,
            total=str(priced.totals.total_pence),
            fingerprint=services.quote_fingerprint(priced),
        ),
        redeem=redeem,
        pending=_pending(),
    ), 400 if request.method == "POST" else 200


def _points_errors(priced: services.Quote, wanted: int) -> list[str]:
    if wanted and not priced.benefits.is_member:
        return ["Only members of our loyalty programme can use points."]
    return list(priced.benefits.errors)


@bp.post("/place")
def place() -> Response | tuple[str, int]:
    """Place the order (holding its stock) and go to payment.

    One unpaid order at a time: while the shopper has one from the checkout whose stock
    is still held (say they pressed Back after placing it), placing does not make a
    second. The same items go to that order's payment page; other items go back to the
    review, whose notice offers to pay for that order or to cancel it and start again.
    """
    form = PlaceOrderForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please review your order again.")
    placed = services.order_by_checkout_token(db.session, form.token.data)
    if placed is not None:  # a second click on "Place order"
        return redirect(url_for("checkout.pay", token=placed.access_token))
    pending = _pending()
    if pending is not None:
        cart = view_cart(db.session, cart_owner(), _settings().currency)
        if services.same_items(pending, cart):
            flash(
                f"Order {pending.number} with these items is already placed and waiting "
                "for payment.",
                "info",
            )
            return redirect(url_for("checkout.pay", token=pending.access_token))
        flash(
            f"Order {pending.number} is still waiting for payment. Pay for it, or cancel it "
            "to place an order with your cart as it is now.",
            "error",
        )
        return redirect(url_for("checkout.review"))
    state = _state()
    contact = services.ContactAddress.from_dict(state.get("contact"))
    if contact is None or not state.get("method"):
        flash("Your checkout session has expired; please check your details again.", "error")
        return redirect(url_for("checkout.details"))
    try:
        order = services.place_order(
            db.session,
            owner=cart_owner(),
            contact=contact,
            method=state["method"],
            checkout_token=form.token.data,
            settings=_settings(),
            save_address=bool(state.get("save_address")),
            visitor_id=g.get("visitor_id"),
            redeem_points=_redeem_points(),
            campaign=session.get("campaign"),
        )
        changed = (form.total.data and form.total.data != str(order.total_pence)) or (
            form.fingerprint.data != services.order_fingerprint(order)
        )
        if changed:  # not what the review page showed: show the up-to-date review
            db.session.rollback()
            flash(
                "Your order changed since you reviewed it (a price or the cart changed). "
                "Please check it again before placing it.",
                "error",
            )
            return redirect(url_for("checkout.review"))
        db.session.commit()
    except (services.BenefitRefused, services.BenefitNotHeld) as exc:
        db.session.rollback()
        _save_state(redeem_points=0)
        flash(str(exc), "error")
        return redirect(url_for("checkout.review"))
    except services.BelowMinimumCharge:  # the review page says so, next to the totals
        db.session.rollback()
        return redirect(url_for("checkout.review"))
    except services.CheckoutError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("cart.show"))
    # Keep the details and delivery for a new order (after cancelling this one, say);
    # the next review gets a new token, and points are chosen again.
    state = _state()
    for key in ("token", "redeem_points"):
        state.pop(key, None)
    session[STATE] = state
    session[PLACED] = order.access_token
    return redirect(url_for("checkout.pay", token=order.access_token))


@bp.post("/pending/<token>/cancel")
def cancel_pending(token: str) -> Response:
    """Cancel the shopper's unpaid order (putting its stock back) to start again."""
    form = ShopForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please try again.")
    order = _pending()
    if order is None or order.access_token != token:
        flash("That order is no longer waiting for payment here.", "info")
        return redirect(url_for("checkout.details"))
    points = order.points_redeemed or 0
    number = _cancel_unpaid(order, "cancelled by the shopper to start again")
    session.pop(PLACED, None)
    text = f"Order {number} is cancelled and its items are no longer held for you."
    flash(f"{text}{_points_back(points)}", "info")
    return redirect(url_for("checkout.review"))


def _points_back(points: int) -> str:
    return f" The {points:,} points it used go back to your points balance." if points else ""


def _cancel_unpaid(order: Order, note: str) -> str:
    """Cancel an unpaid order (its stock and points go back), then any payment left open
    for it at the gateway, so a bank check finished later cannot take the money."""
    order_id, number = order.id, order.number
    fulfilment.cancel_unpaid_order(db.session, order, note)
    db.session.commit()
    fulfilment.cancel_open_payments_of(_settings(), order_id)
    return number


def _order_for_payment(token: str) -> Order:
    order = services.order_by_token(db.session, token)
    if order is not None and order.user_id is not None and not current_user.is_authenticated:
        # A member's link (say, "try the payment again" in an e-mail) opened while signed
        # out: sign in first, then come back here.
        if request.method == "GET":
            abort(redirect(url_for("accounts.login", next=request.path)))
        abort(401, "Please sign in to pay for or cancel this order.")
    if order is None or (order.user_id is not None and order.user_id != _user_id()):
        abort(404, "We could not find that order.")
    return order


@bp.get("/pay/<token>")
def pay(token: str) -> Response | tuple[str, int]:
    """The payment page: a card form (Stripe.js) or a saved card."""
    order = _order_for_payment(token)
    if order.status != "pending_payment":
        return redirect(url_for("orders.show", token=token))
    try:
        active = gateway()
    except PaymentsNotConfigured as exc:
        return render_template("checkout/pay.html", order=order, error=str(exc), stripe=None), 503
    user_id = _user_id()
    saved = cards.saved_cards(db.session, user_id) if user_id else []
    attempt = payments.latest_attempt(db.session, order.id)
    return render_template(
        "checkout/pay.html",
        order=order,
        stripe=active,
        saved_cards=saved,
        last_error=attempt.error if attempt and attempt.status == "failed" else None,
        error=None,
    ), 200


# Someone trying stolen cards posts one after another; a shopper rarely needs a second try.
_pay_limit = rate_limits.post_limit("PAY_RATE_LIMIT")

# The browser's payment script calls these; a page would be no use to it.
errors.json_route(r"/checkout/pay/[^/]+/(setup|complete)")
errors.json_route(r"/checkout/pay/[^/]+", methods=("POST",))


@bp.post("/pay/<token>/setup")
def pay_setup(token: str) -> tuple[Response, int]:
    """Start collecting a card in the browser: a SetupIntent's client secret (JSON)."""
    _order_for_payment(token)
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        body = {}  # no options
    elif not isinstance(body, dict):  # unreadable, or not an object
        return jsonify(error="Send the card options as a JSON object."), 400
    user_id = _user_id()
    # ensure_customer writes in a transaction of its own; on SQLite this request's write
    # session would otherwise hold the lock it waits for, until "database is locked".
    db.session.close()
    try:
        customer = (
            cards.ensure_customer(db.transaction, gateway(), user_id)
            if body.get("save_card") is True and user_id is not None
            else None
        )
        secret = gateway().create_setup(customer)
    except (GatewayError, PaymentsNotConfigured) as exc:
        return jsonify(error=f"Card payments are unavailable right now: {exc}"), 503
    return jsonify(client_secret=secret), 200


@bp.post("/pay/<token>")
@_pay_limit
def pay_submit(token: str) -> tuple[Response, int]:
    """Charge the order's total to the card the browser collected (JSON in, JSON out)."""
    order = _order_for_payment(token)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("payment_method"), str):
        return jsonify(error="Please enter your card details."), 400
    order_id = order.id
    db.session.close()
    try:
        outcome = payments.pay_order(
            db.transaction,
            gateway(),
            _settings(),
            order_id=order_id,
            payment_method=body["payment_method"],
            save_card=body.get("save_card") is True,
            user_id=_user_id(),
        )
    except payments.CardNotYours as exc:
        return jsonify(error=str(exc)), 403
    except payments.NoCardDetails as exc:
        return jsonify(error=str(exc)), 400
    except payments.PaymentError as exc:
        return jsonify(error=str(exc)), 409
    except PaymentsNotConfigured as exc:
        return jsonify(error=str(exc)), 503
    return _outcome_json(outcome, token, order.email)


@bp.post("/pay/<token>/complete")
def pay_complete(token: str) -> tuple[Response, int]:
    """After 3-D Secure in the browser: check with Stripe and report (JSON)."""
    order = _order_for_payment(token)
    order_id = order.id
    db.session.close()
    try:
        outcome = payments.complete_payment(db.transaction, gateway(), _settings(), order_id)
    except payments.PaymentError as exc:
        return jsonify(error=str(exc)), 409
    except PaymentsNotConfigured as exc:
        return jsonify(error=str(exc)), 503
    except GatewayError:
        return jsonify(
            error="We could not reach our payment provider. Your order is saved; "
            "please check its page in a moment."
        ), 503
    return _outcome_json(outcome, token, order.email)


@bp.post("/pay/<token>/cancel")
def pay_cancel(token: str) -> Response:
    """Give up an unpaid order (e.g. one whose stock or points can no longer be held):
    cancel it, releasing what it holds, and go back to the cart, which still has its items."""
    order = _order_for_payment(token)
    if order.status != "pending_payment":
        return redirect(url_for("orders.show", token=token))
    points = order.points_redeemed or 0
    number = _cancel_unpaid(order, "by the shopper on the payment page")
    text = f"Order {number} is cancelled; nothing was charged.{_points_back(points)}"
    flash(f"{text} Your cart is as you left it.", "info")
    return redirect(url_for("cart.show"))


def _flash_once(message: str, category: str) -> None:
    # A late double click reports the same payment twice before the next page reads it.
    if [category, message] not in [list(item) for item in session.get("_flashes", [])]:
        flash(message, category)


def _outcome_json(outcome: payments.PaymentOutcome, token: str, email: str) -> tuple[Response, int]:
    body: dict[str, Any] = {"status": outcome.status, "message": outcome.message}
    if outcome.client_secret:
        body["client_secret"] = outcome.client_secret
    if outcome.status in ("paid", "processing", "closed"):
        body["redirect"] = url_for("orders.show", token=token)
    if outcome.status == "paid":  # said once, on the page the browser goes to next
        _flash_once(
            f"Thank you! Your payment was received and a confirmation is on its way to {email}.",
            "success",
        )
    if outcome.status == "closed" and outcome.message:
        flash(outcome.message, "info")  # shown on the order page the browser goes to
    if outcome.status == "refused":  # stay on the page: say why, and offer to cancel
        body["cancel_url"] = url_for("checkout.pay_cancel", token=token)
    code = {"declined": 402, "unavailable": 503, "refused": 409}.get(outcome.status, 200)
    if code != 200:
        body["error"] = outcome.message
    return jsonify(body), code
