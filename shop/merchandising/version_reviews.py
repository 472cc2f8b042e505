"""What activating a model version, or rolling back to the previous one, will change: the
page the merchandiser confirms before every shopper's lists change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.analytics.offline import VersionSummary, summarise
from shop.console.reviews import ActionReview
from shop.merchandising.model_versions import NothingToRollBack, active_version, check_shown
from shop.merchandising.models import Experiment
from shop.recommendations import ModelStore, VersionNotFoundError

SOURCES = {
    "console": "retrained from the console",
    "command": "trained with the train command",
    "shop": "trained by the shop",
}
EVERYWHERE = (
    "Every placement, the e-mails' suggestions and the console's preview use it at once; "
    "running apps pick it up without a restart."
)


def describe_version(summary: VersionSummary, metadata: dict[str, object]) -> str:
    """A version in words: its id, when and from where it was trained, and its offline
    precision@10 against popularity."""
    when = str(metadata.get("trained_at") or summary.created_at)[:16].replace("T", " ")
    how = SOURCES.get(str(metadata.get("source")), "trained")
    text = f"version {summary.id}, {how} {when} UTC" if when else f"version {summary.id}"
    if summary.problem:
        return f"{text}; its evaluation cannot be read"
    evaluation = summary.evaluation
    if evaluation is None:
        return f"{text}; not evaluated"
    figures = []
    for view, name in (("new", "new items"), ("all", "all items")):
        row = evaluation.row(view, "model")
        if row is None:
            continue
        lift = evaluation.versus_popularity(row)
        times = f" ({lift:.2f}\N{MULTIPLICATION SIGN} popularity)" if lift is not None else ""
        figures.append(f"{name} {row.metrics['precision']:.4f}{times}")
    return (f"{text}; precision@{evaluation.k} " + ", ".join(figures)) if figures else text


def _descriptions(store: ModelStore) -> dict[str, str]:
    """`describe_version` of every stored version, by id (the store read once)."""
    return {v.id: describe_version(summarise(v), v.metadata) for v in store.versions()}


def _replaced(described: dict[str, str], live: str | None) -> str:
    if live is None:
        return "No version is live now: the shop serves best sellers until one is."
    return f"It replaces {described.get(live) or f'version {live}, whose files are missing'}."


def _model_arms_note(session: Session) -> list[str]:
    running = session.scalars(select(Experiment).where(Experiment.status == "running"))
    arms = sum(
        1
        for experiment in running
        for variant in experiment.variants
        if variant["kind"] == "model" and variant.get("model_version")
    )
    if not arms:
        return []
    return [f"{arms} arm(s) of running A/B tests keep serving their own model version."]


def activate_review(session: Session, store: ModelStore, version_id: str) -> ActionReview:
    """What activating `version_id` changes; VersionNotFoundError when there is none."""
    described = _descriptions(store)
    coming = described.get(version_id)
    if coming is None:
        raise VersionNotFoundError(f"no version {version_id}")
    live = active_version(store)
    if live == version_id:
        lines = [f"This is the live version already: {coming}. Nothing changes."]
    else:
        lines = [f"Goes live: {coming}.", _replaced(described, live)]
        lines += [EVERYWHERE, *_model_arms_note(session)]
    undo = "Nothing has happened yet. Afterwards, " + (
        f'"Roll back to the previous version" on the versions page makes version {live} live again.'
        if live and live != version_id
        else "another version can be activated from the versions page."
    )
    return ActionReview(f"Activate model version {version_id}?", lines, "Activate", "Not now", undo)


def rollback_review(session: Session, store: ModelStore, shown: str) -> ActionReview:
    """What rolling back changes; RolledBackSince when the live version is not the one the
    page showed, NothingToRollBack when there is no earlier usable version."""
    live = active_version(store)
    check_shown(live, shown)
    previous = store.previous()
    described = _descriptions(store)
    coming = described.get(previous) if previous is not None else None
    if previous is None or coming is None:
        raise NothingToRollBack("there is no earlier version still stored.")
    lines = [f"Goes live again: {coming}.", _replaced(described, live)]
    lines += [EVERYWHERE, *_model_arms_note(session)]
    undo = "Nothing has happened yet." + (
        f" Afterwards, version {live} can be activated again from the versions page."
        if live
        else ""
    )
    return ActionReview(f"Roll back to version {previous}?", lines, "Roll back", "Not now", undo)
