"""Sign-up, sign-in, sign-out, the account page and the tracking switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug import Response

from shop.accounts import services
from shop.accounts.forms import LoginForm, RegisterForm, TrackingForm
from shop.db import db
from shop.orders.services import OrderNotFound, customer_order, order_history
from shop.pagination import PageError, parse_page
from shop.tracking.recorder import record

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _safe_next(target: str | None) -> str:
    """Only follow ?next= to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("accounts.overview")


def _signed_in(user: services.User, remember: bool, event: str) -> None:
    services.adopt_visitor(db.session, user, g.get("visitor_id"))
    db.session.commit()
    login_user(user, remember=remember)
    g.tracking_on = g.get("tracking_on", False) and user.tracking_enabled
    record(event)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Response | tuple[str, int]:
    """Create an account; the visitor's cart and history come along."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register(
                db.session, form.name.data, form.email.data, form.password.data
            )
        except services.AccountError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            _signed_in(user, remember=False, event="register")
            flash("Welcome! Your account is ready.", "success")
            return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.is_submitted() else 200
    return render_template("account/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Sign in with e-mail and password."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(db.session, form.email.data, form.password.data)
        except services.AccountError as exc:
            error = str(exc)
        else:
            _signed_in(user, remember=bool(form.remember.data), event="login")
            flash("You are signed in.", "success")
            return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.is_submitted() else 200
    return render_template("account/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.home"))


@bp.get("")
@login_required
def overview() -> str:
    """The account page: details and order history, including imported orders."""
    try:
        page = order_history(
            db.session, int(current_user.get_id()), page=parse_page(request.args.get("page"))
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    return render_template(
        "account/overview.html",
        orders=page,
        tracking_form=TrackingForm(enabled=current_user.tracking_enabled),
    )


@bp.get("/orders/<number>")
@login_required
def order(number: str) -> str:
    """One of the signed-in customer's orders; anyone else's is a 404."""
    try:
        found = customer_order(db.session, int(current_user.get_id()), number)
    except OrderNotFound:
        abort(404, "We couldn't find that order in your account.")
    return render_template("account/order.html", order=found)


@bp.post("/tracking")
def tracking() -> Response:
    """Switch tracking-based personalization on or off, for a visitor or an account."""
    form = TrackingForm()
    if not form.validate_on_submit():
        abort(400)
    enabled = bool(form.enabled.data)
    if current_user.is_authenticated:
        services.set_tracking(db.session, current_user._get_current_object(), enabled)
        db.session.commit()
    flash(
        "Personalization is on."
        if enabled
        else "Personalization is off: we no longer record what you browse.",
        "success",
    )
    response = make_response(redirect(_safe_next(request.form.get("next"))))
    cookie = current_app.config["TRACKING_COOKIE"]
    if enabled:
        response.delete_cookie(cookie)
    else:
        response.set_cookie(cookie, "off", max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
    return response
