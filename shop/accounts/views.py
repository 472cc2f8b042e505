"""Sign-up, sign-in, sign-out, the account page, profile and address book, password and
e-mail changes, password reset, the personalization switch, data export and deletion."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

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
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug import Response

from shop import rate_limits, visitor
from shop.accounts import privacy, profile, redirects, security, services, sign_ins, tokens
from shop.accounts.forms import (
    ActionForm,
    AddressForm,
    DeleteAccountForm,
    EmailChangeForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    TrackingForm,
)
from shop.accounts.models import User
from shop.cart.reorder_views import order_again_from
from shop.checkout.pricing import CheckoutSettings
from shop.db import db, utcnow
from shop.form_fields import ShopForm
from shop.orders import fulfilment
from shop.orders.cancel_views import cancel_page
from shop.orders.invoice_views import invoice_page
from shop.orders.models import Order
from shop.orders.page_links import order_page_links
from shop.orders.services import OrderNotFound, customer_order, order_history
from shop.pagination import PageError, parse_page
from shop.payments.setup import gateway
from shop.returns.views import return_page, withdraw
from shop.tracking.recorder import event_writer, record

bp = Blueprint("accounts", __name__, url_prefix="/account")

FINGERPRINT_KEY = "_pwfp"
SIGN_IN_KEY = "_sk"
REMEMBER_FINGERPRINT_COOKIE = "remember_pin"
RESET_SENT = (
    "If an account exists for that address, we have sent a link to reset the password. "
    "It works once, for one hour."
)
RESET_MIN_SECONDS = 0.15
T = TypeVar("T")

# Brute-force protection on the POSTs that check a password or send mail (GETs are free).
_sign_in_limit = rate_limits.post_limit("SIGN_IN_RATE_LIMIT")
_register_limit = rate_limits.post_limit("REGISTER_RATE_LIMIT")
_reset_limit = rate_limits.post_limit("PASSWORD_RESET_RATE_LIMIT")
# Changing the password or e-mail and deleting the account share one budget, so guessing
# the current password through three forms gets no more tries than through one.
_password_check_limit = rate_limits.post_limit("PASSWORD_CHECK_RATE_LIMIT", "password-check")


def _safe_next(target: str | None) -> str:
    """Only follow ?next= to a path on this site."""
    return redirects.local_path(target) or url_for("accounts.overview")


def _base_url() -> str:
    return str(current_app.config.get("SHOP_BASE_URL") or request.host_url.rstrip("/"))


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _pin_session(user: User, remember: bool = False) -> None:
    """Tie this browser session (and its remember-me cookie) to the current password and
    to its sign-in on the server."""
    fingerprint = security.session_fingerprint(user, current_app.config["SECRET_KEY"])
    session[FINGERPRINT_KEY] = fingerprint
    if remember or request.cookies.get(REMEMBER_FINGERPRINT_COOKIE):
        g.remember_fingerprint = f"{fingerprint}.{session.get(SIGN_IN_KEY, '')}"


@bp.before_app_request
def _end_stale_sessions() -> None:
    """Sign out sessions (and remember-me cookies) made before the password last changed,
    and those whose sign-in ended on the server (signed out, ended from elsewhere, or unused
    for `sign_ins.IDLE_LIMIT`)."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    expected = security.session_fingerprint(_me(), current_app.config["SECRET_KEY"])
    pinned = session.get(FINGERPRINT_KEY)
    if pinned is None:  # restored from a remember-me cookie: it carries its own pin and key
        cookie = request.cookies.get(REMEMBER_FINGERPRINT_COOKIE) or ""
        pinned, _, key = (cookie if cookie.isascii() else "").partition(".")
        if hmac.compare_digest(pinned, expected):
            session[FINGERPRINT_KEY], session[SIGN_IN_KEY] = expected, key
    if not hmac.compare_digest(str(pinned), expected) or not sign_ins.is_live(
        db.session, _me().id, session.get(SIGN_IN_KEY), record_use=db.transaction
    ):
        _sign_out()


def _sign_out() -> None:
    if current_user.is_authenticated:  # end it on the server: a copied cookie stops working
        sign_ins.end(db.session, _me().id, session.get(SIGN_IN_KEY))
        db.session.commit()
    logout_user()
    session.clear()  # recent clicks, checkout progress: nothing of the member stays behind
    # logout_user's order to delete the remember-me cookie lives in the session, which was
    # just cleared: without it the cookie signed the browser in again on every request.
    session["_remember"] = "clear"
    visitor.start_new_visitor()
    g.forget_fingerprint = True


def _remember_seconds() -> int:
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION")
    if isinstance(duration, timedelta):
        return int(duration.total_seconds())
    return int(duration or 365 * 24 * 3600)


@bp.after_app_request
def _remember_fingerprint(response: Response) -> Response:
    """Keep the remember-me cookie's pin next to it (set at sign-in, renewed on change)."""
    if g.get("remember_fingerprint"):
        response.set_cookie(
            REMEMBER_FINGERPRINT_COOKIE,
            g.remember_fingerprint,
            max_age=_remember_seconds(),
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE", False)),
        )
    elif g.get("forget_fingerprint"):
        response.delete_cookie(REMEMBER_FINGERPRINT_COOKIE)
    return response


def _tell_claimed(count: int) -> None:
    if count:
        flash(services.claimed_orders_message(count), "success")


def _signed_in(user: User, remember: bool, event: str) -> None:
    if current_user.is_authenticated and current_user.get_id() != str(user.id):
        _sign_out()  # another account signs in here: nothing of the first one stays
    # A token known before signing in (say, planted with the session cookie) is not kept.
    session.pop("csrf_token", None)
    if (
        request.cookies.get(current_app.config["TRACKING_COOKIE"]) == "off"
        and user.tracking_enabled
    ):
        # Switched off in this browser before signing in: the account follows, so the
        # account's switch shows the setting in force (and nothing browsed here is linked).
        privacy.set_personalization(
            db.session, user, g.get("visitor_id"), False, source="browser, at sign-in"
        )
    adopted = services.adopt_visitor(db.session, user, g.get("visitor_id"), event_writer())
    key = sign_ins.start(db.session, user.id, request.user_agent.string)
    db.session.commit()
    login_user(user, remember=remember)
    session[SIGN_IN_KEY] = key
    _pin_session(user, remember)
    g.tracking_on = g.get("tracking_on", False) and user.tracking_enabled
    record(event)
    _tell_claimed(len(adopted.claimed))
    for note in adopted.cart.notes:  # cart lines that could not come along whole
        flash(note, "info")


def _status(form: ShopForm) -> int:
    return 400 if form.is_submitted() else 200


def _commit(action: Callable[[], T]) -> T:
    """Run a service call in the request's session and commit; roll back on any error."""
    try:
        result = action()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


@bp.route("/register", methods=["GET", "POST"])
@_register_limit
def register() -> Response | tuple[str, int]:
    """Create an account; the visitor's cart and history come along."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register(
                db.session, form.name.data, form.email.data, form.password.data, _base_url()
            )
        except services.AccountError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            _signed_in(user, remember=False, event="register")
            flash("Welcome! Your account is ready.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("account/register.html", form=form), _status(form)


@bp.route("/login", methods=["GET", "POST"])
@_sign_in_limit
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
    return render_template("account/login.html", form=form, error=error), _status(form)


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    _sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.home"))


@bp.get("")
@login_required
def overview() -> str:
    """The account page: details, links to every setting, and order history."""
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
        sessions_form=ActionForm(),
        confirm_form=ActionForm(),
        sign_ins=sign_ins.live_sign_ins(db.session, _me().id, session.get(SIGN_IN_KEY)),
        loyalty_url=_link_if_present("loyalty.member", "loyalty.index"),
        preferences_url=_link_if_present("preferences.index"),
    )


def _link_if_present(*endpoints: str) -> str | None:
    """The URL of the first of these endpoints the app has (loyalty pages are optional)."""
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


@bp.get("/orders/<number>")
@login_required
def order(number: str) -> str:
    """One of the signed-in customer's orders; anyone else's is a 404."""
    found = _own_order(number)
    links = order_page_links(found, "accounts", number=number)
    return render_template("account/order.html", order=found, **links)


def _own_order(number: str) -> Order:
    """One of the signed-in customer's orders; anyone else's is a 404."""
    try:
        return customer_order(db.session, int(current_user.get_id()), number)
    except OrderNotFound:
        abort(404, "We couldn't find that order in your account.")


@bp.get("/orders/<number>/invoice")
@login_required
def order_invoice(number: str) -> tuple[str, int]:
    """The VAT invoice (or receipt) of one of the customer's paid orders."""
    found = _own_order(number)
    return invoice_page(found, url_for(".order", number=number))


@bp.post("/orders/<number>/again")
@login_required
def order_again(number: str) -> Response:
    """Put the products of one of the customer's orders in their cart again."""
    found = _own_order(number)
    return order_again_from(found, url_for(".order", number=number))


@bp.route("/orders/<number>/cancel", methods=["GET", "POST"])
@login_required
def cancel_order(number: str) -> Response | tuple[str, int]:
    """Ask before cancelling one of the customer's paid orders, then cancel and refund it."""
    found = _own_order(number)
    return cancel_page(found, url_for(".order", number=number))


@bp.route("/orders/<number>/return", methods=["GET", "POST"])
@login_required
def return_items(number: str) -> Response | tuple[str, int]:
    """Choose items of one of the customer's dispatched orders to send back, and ask to."""
    found = _own_order(number)
    return return_page(found, url_for(".order", number=number))


@bp.post("/orders/<number>/returns/<return_number>/withdraw")
@login_required
def withdraw_return(number: str, return_number: str) -> Response:
    """Withdraw a return of one of the customer's orders before its parcel arrives."""
    found = _own_order(number)
    return withdraw(found, return_number, url_for(".order", number=number))


# ---------------------------------------------------------------------------- profile


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def edit_profile() -> Response | tuple[str, int]:
    """Change name and phone number."""
    me = _me()
    form = ProfileForm(obj=me)
    if form.validate_on_submit():
        changed = _commit(
            lambda: profile.update_details(
                db.session, me, form.name.data, form.phone.data or "", _base_url()
            )
        )
        flash("Your details were saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("accounts.overview"))
    return render_template("account/profile.html", form=form), _status(form)


@bp.get("/addresses")
@login_required
def addresses() -> str:
    """The address book."""
    book = profile.addresses(db.session, int(current_user.get_id()))
    return render_template("account/addresses.html", addresses=book, form=ActionForm())


@bp.route("/addresses/new", methods=["GET", "POST"])
@login_required
def new_address() -> Response | tuple[str, int]:
    """Add an address."""
    form = AddressForm()
    if form.validate_on_submit():
        fields = _address_fields(form)
        try:
            _commit(
                lambda: profile.add_address(
                    db.session, _me(), fields, bool(form.make_default.data), _base_url()
                )
            )
        except profile.DuplicateAddress as exc:
            form.form_errors.append(str(exc))
        else:
            flash("The address was added.", "success")
            return redirect(url_for("accounts.addresses"))
    return render_template("account/address_form.html", form=form, address=None), _status(form)


KEEPS_DEFAULT = (
    "Your default address stays the default until you choose another one as default: "
    "use “Make default” next to it in your address book."
)


@bp.route("/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def edit_address(address_id: int) -> Response | tuple[str, int]:
    """Change one of the account's addresses; anyone else's is a 404."""
    try:
        found = profile.address(db.session, int(current_user.get_id()), address_id)
    except profile.AddressNotFound as exc:
        abort(404, str(exc))
    form = AddressForm(obj=found)
    if request.method == "GET":
        form.make_default.data = found.is_default
    if form.validate_on_submit():
        fields = _address_fields(form)
        try:
            changed = _commit(
                lambda: profile.update_address(
                    db.session, _me(), address_id, fields, bool(form.make_default.data), _base_url()
                )
            )
        except profile.DuplicateAddress as exc:
            form.form_errors.append(str(exc))
        else:
            flash("The address was saved." if changed else "Nothing changed.", "success")
            if found.is_default and not form.make_default.data:
                flash(KEEPS_DEFAULT, "info")
            return redirect(url_for("accounts.addresses"))
    return render_template("account/address_form.html", form=form, address=found), _status(form)


@bp.post("/addresses/<int:address_id>/delete")
@login_required
def delete_address(address_id: int) -> Response:
    """Remove one of the account's addresses."""
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    try:
        _commit(lambda: profile.delete_address(db.session, _me(), address_id, _base_url()))
    except profile.AddressNotFound as exc:
        abort(404, str(exc))
    flash("The address was removed.", "success")
    return redirect(url_for("accounts.addresses"))


@bp.post("/addresses/<int:address_id>/default")
@login_required
def default_address(address_id: int) -> Response:
    """Make one of the account's addresses the default."""
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    try:
        _commit(lambda: profile.set_default_address(db.session, _me(), address_id, _base_url()))
    except profile.AddressNotFound as exc:
        abort(404, str(exc))
    flash("That is now your default address.", "success")
    return redirect(url_for("accounts.addresses"))


def _address_fields(form: AddressForm) -> profile.AddressFields:
    return profile.AddressFields(
        name=form.name.data or "",
        line1=form.line1.data or "",
        line2=form.line2.data or "",
        city=form.city.data or "",
        postcode=form.postcode.data or "",
        country=form.country.data or "",
        phone=form.phone.data or "",
    )


# --------------------------------------------------------------------------- security


@bp.route("/password", methods=["GET", "POST"])
@login_required
@_password_check_limit
def change_password() -> Response | tuple[str, int]:
    """Change the password; other signed-in browsers are signed out, this one stays."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        me = _me()
        try:
            _commit(
                lambda: security.change_password(
                    db.session,
                    me,
                    form.current_password.data,
                    form.new_password.data,
                    _base_url(),
                    keep_key=session.get(SIGN_IN_KEY),
                )
            )
        except security.WrongPassword as exc:
            form.current_password.errors = [str(exc)]
        else:
            _pin_session(me)
            flash("Your password was changed.", "success")
            return redirect(url_for("accounts.overview"))
    elif form.is_submitted() and form.current_password.data and not form.current_password.errors:
        try:  # report a wrong current password now too, not on the next try
            security.verify_password(_me(), form.current_password.data)
        except security.WrongPassword as exc:
            form.current_password.errors = [str(exc)]
    return render_template("account/password.html", form=form), _status(form)


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    """Sign out every other browser signed in to the account; this one stays."""
    if not ActionForm().validate_on_submit():
        abort(400, "The form expired. Please try again.")
    me = _me()
    key = session.get(SIGN_IN_KEY)
    _commit(lambda: security.end_other_sessions(db.session, me, key, _base_url()))
    _pin_session(me)
    flash("Every other browser signed in to your account is now signed out.", "success")
    return redirect(url_for("accounts.overview"))


@bp.route("/email", methods=["GET", "POST"])
@login_required
@_password_check_limit
def change_email() -> Response | tuple[str, int]:
    """Ask for a new e-mail address; it takes effect when the link sent to it is opened."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            new_email = _commit(
                lambda: security.request_email_change(
                    db.session,
                    _me(),
                    form.current_password.data,
                    form.new_email.data,
                    _base_url(),
                )
            )
        except security.WrongPassword as exc:
            form.current_password.errors = [str(exc)]
        except services.AccountError as exc:
            form.new_email.errors = [str(exc)]
        else:
            flash(
                f"We have sent a link to {new_email}. Your address changes when you open it.",
                "success",
            )
            return redirect(url_for("accounts.overview"))
    return render_template("account/email.html", form=form), _status(form)


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> Response | tuple[str, int]:
    """The link sent to a new address: a button (mail scanners only follow GETs)."""
    form = ActionForm()
    try:
        new_email = security.pending_email_change(db.session, token)
        if form.validate_on_submit():
            me = int(current_user.get_id()) if current_user.is_authenticated else None
            changed = _commit(
                lambda: security.confirm_email_change(db.session, token, _base_url(), me)
            )
            confirmed = me == changed.user.id
            flash(f"Your e-mail address is now {new_email}.{_unconfirmed(confirmed)}", "success")
            _tell_claimed(len(changed.claimed))
            target = "accounts.overview" if current_user.is_authenticated else "accounts.login"
            return redirect(url_for(target))
    except tokens.TokenError as exc:
        return _link_error(exc, offer_reset=False)
    except security.EmailTaken as exc:
        return _link_error(exc, offer_reset=False, status=409)
    if form.is_submitted():
        abort(400, "The form expired; please open the link again.")
    return render_template("account/email_confirm.html", form=form, new_email=new_email), 200


def _unconfirmed(confirmed: bool) -> str:
    if confirmed:
        return ""
    return (
        " The link was opened without signing in to this account, so the address is not "
        "confirmed yet: sign in and ask for a confirmation link on your account page to "
        "see the orders you placed with it as a guest."
    )


@bp.post("/email/verify")
@login_required
def send_email_confirmation() -> Response:
    """Send a link that confirms the account's e-mail address."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please try again.")
    try:
        email = _commit(lambda: services.send_email_confirmation(db.session, _me(), _base_url()))
    except services.AccountError as exc:
        flash(str(exc), "error")
    else:
        flash(f"We have sent a link to {email}. Open it to confirm your address.", "success")
    return redirect(url_for("accounts.overview"))


@bp.route("/email/verify/<token>", methods=["GET", "POST"])
@login_required
def verify_email(token: str) -> Response | tuple[str, int]:
    """The link that confirms the account's address, opened signed in: a button (mail
    scanners only follow GETs). Paid orders placed with the address as a guest join."""
    form = ActionForm()
    try:
        email = services.pending_confirmation(db.session, token, _me())
        if form.validate_on_submit():
            claimed = _commit(lambda: services.confirm_email(db.session, token, _me()))
            flash(f"Thank you: {email} is confirmed.", "success")
            _tell_claimed(len(claimed))
            return redirect(url_for("accounts.overview"))
    except services.AlreadyConfirmed as exc:  # a second click: nothing left to do
        flash(str(exc), "info")
        return redirect(url_for("accounts.overview"))
    except tokens.TokenError as exc:
        return _link_error(exc, offer_reset=False, link="confirm")
    if form.is_submitted():
        abort(400, "The form expired; please open the link again.")
    return render_template("account/email_verify.html", form=form, email=email), 200


@bp.route("/email/undo/<token>", methods=["GET", "POST"])
def undo_email_change(token: str) -> Response | tuple[str, int]:
    """The link sent to the old address after a change: give the address back (a button)."""
    form = ActionForm()
    try:
        old_email = security.pending_email_revert(db.session, token)
        if form.validate_on_submit():
            _commit(lambda: security.revert_email_change(db.session, token, _base_url()))
            _sign_out()
            flash(
                f"Your account's e-mail address is {old_email} again, and every browser "
                f"was signed out. We sent a link to choose a new password to {old_email}.",
                "success",
            )
            return redirect(url_for("accounts.login"))
    except tokens.TokenError as exc:
        return _link_error(exc)
    except security.EmailTaken as exc:
        return _link_error(exc, status=409)
    if form.is_submitted():
        abort(400, "The form expired; please open the link again.")
    return render_template("account/email_undo.html", form=form, old_email=old_email), 200


def _link_error(
    exc: Exception,
    *,
    offer_reset: bool = True,
    status: int | None = None,
    link: str = "email_change",
) -> tuple[str, int]:
    """The page for a link that cannot be used, offering what fits the `link`
    ("email_change", "confirm" or "reset"); a new address's confirmation link does not
    offer a password reset, which has nothing to do with it."""
    code = status or getattr(exc, "status", 400)
    page = render_template(
        "account/link_error.html", message=str(exc), offer_reset=offer_reset, link=link
    )
    return page, code


@bp.route("/password/reset", methods=["GET", "POST"])
@_reset_limit
def reset_request() -> Response | tuple[str, int]:
    """Ask for a reset link; the answer never tells whether the account exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        started = time.monotonic()
        _commit(lambda: security.request_password_reset(db.session, form.email.data, _base_url()))
        # Answer after the same minimum time either way: response times reveal nothing.
        floor = float(current_app.config.get("PASSWORD_RESET_MIN_SECONDS", RESET_MIN_SECONDS))
        time.sleep(max(0.0, floor - (time.monotonic() - started)))
        flash(RESET_SENT, "info")
        return redirect(url_for("accounts.reset_request"))
    return render_template("account/reset_request.html", form=form), _status(form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int]:
    """Choose a new password through a reset link (once, within the hour)."""
    form = ResetPasswordForm()
    try:
        security.check_reset_token(db.session, token)
        if form.validate_on_submit():
            _commit(
                lambda: security.reset_password(db.session, token, form.password.data, _base_url())
            )
            _sign_out()
            flash("Your password was changed. Please sign in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    except tokens.TokenError as exc:
        return _link_error(exc, link="reset")
    return render_template("account/reset_password.html", form=form), _status(form)


# ---------------------------------------------------------------------------- privacy


@bp.post("/tracking")
def tracking() -> Response:
    """Switch tracking-based personalization on or off, for a visitor or an account."""
    form = TrackingForm()
    if not form.validate_on_submit():
        abort(400)
    enabled = bool(form.enabled.data)
    user = _me() if current_user.is_authenticated else None
    _commit(
        lambda: privacy.switch_personalization(
            db.session, user, g.get("visitor_id"), enabled, _base_url()
        )
    )
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
        secure = bool(current_app.config.get("SESSION_COOKIE_SECURE", False))
        response.set_cookie(
            cookie, "off", max_age=365 * 24 * 3600, httponly=True, samesite="Lax", secure=secure
        )
    return response


@bp.get("/privacy")
@login_required
def privacy_page() -> str:
    """Download my data, delete my account, and the personalization switch."""
    return render_template(
        "account/privacy.html", tracking_form=TrackingForm(enabled=current_user.tracking_enabled)
    )


@bp.get("/privacy/export")
@login_required
def export() -> Response:
    """Everything we hold about the account, as a JSON download."""
    data = privacy.download_data(db.session, db.transaction, _me().id, _base_url())
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    response = make_response(body)
    response.mimetype = "application/json"
    filename = f"my-data-{utcnow():%Y-%m-%d}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/delete", methods=["GET", "POST"])
@login_required
@_password_check_limit
def delete_account() -> Response | tuple[str, int]:
    """Delete the account: personal data is removed, orders stay without it."""
    form = DeleteAccountForm()
    error, conflict = None, False
    if form.validate_on_submit():
        user_id = int(current_user.get_id())
        db.session.close()  # the service uses transactions of its own
        try:
            cancelled = privacy.delete_account(db.transaction, gateway, user_id, form.password.data)
        except security.WrongPassword as exc:
            form.password.errors = [str(exc)]
        except privacy.DeletionRefused as exc:  # the last admin, or orders to deliver
            error, conflict = str(exc), True
        except services.AccountError as exc:
            error = str(exc)
        else:
            settings = CheckoutSettings.from_config(current_app.config)
            for order_id in cancelled:
                fulfilment.cancel_open_payments_of(settings, order_id)
            _sign_out()
            flash("Your account has been deleted. Goodbye, and thank you.", "success")
            return redirect(url_for("catalog.home"))
    if not form.is_submitted():
        refused = privacy.deletion_refusal(db.session, _me())
        error, conflict = (str(refused), True) if refused is not None else (None, False)
    status = (409 if conflict else 503) if error and form.is_submitted() else _status(form)
    page = render_template("account/delete.html", form=form, error=error, refused=conflict)
    return page, status
