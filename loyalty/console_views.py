"""Console: loyalty tiers and programme settings (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug import Response

from loyalty import programme_admin, tiers
from loyalty.settings import load_settings
from loyalty.tier_forms import ProgrammeForm, ReviewedForm, TierForm
from shop.console import audit
from shop.console.access import admin_required
from shop.db import db
from shop.wording import counted

bp = Blueprint("loyalty", __name__, url_prefix="/loyalty")


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


def _told(count: int) -> str:
    return f" {counted(count, 'member')} told by e-mail." if count else ""


def _overview(programme_form: ProgrammeForm | None = None, status: int = 200) -> tuple[str, int]:
    settings = load_settings(db.session)
    form = programme_form or ProgrammeForm.for_settings(settings)
    return render_template(
        "console/loyalty/tiers.html",
        tiers=tiers.all_tiers(db.session),
        members=programme_admin.members_per_tier(db.session),
        settings=settings,
        form=form,
    ), status


@bp.get("/", endpoint="tiers")
@admin_required
def tiers_page() -> tuple[str, int]:
    """The tiers with their thresholds, benefits and members, and the programme settings."""
    return _overview()


@bp.route("/tiers/new", methods=["GET", "POST"])
@admin_required
def new_tier() -> Response | tuple[str, int]:
    """Add a tier; the whole configuration must stay valid."""
    basis = load_settings(db.session).tier_basis
    form = TierForm(basis=basis)
    return _save(form, None)


@bp.route("/tiers/<int:tier_id>", methods=["GET", "POST"])
@admin_required
def edit_tier(tier_id: int) -> Response | tuple[str, int]:
    """Edit a tier's name, rank, threshold and benefits."""
    found = next((t for t in tiers.all_tiers(db.session) if t.id == tier_id), None)
    if found is None:
        abort(404)
    basis = load_settings(db.session).tier_basis
    form = TierForm(basis=basis)
    if not form.is_submitted():
        form = TierForm.for_tier(tiers.tier_spec(found), basis)
    return _save(form, tier_id)


def _review(form: ReviewedForm, review: tiers.Review, action: str) -> tuple[str, int]:
    """The page that shows what members would be told, before anything is saved."""
    page = render_template("console/loyalty/review.html", form=form, review=review, action=action)
    return page, 200


def _save(form: TierForm, tier_id: int | None) -> Response | tuple[str, int]:
    status = 400 if form.is_submitted() else 200
    if form.is_submitted() and form.edit.data:  # back from the review page, as typed
        return render_template("console/loyalty/tier_form.html", form=form, tier_id=tier_id), 200
    if form.validate_on_submit():
        try:  # a new tier has no saved state to compare with
            opened = form.opened_spec() if tier_id is not None else None
        except ValueError as exc:  # a missing or garbled `opened` field
            form.form_errors.append(str(exc))
            return render_template(
                "console/loyalty/tier_form.html", form=form, tier_id=tier_id
            ), 400
        try:
            saved = tiers.save_tier(
                db.session, _actor(), tier_id, form.spec(), opened, bool(form.confirm.data)
            )
        except tiers.TierConfigError as exc:
            db.session.rollback()
            form.form_errors.extend(exc.messages)
        except tiers.ChangedSinceOpened as exc:
            db.session.rollback()
            form = _current_tier_form(tier_id)
            form.form_errors.append(str(exc))
            status = 409
        else:
            if saved.review is not None:
                db.session.rollback()
                return _review(form, saved.review, request.path)
            name, told = saved.tier.name, saved.members_told
            db.session.commit()
            saved_text = f"Tier {name} saved." if saved.changed else "Nothing changed."
            flash(f"{saved_text}{_told(told)}", "success")
            return redirect(url_for("console.loyalty.tiers"))
    return render_template("console/loyalty/tier_form.html", form=form, tier_id=tier_id), status


def _current_tier_form(tier_id: int | None) -> TierForm:
    found = next((t for t in tiers.all_tiers(db.session) if t.id == tier_id), None)
    if found is None:
        abort(404)
    return TierForm.for_tier(tiers.tier_spec(found), load_settings(db.session).tier_basis)


@bp.post("/settings")
@admin_required
def save_settings() -> Response | tuple[str, int]:
    """Save the programme settings (earning, redemption, expiry, tier basis, terms)."""
    form = ProgrammeForm()
    if not form.validate_on_submit():
        return _overview(form, 400)
    try:
        opened = form.opened_settings()
    except ValueError as exc:  # a missing or garbled `opened` field
        form.form_errors.append(str(exc))
        return _overview(form, 400)
    if form.edit.data:  # back from the review page, with what was typed
        return _overview(form)
    try:
        saved = programme_admin.save_programme(
            db.session, _actor(), form.settings(), opened, confirmed=bool(form.confirm.data)
        )
    except tiers.ChangedSinceOpened as exc:
        db.session.rollback()
        fresh = ProgrammeForm.for_settings(load_settings(db.session))
        fresh.form_errors.append(str(exc))
        return _overview(fresh, 409)
    except programme_admin.ProgrammeRefused as exc:
        db.session.rollback()
        form[exc.field].errors = [str(exc)]
        return _overview(form, 400)
    if saved.review is not None:
        db.session.rollback()
        return _review(form, saved.review, url_for("console.loyalty.save_settings"))
    db.session.commit()
    text = f"Programme settings saved.{_told(saved.members_told)}"
    flash(text if saved.changed else "Nothing changed.", "success")
    return redirect(url_for("console.loyalty.tiers"))
