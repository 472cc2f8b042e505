"""Offline recommendation quality: each model version's evaluation report, side by side.

A version trained from the console carries `metadata["evaluation"]`, the
`recommender.EvaluationReport.to_dict()` of a time split: per view ("new", "all") and model
("model", "popularity", "item_knn", "buy_again_only") the users evaluated and precision,
recall, nDCG, MAP, hit rate at k and catalogue coverage. This module reads those reports,
shapes them for the console, and compares two versions. No Flask, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

METRICS: tuple[tuple[str, str], ...] = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("ndcg", "nDCG"),
    ("map", "MAP"),
    ("hit_rate", "Hit rate"),
    ("coverage", "Coverage"),
)
METRIC_NAMES = tuple(name for name, _label in METRICS)
VIEWS: dict[str, str] = {
    "new": "New items only (nothing the shopper bought before)",
    "all": "All purchases (re-purchases count)",
}
MODEL_LABELS: dict[str, str] = {
    "model": "This version",
    "popularity": "Popularity baseline",
    "item_knn": "Item k-NN baseline",
    "buy_again_only": "Buy again only",
}
MODEL_ORDER = tuple(MODEL_LABELS)


class SavedVersion(Protocol):
    """What this module reads of a `recommender.ModelVersion` (shop/recommendations.py stays
    the only module that talks to the library; this one only reads what it returns)."""

    id: str
    created_at: str
    metadata: dict[str, Any]
    active: bool


class VersionStore(Protocol):
    """What this module needs of a `recommender.ModelStore`."""

    def versions(self) -> Sequence[SavedVersion]:
        """Every saved version, oldest first."""
        ...


class UnknownVersionError(LookupError):
    """No model version has that id."""


class EvaluationFormatError(ValueError):
    """A version's saved evaluation is not an EvaluationReport.to_dict()."""


@dataclass(frozen=True)
class ResultRow:
    """One model's metrics in one view."""

    view: str
    model: str
    users: int
    metrics: dict[str, float]

    @property
    def label(self) -> str:
        """The model's name for people."""
        return MODEL_LABELS.get(self.model, self.model)


@dataclass(frozen=True)
class Evaluation:
    """A version's evaluation report, checked and shaped."""

    k: int
    split: str
    model_name: str
    counts: dict[str, int]
    rows: list[ResultRow]
    lift: dict[str, float]
    notes: list[str] = field(default_factory=list)
    # Per view, the 95% bootstrap interval of the precision lift (high is None: unbounded).
    intervals: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    @property
    def views(self) -> list[str]:
        """The views evaluated, "new" before "all"."""
        present = {row.view for row in self.rows}
        return [v for v in VIEWS if v in present] + sorted(present - VIEWS.keys())

    def rows_of(self, view: str) -> list[ResultRow]:
        """The rows of one view, the version first, then the baselines."""
        return [row for row in self.rows if row.view == view]

    def row(self, view: str, model: str) -> ResultRow | None:
        """One row, or None."""
        return next((r for r in self.rows if r.view == view and r.model == model), None)

    def versus_popularity(self, row: ResultRow, metric: str = "precision") -> float | None:
        """A row's metric over the popularity baseline's in the same view (None: no base)."""
        base = self.row(row.view, "popularity")
        if base is None or not base.metrics[metric]:
            return None
        return row.metrics[metric] / base.metrics[metric]

    def chart_data(self) -> dict[str, dict[str, Any]]:
        """One grouped bar chart per view: metrics on the axis, a bar per model."""
        return {
            view: {
                "type": "bar",
                "title": f"{VIEWS.get(view, view)}, k = {self.k}",
                "format": "decimal",
                "labels": [_metric_label(name, self.k) for name in METRIC_NAMES],
                "datasets": [
                    {"label": row.label, "data": [row.metrics[m] for m in METRIC_NAMES]}
                    for row in self.rows_of(view)
                ],
            }
            for view in self.views
        }


def _metric_label(name: str, k: int) -> str:
    label = dict(METRICS)[name]
    return label if name == "coverage" else f"{label}@{k}"


def metric_labels(k: int) -> list[tuple[str, str]]:
    """(metric name, column heading) pairs for a report at k."""
    return [(name, _metric_label(name, k)) for name in METRIC_NAMES]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvaluationFormatError(f"{what} is not a number")
    return float(value)


def read_evaluation(data: Any) -> Evaluation:
    """Check and shape an `EvaluationReport.to_dict()`; EvaluationFormatError when it is not."""
    if not isinstance(data, Mapping):
        raise EvaluationFormatError("the evaluation is not an object")
    results = data.get("results")
    if not isinstance(results, Sequence) or isinstance(results, str) or not results:
        raise EvaluationFormatError("the evaluation has no results")
    rows = []
    for n, item in enumerate(results):
        if not isinstance(item, Mapping):
            raise EvaluationFormatError(f"result {n + 1} is not an object")
        view, model = item.get("view"), item.get("model")
        if not isinstance(view, str) or not isinstance(model, str):
            raise EvaluationFormatError(f"result {n + 1} has no view or model")
        metrics = {m: _number(item.get(m), f"{m} of {view}/{model}") for m in METRIC_NAMES}
        users = int(_number(item.get("users", 0), f"users of {view}/{model}"))
        rows.append(ResultRow(view, model, users, metrics))
    rank = {name: n for n, name in enumerate(MODEL_ORDER)}
    rows.sort(key=lambda r: (r.view, rank.get(r.model, len(rank)), r.model))
    k = int(_number(data.get("k"), "k"))
    params = data.get("params") if isinstance(data.get("params"), Mapping) else {}
    counts = data.get("counts") if isinstance(data.get("counts"), Mapping) else {}
    lift_raw = data.get("lift_over_popularity")
    lift = {
        str(view): float(value)
        for view, value in (lift_raw.items() if isinstance(lift_raw, Mapping) else ())
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    notes = [str(note) for note in data.get("notes") or () if isinstance(note, str)]
    return Evaluation(
        k=k,
        split=str(data.get("split", "")),
        model_name=str(params.get("model", "model")),
        counts={str(key): int(v) for key, v in counts.items() if isinstance(v, int)},
        rows=rows,
        lift=lift,
        notes=notes,
        intervals=_intervals(data.get("lift_interval_95")),
    )


def _intervals(raw: Any) -> dict[str, tuple[float, float | None]]:
    """Read `lift_interval_95`; an interval that is not [number, number or null] is left out."""
    found: dict[str, tuple[float, float | None]] = {}
    for view, span in raw.items() if isinstance(raw, Mapping) else ():
        if not isinstance(span, Sequence) or isinstance(span, str) or len(span) != 2:
            continue
        low, high = span
        try:
            found[str(view)] = (
                _number(low, "low"),
                None if high is None else _number(high, "high"),
            )
        except EvaluationFormatError:
            continue
    return found


@dataclass(frozen=True)
class VersionSummary:
    """A model version and its evaluation (None: not evaluated, or unreadable: `problem`)."""

    id: str
    created_at: str
    active: bool
    evaluation: Evaluation | None
    problem: str | None = None

    @property
    def evaluated(self) -> bool:
        """True when the version has a readable evaluation."""
        return self.evaluation is not None

    def headline(self, view: str = "new", metric: str = "precision") -> float | None:
        """The version's own metric in a view, for the versions table."""
        row = self.evaluation.row(view, "model") if self.evaluation else None
        return row.metrics[metric] if row else None


def summarise(version: SavedVersion) -> VersionSummary:
    """A version's summary from its metadata."""
    raw = version.metadata.get("evaluation")
    created = version.created_at or str(version.metadata.get("created_at", ""))
    if raw is None:
        return VersionSummary(version.id, created, version.active, None)
    try:
        evaluation = read_evaluation(raw)
    except EvaluationFormatError as exc:
        return VersionSummary(version.id, created, version.active, None, str(exc))
    return VersionSummary(version.id, created, version.active, evaluation)


def version_summaries(store: VersionStore) -> list[VersionSummary]:
    """Every saved version, newest first, with its evaluation when it has one."""
    return [summarise(v) for v in reversed(store.versions())]


def find_version(summaries: Sequence[VersionSummary], version_id: str) -> VersionSummary:
    """The summary with that id; UnknownVersionError when there is none."""
    for summary in summaries:
        if summary.id == version_id:
            return summary
    raise UnknownVersionError(f"There is no model version {version_id[:80]!r}.")


@dataclass(frozen=True)
class Delta:
    """One metric of one model in one view, in version A and version B."""

    view: str
    model: str
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        """B minus A."""
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        """(B - A) / A, or None when A is 0 or missing."""
        delta = self.delta
        return None if delta is None or not self.a else delta / self.a

    @property
    def label(self) -> str:
        """The model's name for people."""
        return MODEL_LABELS.get(self.model, self.model)


@dataclass(frozen=True)
class Comparison:
    """Version B against version A, metric by metric."""

    a: VersionSummary
    b: VersionSummary
    deltas: list[Delta]
    notes: list[str]

    @property
    def k(self) -> int:
        """The k of version A's report (the notes say when B's differs)."""
        return self.a.evaluation.k if self.a.evaluation else 0

    def chart_data(self) -> dict[str, Any]:
        """The two versions' own rows ("model") as bars, per view and metric."""
        own = [d for d in self.deltas if d.model == "model"]
        return {
            "type": "bar",
            "title": "This version's metrics: A against B",
            "format": "decimal",
            "labels": [f"{_metric_label(d.metric, self.k)} ({d.view})" for d in own],
            "datasets": [
                {"label": f"A: {self.a.id}", "data": [d.a for d in own]},
                {"label": f"B: {self.b.id}", "data": [d.b for d in own]},
            ],
        }


def compare(a: VersionSummary, b: VersionSummary) -> Comparison:
    """Metric deltas (B - A) for every view and model both reports have."""
    notes = [
        f"Version {s.id} is not evaluated, so there is nothing to compare."
        for s in (a, b)
        if s.evaluation is None
    ]
    if a.evaluation is None or b.evaluation is None:
        return Comparison(a, b, [], notes)
    ea, eb = a.evaluation, b.evaluation
    if ea.k != eb.k:
        notes.append(f"The reports use different k ({ea.k} and {eb.k}): compare with care.")
    if ea.split != eb.split:
        notes.append(
            "The reports were measured on different splits, so the differences mix the "
            f"models with the data ({ea.split or '?'} against {eb.split or '?'})."
        )
    deltas = []
    keys = list(dict.fromkeys([(r.view, r.model) for r in ea.rows + eb.rows]))
    for view, model in keys:
        ra, rb = ea.row(view, model), eb.row(view, model)
        for metric in METRIC_NAMES:
            deltas.append(
                Delta(
                    view,
                    model,
                    metric,
                    ra.metrics[metric] if ra else None,
                    rb.metrics[metric] if rb else None,
                )
            )
    return Comparison(a, b, deltas, notes)


@dataclass(frozen=True)
class OfflinePage:
    """Everything the offline-quality page shows."""

    versions: list[VersionSummary]
    selected: VersionSummary | None
    comparison: Comparison | None


def offline_page(
    store: VersionStore,
    selected_id: str | None = None,
    compare_ids: tuple[str, str] | None = None,
) -> OfflinePage:
    """The versions, the one to show in detail (by default the active or newest evaluated
    one) and, when two ids are given, their comparison. UnknownVersionError for a bad id."""
    versions = version_summaries(store)
    if selected_id:
        selected: VersionSummary | None = find_version(versions, selected_id)
    else:
        evaluated = [v for v in versions if v.evaluated]
        active = [v for v in evaluated if v.active]
        selected = (active or evaluated or [None])[0]
    comparison = None
    if compare_ids is not None:
        a, b = (find_version(versions, version_id) for version_id in compare_ids)
        comparison = compare(a, b)
    return OfflinePage(versions, selected, comparison)
