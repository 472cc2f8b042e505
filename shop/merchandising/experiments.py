"""A/B tests of recommendations: create, assign visitors, stop, and roll out the winner.

An experiment covers one or more placements and splits their visitors between two or more
variants by whole-percent weights (see `assignment`): a signed-in shopper by their account,
an anonymous one by their browser's visitor id. A variant serves either a model
version from the model store, a published merchandising revision (rules), or popularity
only. Serving asks `assignment_for` on every list and writes the variant into the
impression as "<experiment key>:<variant key>", which is what the results count. Visitors
who switched personalization off are left out of every experiment (see
`live.experiment_assigner`): they get the default lists and are in no arm's counts.

A placement is in at most one running experiment at a time. Every change is audited in the
caller's transaction.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, scoped_session

from shop.console import audit
from shop.db import utcnow
from shop.merchandising import assignment, revisions
from shop.merchandising.config import SAFETY_RULE_TYPES, Rule
from shop.merchandising.models import Experiment, MerchRevision
from shop.merchandising.rebase import with_free_ids
from shop.recommendation_types import PLACEMENTS
from shop.recommendations import ModelStore, ModelUnavailableError

Kind = Literal["model", "rules", "popularity"]
KINDS: tuple[Kind, ...] = ("model", "rules", "popularity")
KIND_LABELS = {
    "model": "Model version",
    "rules": "Rules (published revision)",
    "popularity": "Popularity only",
}
# Impression.variant is 40 characters: "<experiment key>:<variant key>".
EXPERIMENT_KEY_MAX = 24
VARIANT_KEY_MAX = 15
VARIANT_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# How long a process serves from its list of running experiments before re-reading it.
RUNNING_CACHE_S = 5.0


class ExperimentError(ValueError):
    """An experiment change that is not allowed; the message is safe to show."""


class AlreadyRunning(ExperimentError):
    """An experiment exactly like the one asked for (name, placements, variants) is running
    already: the same form sent twice, say. Nothing was started; `experiment` is that one."""

    def __init__(self, experiment: Experiment) -> None:
        super().__init__(
            f"Experiment {experiment.name!r} is already running with these settings; "
            "nothing more was started."
        )
        self.experiment = experiment


@dataclass(frozen=True)
class VariantSpec:
    """One arm of an experiment as the merchandiser describes it."""

    key: str
    label: str
    kind: str
    weight: int
    model_version: str | None = None
    revision_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """How the variant is stored in Experiment.variants."""
        return asdict(self)


@dataclass(frozen=True)
class Assignment:
    """The variant a visitor gets on a placement; `label` goes into Impression.variant."""

    experiment_key: str
    variant_key: str
    kind: str
    model_version: str | None
    revision_id: int | None

    @property
    def label(self) -> str:
        """The impression's variant column: "<experiment key>:<variant key>"."""
        return variant_label(self.experiment_key, self.variant_key)


def variant_label(experiment_key: str, variant_key: str) -> str:
    """The value serving writes into Impression.variant for this variant."""
    return f"{experiment_key}:{variant_key}"


def identical_arms(variants: Sequence[Mapping[str, Any]]) -> str | None:
    """A note naming variants that serve exactly the same lists (an A/A test), else None."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for v in variants:
        groups.setdefault((v["kind"], v.get("model_version"), v.get("revision_id")), []).append(
            v["key"]
        )
    same = [keys for keys in groups.values() if len(keys) > 1]
    if not same:
        return None
    named = "; ".join(", ".join(repr(k) for k in keys[:-1]) + f" and {keys[-1]!r}" for keys in same)
    return (
        f"Variants {named} serve the same lists (an A/A test): any difference between "
        "them is chance."
    )


# --- reading ----------------------------------------------------------------------------


def get_experiment(session: Session, experiment_id: int) -> Experiment | None:
    """The experiment with this id, or None."""
    return session.get(Experiment, experiment_id)


def list_experiments(session: Session) -> list[Experiment]:
    """Every experiment: running ones first, then newest first."""
    found = session.scalars(select(Experiment).order_by(Experiment.id.desc())).all()
    return sorted(found, key=lambda e: e.status != "running")


def published_revisions(session: Session) -> list[tuple[int, str]]:
    """Published merchandising revisions as (id, note), newest first."""
    rows = session.execute(
        select(MerchRevision.id, MerchRevision.note)
        .where(MerchRevision.state == "published")
        .order_by(MerchRevision.id.desc())
        .limit(100)
    )
    return [(rev_id, note or "") for rev_id, note in rows]


@dataclass(frozen=True)
class RulesArm:
    """An arm of a running experiment that serves a published revision's settings and rules
    (plus the live never-recommend and exclude rules) instead of the live ones."""

    experiment_id: int
    experiment_name: str
    variant_key: str
    variant_label: str
    weight: int
    revision_id: int
    placements: tuple[str, ...]


def running_rules_arms(session: Session) -> list[RulesArm]:
    """The rules arms of running experiments, oldest experiment first (read now, not from
    serving's cache), for the console's notices on its rules and publish pages."""
    running = session.scalars(
        select(Experiment).where(Experiment.status == "running").order_by(Experiment.id)
    )
    return [
        RulesArm(
            experiment.id,
            experiment.name,
            variant["key"],
            variant.get("label") or variant["key"],
            int(variant["weight"]),
            int(variant["revision_id"]),
            tuple(experiment.placements),
        )
        for experiment in running
        for variant in experiment.variants
        if variant["kind"] == "rules" and variant.get("revision_id") is not None
    ]


def model_versions(store: ModelStore) -> list[tuple[str, str]]:
    """Saved model versions as (id, label), newest first; the label marks the active one."""
    return [(v.id, f"{v.id} (active)" if v.active else v.id) for v in reversed(store.versions())]


# --- creating ---------------------------------------------------------------------------


def create_experiment(
    session: Session,
    actor: audit.Actor,
    name: str,
    placements: Sequence[str],
    variants: Sequence[VariantSpec],
    *,
    store: ModelStore,
) -> Experiment:
    """Start an experiment after checking its placements and variants; audited.

    AlreadyRunning when exactly this experiment is running already."""
    name = name.strip()
    if not name:
        raise ExperimentError("Give the experiment a name.")
    if len(name) > 120:
        raise ExperimentError("The name can be at most 120 characters.")
    chosen = _check_placements(placements)
    checked = _check_variants(session, variants, store)
    _lock_experiments(session)
    variants_json = [v.as_json() for v in checked]
    for running in session.scalars(select(Experiment).where(Experiment.status == "running")):
        same_placements = set(running.placements) == set(chosen)
        if running.name == name and same_placements and running.variants == variants_json:
            raise AlreadyRunning(running)
    busy = _busy_placements(session)
    taken = [p for p in chosen if p in busy]
    if taken:
        details = ", ".join(f"{p} (in {busy[p]!r})" for p in taken)
        raise ExperimentError(f"These placements are already in a running experiment: {details}.")
    experiment = Experiment(
        key=_unique_key(session, name),
        name=name,
        status="running",
        placements=chosen,
        variants=variants_json,
        started_at=utcnow(),
        created_by=actor.id,
    )
    session.add(experiment)
    session.flush()
    audit.record(
        session,
        actor,
        "experiment.create",
        _target(experiment),
        None,
        {"name": name, "placements": chosen, "variants": experiment.variants},
    )
    _changed(session)
    return experiment


def _check_placements(placements: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(placements))
    if not chosen:
        raise ExperimentError("Choose at least one placement.")
    unknown = [p for p in chosen if p not in PLACEMENTS]
    if unknown:
        raise ExperimentError(f"Unknown placement: {', '.join(unknown)}.")
    return chosen


def _check_variants(
    session: Session, variants: Sequence[VariantSpec], store: ModelStore
) -> list[VariantSpec]:
    if len(variants) < 2:
        raise ExperimentError("An experiment needs at least two variants.")
    keys = [v.key.strip() for v in variants]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ExperimentError(f"Variant keys must differ; repeated: {', '.join(duplicates)}.")
    try:
        assignment.check_weights([v.weight for v in variants])
    except assignment.WeightError as exc:
        raise ExperimentError(str(exc)) from exc
    idle = [v.key.strip() for v in variants if v.weight == 0]
    if idle:
        raise ExperimentError(
            f"Variant {idle[0]!r} would get no traffic; give every variant at least 1%."
        )
    versions: set[str] | None = None
    checked = []
    for variant, key in zip(variants, keys, strict=True):
        if not VARIANT_KEY_RE.match(key) or len(key) > VARIANT_KEY_MAX:
            raise ExperimentError(
                f"Variant key {key!r}: use 1 to {VARIANT_KEY_MAX} lower-case letters, digits, "
                "'-' or '_', starting with a letter or digit."
            )
        label = variant.label.strip() or key
        if len(label) > 80:
            raise ExperimentError(f"Variant {key!r}: the label can be at most 80 characters.")
        model_version, revision_id = None, None
        if variant.kind == "model":
            if versions is None:
                versions = {v.id for v in store.versions()}
            if not variant.model_version:
                raise ExperimentError(f"Variant {key!r}: choose a model version.")
            if variant.model_version not in versions:
                raise ExperimentError(
                    f"Variant {key!r}: unknown model version {variant.model_version!r}."
                )
            model_version = variant.model_version
        elif variant.kind == "rules":
            if variant.revision_id is None:
                raise ExperimentError(f"Variant {key!r}: choose a published revision.")
            revision = session.get(MerchRevision, variant.revision_id)
            if revision is None or revision.state != "published":
                raise ExperimentError(
                    f"Variant {key!r}: unknown published revision {variant.revision_id!r}."
                )
            revision_id = revision.id
        elif variant.kind != "popularity":
            raise ExperimentError(
                f"Variant {key!r}: the kind must be one of {', '.join(KINDS)}, "
                f"not {variant.kind!r}."
            )
        checked.append(
            VariantSpec(key, label, variant.kind, variant.weight, model_version, revision_id)
        )
    return checked


def _lock_experiments(session: Session) -> None:
    """Serialise experiment changes so two creates cannot both take a placement.

    SQLite write transactions already hold the database's write lock (BEGIN IMMEDIATE).
    On PostgreSQL this mode conflicts with itself and with writes, not with plain reads, so
    serving is not blocked.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE experiments IN SHARE ROW EXCLUSIVE MODE"))


def _busy_placements(session: Session) -> dict[str, str]:
    busy: dict[str, str] = {}
    for experiment in session.scalars(select(Experiment).where(Experiment.status == "running")):
        for placement in experiment.placements:
            busy[placement] = experiment.name
    return busy


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:EXPERIMENT_KEY_MAX].strip("-") or "experiment"


def _unique_key(session: Session, name: str) -> str:
    base = _slug(name)
    taken = set(session.scalars(select(Experiment.key).where(Experiment.key.startswith(base))))
    key, number = base, 1
    while key in taken:
        number += 1
        suffix = f"-{number}"
        key = base[: EXPERIMENT_KEY_MAX - len(suffix)].rstrip("-") + suffix
    return key


def _target(experiment: Experiment) -> str:
    return f"experiment {experiment.id} {experiment.key}"


# --- serving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Running:
    key: str
    placements: frozenset[str]
    variants: tuple[dict[str, Any], ...]


class _RunningCache:
    """Running experiments per database engine, re-read at most every RUNNING_CACHE_S."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[Any, tuple[float, tuple[_Running, ...]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, session: Session) -> tuple[_Running, ...]:
        engine = session.get_bind()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(engine)
            if hit is not None and now - hit[0] < RUNNING_CACHE_S:
                return hit[1]
        rows = session.scalars(select(Experiment).where(Experiment.status == "running")).all()
        running = tuple(
            _Running(e.key, frozenset(e.placements), tuple(dict(v) for v in e.variants))
            for e in rows
        )
        with self._lock:
            self._entries[engine] = (now, running)
        return running

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_running = _RunningCache()


def clear_cache() -> None:
    """Forget this process's list of running experiments (done on every change here)."""
    _running.clear()


def _changed(session: Session) -> None:
    """Drop the cache now and again when the change commits (a read in between re-caches)."""
    clear_cache()
    target = session() if isinstance(session, scoped_session) else session
    event.listen(target, "after_commit", lambda _session: clear_cache(), once=True)


def assignment_for(session: Session, unit: str, placement: str) -> Assignment | None:
    """The variant this unit gets on this placement, or None when no experiment covers it.

    `unit` is the shopper's `assignment.assignment_unit`.

    The running experiments are cached per process (and database) for RUNNING_CACHE_S
    seconds: a change committed by this process applies at once, one made by another worker
    or node within that time. Until then a stopped experiment's variants may still be
    served (and logged under their own labels) and a new one not yet.
    """
    for experiment in _running.get(session):
        if placement not in experiment.placements:
            continue
        variants = experiment.variants
        index = assignment.variant_index(experiment.key, unit, [int(v["weight"]) for v in variants])
        chosen = variants[index]
        return Assignment(
            experiment.key,
            chosen["key"],
            chosen["kind"],
            chosen.get("model_version"),
            chosen.get("revision_id"),
        )
    return None


# --- stopping and rolling out -----------------------------------------------------------


def stop_experiment(session: Session, actor: audit.Actor, experiment_id: int) -> Experiment:
    """Stop a running experiment (its variants are no longer served); audited."""
    experiment = _experiment(session, experiment_id)
    if experiment.status != "running":
        raise ExperimentError("This experiment has already been stopped.")
    _stop(session, actor, experiment)
    return experiment


def _stop(session: Session, actor: audit.Actor, experiment: Experiment) -> None:
    experiment.status = "stopped"
    experiment.stopped_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "experiment.stop",
        _target(experiment),
        {"status": "running"},
        {"status": "stopped", "stopped_at": experiment.stopped_at.isoformat()},
    )
    _changed(session)


def roll_out(
    session: Session,
    actor: audit.Actor,
    experiment_id: int,
    variant_key: str,
    *,
    store: ModelStore,
) -> Experiment:
    """Make a variant what every visitor gets, stopping the experiment first; audited.

    A model variant's version is activated in the model store; a rules variant's revision
    is published again as the live settings, keeping the live never-recommend and exclude
    rules it lacks (the arm served those as well); a popularity variant sets the strategy of
    the covered placements to "popular" in a newly published revision. The model store is
    a file, not part of the transaction, so it is changed last: a failure there rolls the
    database changes back.
    """
    experiment = _experiment(session, experiment_id)
    variant = variant_to_roll_out(experiment, variant_key)
    if experiment.status == "running":
        _stop(session, actor, experiment)
    experiment.winner = variant_key
    before: dict[str, Any] = {"winner": None}
    after: dict[str, Any] = {"winner": variant_key, "kind": variant["kind"]}
    activate: Callable[[], None] | None = None
    change = rollout_change(session, experiment, variant)
    if change is None:
        version = variant["model_version"]
        try:
            store.verify(version)
        except ModelUnavailableError as exc:
            raise ExperimentError(f"Model version {version!r} cannot be activated: {exc}") from exc
        try:
            before["active_model"] = store.active()
        except ModelUnavailableError:
            before["active_model"] = None  # an unreadable pointer: nothing was active
        after["active_model"] = version

        def activate() -> None:
            try:
                store.activate(version)
            except ModelUnavailableError as exc:
                raise ExperimentError(
                    f"Model version {version!r} cannot be activated: {exc}"
                ) from exc

    else:
        if variant["kind"] == "rules":
            after["revision_id"] = int(variant["revision_id"])
        else:
            after["placements_popular"] = list(experiment.placements)
        _publish(session, actor, experiment, variant, change)
    session.flush()
    audit.record(session, actor, "experiment.rollout", _target(experiment), before, after)
    if activate is not None:
        activate()
    return experiment


def variant_to_roll_out(experiment: Experiment, variant_key: str) -> dict[str, Any]:
    """The experiment's variant `variant_key`; ExperimentError when there is none or a
    variant was rolled out already."""
    if experiment.winner is not None:
        raise ExperimentError(f"Variant {experiment.winner!r} has already been rolled out.")
    variant = next((v for v in experiment.variants if v["key"] == variant_key), None)
    if variant is None:
        raise ExperimentError(f"This experiment has no variant {variant_key!r}.")
    return variant


def rollout_change(
    session: Session, experiment: Experiment, variant: Mapping[str, Any]
) -> Callable[[dict[str, Any]], None] | None:
    """How rolling out a rules or popularity variant changes the live settings document
    (None for a model variant, which changes the active model instead)."""
    if variant["kind"] == "model":
        return None
    if variant["kind"] == "rules":
        return _replace_with_revision(session, int(variant["revision_id"]))
    return _popular_on(experiment.placements)


def _replace_with_revision(session: Session, revision_id: int) -> Callable[[dict[str, Any]], None]:
    """Replace a document with the revision's, keeping the document's never-recommend and
    exclude rules: the arm served them too, and a ban must survive the roll-out."""
    try:
        data = revisions.revision_data(session, revision_id)
    except revisions.RevisionError as exc:
        raise ExperimentError(str(exc)) from exc

    def change(document: dict[str, Any]) -> None:
        kept = _safety_rules_missing(document.get("rules") or [], data.get("rules") or [])
        document.clear()
        document.update(copy.deepcopy(data))
        if kept:
            document["rules"] = [*document.get("rules", []), *kept]

    return change


def _safety_rules_missing(
    current: list[dict[str, Any]], target: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The never-recommend and exclude rules of `current` that `target` lacks, renumbered
    where their id is taken in `target` (ids are unique within a document)."""
    same = {replace(Rule.from_dict(r), id="") for r in target}
    missing = []
    for raw in current:
        rule = replace(Rule.from_dict(raw), id="")
        if rule.type in SAFETY_RULE_TYPES and rule not in same:
            same.add(rule)
            missing.append(raw)
    return with_free_ids(missing, {str(r["id"]) for r in target})


def _popular_on(placements: Iterable[str]) -> Callable[[dict[str, Any]], None]:
    names = list(placements)

    def change(live: dict[str, Any]) -> None:
        for name in names:
            live.setdefault("placements", {}).setdefault(name, {})["strategy"] = "popular"

    return change


def _publish(
    session: Session,
    actor: audit.Actor,
    experiment: Experiment,
    variant: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
) -> None:
    note = f"A/B test {experiment.key}: roll out {variant['key']} ({variant['label']})"[:200]
    revisions.publish_change(session, actor, note, change)


def _experiment(session: Session, experiment_id: int) -> Experiment:
    """The experiment, locked for this transaction on PostgreSQL (a stop and a roll-out
    at the same moment then run one after the other; SQLite writers are serialised anyway)."""
    experiment = session.get(
        Experiment, experiment_id, with_for_update=True, populate_existing=True
    )
    if experiment is None:
        raise ExperimentNotFoundError(f"There is no experiment {experiment_id}.")
    return experiment


class ExperimentNotFoundError(ExperimentError):
    """No experiment with that id."""
