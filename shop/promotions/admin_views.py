"""Console: discount codes (the list with their paid orders, new, edit, switch off or on,
delete)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug import Response

from shop.console import audit
from shop.console.access import staff_required
from shop.db import db, utcnow
from shop.orders import states
from shop.promotions import admin
from shop.promotions.admin_forms import EditPromoForm, PromoActionForm, PromoForm
from shop.promotions.models import PromoCode

bp = Blueprint("promotions", __name__, url_prefix="/promotions")


@bp.get("/")
@staff_required
def index() -> str:
    """Every code, newest first, with its conditions, status and paid orders."""
    return render_template(
        "console/promotions/index.html",
        rows=admin.promo_rows(db.session, utcnow()),
        action_form=PromoActionForm(),
        paid_statuses=[states.LABELS[status] for status in states.WERE_PAID],
    )


@bp.route("/new", methods=["GET", "POST"])
@staff_required
def create() -> Response | tuple[str, int]:
    """Make a code: percentage or amount off the goods, or free standard delivery."""
    form = PromoForm()
    if form.validate_on_submit():
        try:
            promo = admin.create_promo(
                db.session,
                audit.Actor.of(current_user),
                form.code.data or "",
                form.kind.data or "",
                form.values(),
                now=utcnow(),
            )
        except admin.PromoInvalid as exc:
            db.session.rollback()
            _field_errors(form, exc)
        else:
            code, starts_at = promo.code, promo.starts_at
            db.session.commit()
            when = f"from {starts_at:%d %b %Y %H:%M} UTC" if starts_at else "now"
            flash(f"Created the code {code}: shoppers can use it {when}.", "success")
            return redirect(url_for(".index"))
    status = 400 if form.is_submitted() else 200
    return _form_page(form, None, status)


@bp.route("/<int:promo_id>/edit", methods=["GET", "POST"])
@staff_required
def edit(promo_id: int) -> Response | tuple[str, int]:
    """Change what a code gives and when; its code and kind stay as they are."""
    promo = admin.get_promo(db.session, promo_id)
    if promo is None:
        abort(404)
    form = EditPromoForm(kind=promo.kind)
    if not form.is_submitted():
        form.process(data={**_form_data(promo), "opened": admin.edit_stamp(promo)})
    elif form.validate():
        try:
            changed = admin.update_promo(
                db.session,
                audit.Actor.of(current_user),
                promo_id,
                form.values(),
                opened=form.opened.data or "",
            )
        except admin.PromoNotFound:
            db.session.rollback()
            abort(404)
        except admin.PromoChanged as exc:
            db.session.rollback()
            _mark_changed(form, promo, exc)
            return _form_page(form, promo, 409)
        except admin.PromoInvalid as exc:
            db.session.rollback()
            _field_errors(form, exc)
        else:
            code = promo.code
            db.session.commit()
            message = f"Saved {code}." if changed else f"Nothing to save: {code} is unchanged."
            flash(message, "success")
            return redirect(url_for(".edit", promo_id=promo_id))
    status = 400 if form.is_submitted() else 200
    return _form_page(form, promo, status)


@bp.post("/<int:promo_id>/switch-off")
@staff_required
def switch_off(promo_id: int) -> Response:
    """Stop a code applying at once (carts with it lose the discount)."""
    return _switch(promo_id, on=False)


@bp.post("/<int:promo_id>/switch-on")
@staff_required
def switch_on(promo_id: int) -> Response:
    """Let a switched-off code apply again (within its dates and limits)."""
    return _switch(promo_id, on=True)


@bp.post("/<int:promo_id>/delete")
@staff_required
def delete(promo_id: int) -> Response:
    """Delete a code no order ever used; any other is kept (switch it off instead)."""
    form = PromoActionForm()
    if not form.validate():
        abort(400)
    try:
        code = admin.delete_promo(db.session, audit.Actor.of(current_user), promo_id)
    except admin.PromoNotFound:
        db.session.rollback()
        abort(404)
    except admin.PromoInUse as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(_back(form, promo_id))
    db.session.commit()
    flash(f"Deleted the code {code}.", "success")
    return redirect(url_for(".index"))


def _switch(promo_id: int, *, on: bool) -> Response:
    form = PromoActionForm()
    if not form.validate():
        abort(400)
    try:
        promo, changed = admin.switch(db.session, audit.Actor.of(current_user), promo_id, on=on)
    except admin.PromoNotFound:
        db.session.rollback()
        abort(404)
    code, message = promo.code, _switched_message(promo, on)
    db.session.commit()
    if changed:
        flash(message, "success")
    else:
        flash(f"The code {code} was already switched {'on' if on else 'off'}.", "info")
    return redirect(_back(form, promo_id))


def _switched_message(promo: PromoCode, on: bool) -> str:
    """What switching the code off or on did, and what else keeps it from applying."""
    code, now_status = promo.code, admin.status(promo, utcnow())
    if not on:
        return f"Switched {code} off: it no longer applies to any cart."
    if now_status == admin.SCHEDULED and promo.starts_at is not None:
        return f"Switched {code} on: it applies from {promo.starts_at:%d %b %Y %H:%M} UTC."
    if now_status == admin.ENDED:
        return f"Switched {code} on, but it has ended: change its end for shoppers to use it."
    if now_status == admin.USED_UP:
        return f"Switched {code} on, but it is used up: raise its use limit for more orders."
    return f"Switched {code} on: it applies again."


def _back(form: PromoActionForm, promo_id: int) -> str:
    """The page the button was on: the list, or the code's own page."""
    if form.back.data == "list":
        return url_for(".index")
    return url_for(".edit", promo_id=promo_id)


def _field_errors(form: PromoForm, exc: admin.PromoInvalid) -> None:
    for name, message in exc.errors.items():
        if name in form:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(message)


def _mark_changed(form: EditPromoForm, promo: PromoCode, exc: admin.PromoChanged) -> None:
    """Show the fields saved meanwhile: the saved value where this form had left the field
    alone, the typed one (with what was saved) where both changed it."""
    saved = _form_data(promo)
    for name in exc.theirs:
        form[name].data, form[name].raw_data = saved[name], None
        form[name].errors = [*form[name].errors, "Changed meanwhile: the form shows it now."]
    for name in exc.clashes:
        message = f"Changed meanwhile to {_shown(saved[name])}; yours is kept: save to use it."
        form[name].errors = [*form[name].errors, message]
    form.form_errors.append(str(exc))
    form.opened.data = admin.edit_stamp(promo)


def _shown(value: object) -> str:
    """A saved value in words, for the message next to its field."""
    if isinstance(value, bool):
        return "ticked" if value else "not ticked"
    if isinstance(value, datetime):
        return f"{value:%d %b %Y %H:%M} UTC"
    return str(value) if value not in (None, "") else "empty"


def _form_data(promo: PromoCode) -> dict[str, object]:
    """A code's values as its edit form shows them (pounds and percent as typed)."""
    return {
        "description": promo.description,
        "percent": admin.percent_input(promo.percent_bp),
        "amount": admin.pounds_input(promo.amount_pence),
        "min_spend": admin.pounds_input(promo.min_subtotal_pence or None),
        "starts_at": promo.starts_at,
        "ends_at": promo.ends_at,
        "max_uses": promo.max_uses,
        "once_per_customer": promo.once_per_customer,
    }


def _form_page(form: PromoForm, promo: PromoCode | None, status: int) -> tuple[str, int]:
    deletable = promo is not None and not admin.ever_used(db.session, promo)
    return render_template(
        "console/promotions/form.html",
        form=form,
        promo=promo,
        status=admin.status(promo, utcnow()) if promo else None,
        status_labels=admin.STATUS_LABELS,
        kinds=admin.KINDS,
        deletable=deletable,
        action_form=PromoActionForm(formdata=None),
        now=utcnow(),
    ), status
