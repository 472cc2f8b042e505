"""What rolling out an A/B test's variant will change, shown before it is confirmed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shop.console.reviews import ActionReview
from shop.merchandising import revisions
from shop.merchandising.experiments import (
    ExperimentNotFoundError,
    rollout_change,
    variant_to_roll_out,
)
from shop.merchandising.models import Experiment
from shop.merchandising.revision_reviews import ConfigFrom, changes_from_live, live_name
from shop.recommendations import ModelStore, ModelUnavailableError

UNDO = (
    "Nothing has happened yet. A stopped experiment does not start again; earlier settings "
    "and model versions can be made live again from the settings and model pages."
)


def _active_model(store: ModelStore) -> str:
    try:
        return f"version {store.active()}"
    except ModelUnavailableError:
        return "no readable version"


def rollout_review(
    session: Session,
    config_from: ConfigFrom,
    store: ModelStore,
    experiment_id: int,
    variant_key: str,
) -> ActionReview:
    """What rolling out the variant does; ExperimentError when it cannot be rolled out."""
    experiment = session.get(Experiment, experiment_id)
    if experiment is None:
        raise ExperimentNotFoundError(f"There is no experiment {experiment_id}.")
    variant = variant_to_roll_out(experiment, variant_key)
    label = variant.get("label") or variant["key"]
    lines = []
    if experiment.status == "running":
        lines.append(f"The experiment {experiment.name} stops: no visitor is in an arm any more.")
    change = rollout_change(session, experiment, variant)
    if change is None:
        lines.append(
            f"Model version {variant['model_version']} serves every visitor, instead of "
            f"{_active_model(store)}."
        )
    else:
        after = revisions.live_data(session)  # a copy of its own, free to change
        change(after)
        lines.append(
            f"Every visitor gets these settings, published as a new revision instead of "
            f"{live_name(session)}:"
        )
        lines += changes_from_live(session, config_from, after)
        if revisions.draft_revision(session) is not None:
            lines.append("The draft keeps its own unpublished edits on top of these settings.")
    return ActionReview(f"Roll out {label}?", lines, "Roll out", "Not now", UNDO)
