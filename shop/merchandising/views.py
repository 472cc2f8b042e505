"""Console: recommendation settings, rules, draft and publish, preview, model versions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug import Response

from shop.catalog.models import Category
from shop.console import audit
from shop.console.models import TrainingJob
from shop.console.reviews import ActionReview
from shop.db import db, utcnow
from shop.merchandising import editing, experiments, model_versions, revisions, training_jobs
from shop.merchandising.config import Rule
from shop.merchandising.forms import (
    NoteForm,
    PreviewForm,
    RuleForm,
    TrainForm,
    VersionForm,
    settings_form,
)
from shop.merchandising.preview import build_preview, find_shopper, session_target, shopper_target
from shop.merchandising.revision_reviews import discard_review, publish_review, revert_review
from shop.merchandising.version_reviews import activate_review, rollback_review
from shop.personalization import service
from shop.recommendations import ModelUnavailableError, VersionNotFoundError

bp = Blueprint("recs", __name__, url_prefix="/recommendations")


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


def _placement_names() -> list[str]:
    return list(service().placements)


def _placement_sizes(draft: Mapping[str, Any]) -> dict[str, int]:
    """Each placement's list length in a draft document."""
    config = service().config_from(draft)
    return {name: placement.size for name, placement in config.placements.items()}


def _draft_document() -> dict[str, Any]:
    return service().config_from(revisions.draft_data(db.session)).to_dict()


@bp.route("/", methods=["GET", "POST"])
def index() -> Response | tuple[str, int]:
    """Training and placement settings (edited in the draft), publishing and history."""
    names = _placement_names()
    # A POST says what it showed itself: a missing `opened` must not default to the current.
    shown = "" if request.method == "POST" else editing.settings_fingerprint(db.session)
    form = settings_form(names, _draft_document(), shown)
    status = 400 if form.is_submitted() else 200
    if form.validate_on_submit():
        entered = editing.SettingsInput(
            kind_weights={k: float(form[f"weight_{k}"].data) for k in editing.KIND_NAMES},
            half_life_days=(
                float(form.half_life_days.data) if form.half_life_days.data is not None else None
            ),
            model=form.model.data,
            model_params={
                name: float(form[name].data)
                for name in editing.MODEL_PARAM_RANGES
                if form[name].data is not None
            },
            placements={
                name: {
                    "size": form[f"size_{name}"].data,
                    "allow_repurchase": form[f"repurchase_{name}"].data,
                    "strategy": form[f"strategy_{name}"].data,
                }
                for name in names
            },
        )
        try:
            editing.update_settings(
                db.session,
                _actor(),
                entered,
                names,
                service().default_config().training,
                opened=form.opened.data or "",
            )
        except revisions.ChangedSinceOpened as exc:
            db.session.rollback()
            fingerprint = editing.settings_fingerprint(db.session)
            form = settings_form(names, _draft_document(), fingerprint, saved=True)
            form.form_errors.append(str(exc))
            status = 409
        except (editing.EditError, revisions.RevisionError) as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(
                "Settings saved in the draft. Preview, then publish to make them live.", "success"
            )
            return redirect(url_for("console.recs.index"))
    return render_template("console/recs/index.html", form=form, **_state()), status


def _attach(form: Any, exc: Exception) -> None:
    """Show a service error next to its field (or at the top of the form)."""
    field = getattr(exc, "field", None)
    if field and field in form:
        form[field].errors = [*form[field].errors, str(exc)]
    else:
        form.form_errors.append(str(exc))


def _state() -> dict[str, Any]:
    session = db.session
    draft = revisions.draft_revision(session)
    return {
        "draft": draft,
        "draft_opened": revisions.fingerprint(draft.data) if draft else "",
        "live": revisions.live_revision(session),
        "history": revisions.published_history(session),
        "note_form": NoteForm(),
        "placement_names": _placement_names(),
        "rule_arms": experiments.running_rules_arms(session),
    }


@bp.route("/rules", methods=["GET", "POST"])
def rules() -> Response | tuple[str, int]:
    """The draft's rules, the live ones, and a form to add a rule."""
    form = RuleForm()
    categories = db.session.execute(select(Category.id, Category.name).order_by(Category.position))
    form.set_options(_placement_names(), categories.all())
    if form.validate_on_submit():
        try:
            entered = editing.RuleInput(
                type=form.type.data,
                placements=tuple(form.placements.data or ()),
                product_id=editing.product_by_reference(db.session, form.product.data or ""),
                category_id=int(form.category.data) if form.category.data else None,
                position=form.position.data,
                factor=float(form.factor.data) if form.factor.data is not None else None,
                max_per_category=form.max_per_category.data,
                starts_at=form.starts_at.data,
                ends_at=form.ends_at.data,
                note=form.note.data or "",
            )
            rule = editing.add_rule(db.session, _actor(), entered, _placement_sizes)
        except editing.AlreadyInDraft as exc:  # e.g. the form sent twice: the first one added it
            db.session.rollback()
            flash(str(exc), "info")
            return redirect(url_for("console.recs.rules"))
        except (editing.EditError, revisions.RevisionError) as exc:
            db.session.rollback()
            _attach(form, exc)
        else:
            db.session.commit()
            flash(f"Added to the draft: {rule.label()}.", "success")
            return redirect(url_for("console.recs.rules"))
    status = 400 if form.is_submitted() else 200
    live_rules = [Rule.from_dict(r) for r in revisions.live_data(db.session).get("rules") or ()]
    draft_rules = editing.draft_rules(db.session)
    return render_template(
        "console/recs/rules.html",
        form=form,
        draft_rules=draft_rules,
        live_rules=live_rules,
        rule_targets=editing.rule_targets(db.session, [*draft_rules, *live_rules]),
        now=utcnow(),
        **_state(),
    ), status


@bp.route("/rules/<rule_id>/delete", methods=["POST"])
def delete_rule(rule_id: str) -> Response:
    """Remove a rule from the draft."""
    if not NoteForm().validate_on_submit():
        abort(400)
    try:
        rule = editing.remove_rule(db.session, _actor(), rule_id[:20])
    except (editing.EditError, revisions.RevisionError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"Removed from the draft: {rule.label()}.", "success")
    return redirect(url_for("console.recs.rules"))


def _revision_action(
    action: Callable[[NoteForm], Any],
    review: Callable[[NoteForm], ActionReview],
    success: str,
) -> Response | tuple[str, int]:
    """Show what a publish, discard or revert will change; do it once confirmed."""
    form = NoteForm()
    if not form.validate_on_submit():
        if set(form.errors) != {"note"}:
            abort(400)
        flash(f"The note is too long: {form.note.errors[0]}", "error")
        return _back()
    if form.edit.data:
        return _back()
    try:
        if not form.confirm.data:
            return render_template(
                "console/confirm.html",
                review=review(form),
                form=form,
                action=request.path,
                back_url=_back_path(),
                back_text="Back to the recommendation settings",
            ), 200
        action(form)
    except revisions.RevisionError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(success, "success")
    return _back()


def _back_path() -> str:
    back = request.form.get("back") or ""
    safe = back.startswith("/console/") and "//" not in back and "\\" not in back
    return back if safe else url_for("console.recs.index")


def _back() -> Response:
    return redirect(_back_path())


@bp.route("/publish", methods=["POST"])
def publish() -> Response | tuple[str, int]:
    """Make the draft live, once confirmed."""
    return _revision_action(
        lambda form: revisions.publish(
            db.session, _actor(), (form.note.data or "").strip(), opened=form.opened.data or ""
        ),
        lambda form: publish_review(
            db.session, service().config_from, (form.note.data or "").strip()
        ),
        "Published: the storefront now serves these settings and rules.",
    )


@bp.route("/discard", methods=["POST"])
def discard() -> Response | tuple[str, int]:
    """Throw the draft away, once confirmed."""
    return _revision_action(
        lambda form: revisions.discard_draft(db.session, _actor(), opened=form.opened.data or ""),
        lambda _form: discard_review(db.session, service().config_from),
        "The draft was discarded.",
    )


@bp.route("/revert/<int:revision_id>", methods=["POST"])
def revert(revision_id: int) -> Response | tuple[str, int]:
    """Publish a copy of an earlier revision, once confirmed."""
    return _revision_action(
        lambda form: revisions.revert_to(
            db.session,
            _actor(),
            revision_id,
            discard_draft=form.discard_draft.data,
            opened=form.opened.data or "",
        ),
        lambda form: revert_review(
            db.session, service().config_from, revision_id, form.discard_draft.data
        ),
        f"Reverted: revision {revision_id}'s settings and rules are live again.",
    )


@bp.route("/preview")
def preview() -> str | tuple[str, int]:
    """Live and draft lists side by side for a shopper or a described anonymous session."""
    form = PreviewForm(request.args)
    result = None
    status = 200
    if (form.shopper.data or form.viewed.data) and form.validate():
        try:
            if form.shopper.data:
                user = find_shopper(db.session, form.shopper.data)
                target = shopper_target(db.session, user, form.product.data or "")
            else:
                target = session_target(db.session, form.viewed.data, form.product.data or "")
            result = build_preview(db.session, service(), target)
        except editing.EditError as exc:
            _attach(form, exc)
            status = 400
    elif form.errors:
        status = 400
    return render_template(
        "console/recs/preview.html",
        form=form,
        preview=result,
        live=revisions.live_revision(db.session),
        rule_arms=experiments.running_rules_arms(db.session),
    ), status


@bp.route("/versions")
def versions() -> str:
    """Model versions with their evaluation, retraining and activation."""
    training_jobs.end_interrupted(db.session, db.transaction)
    store = service().store
    try:
        active = store.active()
    except ModelUnavailableError:
        active = None
    return render_template(
        "console/recs/versions.html",
        versions=list(reversed(store.versions())),
        active=active,
        pointer_error=store.pointer_error(),
        active_problem=model_versions.active_problem(store),
        jobs=training_jobs.latest_jobs(db.session),
        form=TrainForm(),
        version_form=VersionForm(),
    )


@bp.route("/train", methods=["POST"])
def train() -> Response | tuple[str, int]:
    """Start a retrain in the background; the versions page shows its progress."""
    form = TrainForm()
    if not form.validate_on_submit():
        flash("Choose which settings to train with.", "error")
        return redirect(url_for("console.recs.versions"))
    recs = service()
    try:
        job = training_jobs.start_training(
            db.session, _actor(), recs, settings=form.settings.data, activate=form.activate.data
        )
    except training_jobs.TrainingBusy as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.recs.versions"))
    db.session.commit()
    assert db.session_factory is not None
    training_jobs.launch(db.session_factory, recs, job.id)
    flash("Retraining started. You can leave this page; the job keeps running.", "success")
    return redirect(url_for("console.recs.versions", job=job.id))


@bp.route("/train/<int:job_id>.json")
def job_json(job_id: int) -> Response:
    """A job's progress, polled by the versions page."""
    training_jobs.end_interrupted(db.session, db.transaction)
    job = db.session.get(TrainingJob, job_id)
    if job is None:
        return jsonify(error=f"There is no training job {job_id}."), 404  # type: ignore[return-value]
    return jsonify(
        id=job.id,
        status=job.status,
        progress=job.progress,
        message=job.message,
        version=job.version_id,
        error=job.error,
        metrics=job.metrics,
    )


@bp.route("/versions/<version_id>/activate", methods=["POST"])
def activate(version_id: str) -> Response | tuple[str, int]:
    """Serve a stored version from now on, once confirmed."""
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    if form.edit.data:
        return redirect(url_for("console.recs.versions"))
    version_id = version_id[:64]
    store = service().store
    try:
        if not form.confirm.data:
            return _confirm_version(form, activate_review(db.session, store, version_id))
        changed = model_versions.activate(db.session, _actor(), store, version_id)
    except VersionNotFoundError:  # its message names the model directory on the server
        flash(f"Version {version_id} cannot be activated: there is no such version.", "error")
        return redirect(url_for("console.recs.versions"))
    except (ModelUnavailableError, ValueError) as exc:
        flash(f"Version {version_id} cannot be activated: {exc}", "error")
        return redirect(url_for("console.recs.versions"))
    db.session.commit()
    if changed:
        flash(f"Version {version_id} is now live.", "success")
    else:
        flash(f"Version {version_id} is already live: nothing changed.", "info")
    return redirect(url_for("console.recs.versions"))


@bp.route("/versions/rollback", methods=["POST"])
def rollback() -> Response | tuple[str, int]:
    """Go back to the previously active version, once confirmed."""
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    if form.edit.data:
        return redirect(url_for("console.recs.versions"))
    store, shown = service().store, (form.shown.data or "")[:64]
    try:
        if not form.confirm.data:
            return _confirm_version(form, rollback_review(db.session, store, shown))
        version = model_versions.rollback(db.session, _actor(), store, shown=shown)
    except model_versions.NothingToRollBack as exc:
        flash(f"Nothing to roll back to: {exc}", "error")
        return redirect(url_for("console.recs.versions"))
    except model_versions.RolledBackSince as exc:
        flash(f"Not rolled back: {exc}", "error")
        return redirect(url_for("console.recs.versions"))
    except (ModelUnavailableError, ValueError) as exc:
        flash(f"Cannot roll back: {exc}", "error")
        return redirect(url_for("console.recs.versions"))
    db.session.commit()
    flash(f"Rolled back: version {version} is live again.", "success")
    return redirect(url_for("console.recs.versions"))


def _confirm_version(form: VersionForm, review: ActionReview) -> tuple[str, int]:
    return render_template(
        "console/confirm.html",
        review=review,
        form=form,
        action=request.path,
        back_url=url_for("console.recs.versions"),
        back_text="Back to the model versions",
    ), 200
