"""Console: A/B tests (list, create, results, stop, roll out the winner)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug import Response

from shop.console import audit
from shop.db import db
from shop.merchandising import experiments
from shop.merchandising.experiment_forms import ExperimentForm, RolloutForm, StopForm
from shop.merchandising.experiment_results import experiment_results
from shop.merchandising.experiments import ExperimentError, ExperimentNotFoundError
from shop.merchandising.models import Experiment
from shop.merchandising.rollout_review import rollout_review
from shop.personalization import service
from shop.recommendation_types import PLACEMENTS

bp = Blueprint("experiments", __name__, url_prefix="/experiments")


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


@bp.route("/")
def index() -> str:
    """Running and stopped experiments."""
    found = experiments.list_experiments(db.session)
    return render_template("console/experiments/index.html", experiments=found)


@bp.route("/new", methods=["GET", "POST"])
def create() -> Response | tuple[str, int]:
    """The form to start an experiment."""
    store = service().store
    form = ExperimentForm()
    form.set_options(
        ((name, f"{p.title} ({name})") for name, p in PLACEMENTS.items()),
        experiments.model_versions(store),
        experiments.published_revisions(db.session),
    )
    if form.validate_on_submit():
        try:
            experiment = experiments.create_experiment(
                db.session,
                _actor(),
                form.name.data,
                form.placements.data or [],
                form.variant_specs(),
                store=store,
            )
        except experiments.AlreadyRunning as exc:  # e.g. the form sent twice
            running_id = exc.experiment.id
            db.session.rollback()
            flash(str(exc), "info")
            return redirect(url_for("console.experiments.results", experiment_id=running_id))
        except ExperimentError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Experiment {experiment.name!r} is running.", "success")
            same = experiments.identical_arms(experiment.variants)
            if same:
                flash(same, "info")
            return redirect(url_for("console.experiments.results", experiment_id=experiment.id))
    status = 400 if form.is_submitted() else 200
    return render_template("console/experiments/new.html", form=form), status


def _experiment(experiment_id: int) -> Experiment:
    experiment = experiments.get_experiment(db.session, experiment_id)
    if experiment is None:
        abort(404)
    return experiment


def _results_page(
    experiment: Experiment,
    status: int = 200,
    rollout_form: RolloutForm | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    rollout_form = rollout_form or RolloutForm()
    rollout_form.set_variants(experiment.variants)
    context: dict[str, Any] = {
        "experiment": experiment,
        "results": experiment_results(db.session, experiment),
        "rollout_form": rollout_form,
        "placements": PLACEMENTS,
        "error": error,
        "identical_arms": experiments.identical_arms(experiment.variants),
    }
    return render_template("console/experiments/results.html", **context), status


@bp.route("/<int:experiment_id>")
def results(experiment_id: int) -> tuple[str, int]:
    """Per-variant results with confidence intervals and significance against the control."""
    return _results_page(_experiment(experiment_id))


@bp.route("/<int:experiment_id>/stop", methods=["POST"])
def stop(experiment_id: int) -> Response | tuple[str, int]:
    """Stop serving the experiment's variants."""
    experiment = _experiment(experiment_id)
    form = StopForm()
    if not form.validate_on_submit():
        return _error(experiment, "The form has expired; reload the page and try again.")
    try:
        experiments.stop_experiment(db.session, _actor(), experiment_id)
    except ExperimentNotFoundError:
        abort(404)
    except ExperimentError as exc:
        return _error(experiment, str(exc))
    db.session.commit()
    flash(f"Experiment {experiment.name!r} is stopped.", "success")
    return redirect(url_for("console.experiments.results", experiment_id=experiment_id))


@bp.route("/<int:experiment_id>/rollout", methods=["POST"])
def rollout(experiment_id: int) -> Response | tuple[str, int]:
    """Roll a variant out to everyone (stopping the experiment if it still runs), once
    confirmed."""
    experiment = _experiment(experiment_id)
    form = RolloutForm()
    form.set_variants(experiment.variants)
    if not form.validate_on_submit():
        return _results_page(experiment, 400, form)
    results_url = url_for("console.experiments.results", experiment_id=experiment_id)
    if form.edit.data:
        return redirect(results_url)
    try:
        if not form.confirm.data:
            review = rollout_review(
                db.session, service().config_from, service().store, experiment_id, form.variant.data
            )
            return render_template(
                "console/confirm.html",
                review=review,
                form=form,
                action=url_for("console.experiments.rollout", experiment_id=experiment_id),
                back_url=results_url,
                back_text="Back to the experiment",
            ), 200
        experiments.roll_out(
            db.session, _actor(), experiment_id, form.variant.data, store=service().store
        )
    except ExperimentNotFoundError:
        abort(404)
    except ExperimentError as exc:
        return _error(experiment, str(exc), form)
    db.session.commit()
    flash(f"Variant {form.variant.data!r} is rolled out to every visitor.", "success")
    return redirect(url_for("console.experiments.results", experiment_id=experiment_id))


def _error(
    experiment: Experiment, message: str, form: RolloutForm | None = None
) -> tuple[str, int]:
    db.session.rollback()
    return _results_page(_experiment(experiment.id), 400, form, message)
