"""Offline evaluation: the configured model next to popularity and item-kNN baselines.

Two views of the same split:

* "new": items the user had not bought before. Training purchases are excluded from every
  list and from the ground truth; users left with no new purchase are dropped.
* "all": every purchase counts, re-purchases included. Lists may contain items bought
  before; the model row blends in the "buy it again" signal (`BlendParams`), and a
  "buy again only" row shows that signal alone.

Ground truth: the distinct items a test user bought (purchase kinds) in the test part that
exist in the training catalogue (no model can recommend an unseen item).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from recommender.blending import BlendParams, blend, popularity_factor
from recommender.content import ContentIndex, ContentParams, ItemFeatures
from recommender.metrics import METRICS, MetricsAccumulator, RankingMetrics, ratio_interval
from recommender.models import ItemKNNModel, Model, Progress, create_model
from recommender.models.base import check_k, top_k_rows
from recommender.neighbours import NeighbourIndex, NeighbourParams
from recommender.params import TrainingParams
from recommender.repurchase import rebuy_matrix, repurchase_rates
from recommender.splits import Split
from recommender.training import (
    TrainingData,
    item_user_counts,
    neighbour_index,
    popularity_scores,
    prepare,
)

VIEWS = ("new", "all")
MODEL = "model"
POPULARITY = "popularity"
ITEM_KNN = "item_knn"
BUY_AGAIN = "buy_again_only"
BATCH_CELLS = 1 << 23  # scores computed per batch: users x items
CACHE_CELLS = 1 << 27  # scores kept by `Evaluator.cached`: 512 MiB of float32


@dataclass(frozen=True)
class MetricsRow:
    """The metrics of one model in one view."""

    view: str
    model: str
    metrics: RankingMetrics


@dataclass
class EvaluationReport:
    """Everything one evaluation found, as JSON-ready data and a readable table."""

    k: int
    split: str
    params: dict[str, Any]
    counts: dict[str, int]
    rows: list[MetricsRow] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Per view, the 95% paired bootstrap interval of the precision lift (`lift_interval`).
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def metric(self, view: str, model: str, name: str = "precision") -> float:
        """One figure, e.g. report.metric("new", "model", "precision")."""
        return float(getattr(self._row(view, model).metrics, name))

    def lift(self, view: str, name: str = "precision") -> float:
        """The model's metric over the popularity baseline's."""
        base = self.metric(view, POPULARITY, name)
        return self.metric(view, MODEL, name) / base if base else float("inf")

    def lift_interval(
        self, view: str, confidence: float = 0.95, resamples: int = 1000
    ) -> tuple[float, float]:
        """A paired bootstrap interval (over test users) of the precision lift in a view."""
        model = self._row(view, MODEL).metrics.per_user_precision
        base = self._row(view, POPULARITY).metrics.per_user_precision
        return ratio_interval(model, base, resamples=resamples, confidence=confidence)

    def _row(self, view: str, model: str) -> MetricsRow:
        for row in self.rows:
            if row.view == view and row.model == model:
                return row
        raise KeyError(f"no {model!r} row in view {view!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "k": self.k,
            "split": self.split,
            "params": self.params,
            "counts": self.counts,
            "seconds": round(self.seconds, 2),
            "notes": self.notes,
            "results": [
                {"view": r.view, "model": r.model, **r.metrics.as_dict()} for r in self.rows
            ],
            "lift_over_popularity": {
                view: round(self.lift(view), 3) for view in dict.fromkeys(r.view for r in self.rows)
            },
            "lift_interval_95": {  # JSON has no infinity: an unbounded side is null
                view: [round(b, 3) if math.isfinite(b) else None for b in span]
                for view, span in self.intervals.items()
            },
        }

    def to_table(self) -> str:
        """A markdown table: one line per view and model."""
        model_name = self.params.get("model", MODEL)
        header = "| view | model | users | " + " | ".join(f"{m}@{self.k}" for m in METRICS[:-1])
        lines = [
            f"Split: {self.split}; k = {self.k}",
            "",
            header + " | coverage | vs popularity |",
            "|---|---|---:|" + "---:|" * (len(METRICS) + 1),
        ]
        for row in self.rows:
            base = self.metric(row.view, POPULARITY)
            ratio = f"{row.metrics.precision / base:.2f}x" if base else "n/a"
            label = f"{model_name} (model)" if row.model == MODEL else row.model
            values = " | ".join(f"{getattr(row.metrics, m):.4f}" for m in METRICS)
            lines.append(f"| {row.view} | {label} | {row.metrics.users:,} | {values} | {ratio} |")
        lines += [
            "",
            "vs popularity: precision over the popularity baseline's, same view "
            "(n/a when the baseline's is 0).",
        ]
        if self.intervals:
            spans = "; ".join(
                f"{view} {low:.2f}x to {high:.2f}x" for view, (low, high) in self.intervals.items()
            )
            lines.append(
                f"Model vs popularity, 95% paired bootstrap interval over test users: {spans}."
            )
        return "\n".join(lines + [f"Note: {note}" for note in self.notes])


class Evaluator:
    """Scores ranked lists for the test users of a split, for any number of models.

    The weighted training matrix, ground truth and re-buy signals are built once, so tuning
    can evaluate many models on the same split cheaply.

    Parameters
    ----------
    split : Split
    params : TrainingParams
        Weighting, popularity window and buy-again settings.
    k : int
    item_features : mapping of item key to str or iterable of str, optional
        Item texts or tokens for the content-similarity blend (`content_index`).
    """

    def __init__(
        self,
        split: Split,
        params: TrainingParams,
        k: int = 10,
        item_features: ItemFeatures | None = None,
    ) -> None:
        self.k = check_k(k)
        self.split = split
        self.params = params
        self.item_features = item_features
        self._content: dict[ContentParams, ContentIndex] = {}
        self._neighbours: dict[NeighbourParams, NeighbourIndex] = {}
        prepared = prepare(split.train, params, split.now)
        self._prepared: TrainingData = prepared
        self.matrix = prepared.matrix
        n_users, n_items = self.matrix.shape
        self.popularity = popularity_scores(prepared.recent, params)
        self.item_users = item_user_counts(self.matrix)

        purchases = prepared.purchases
        user_codes = self.matrix.users.indices_of(purchases.users)
        item_codes = self.matrix.items.indices_of(purchases.items)
        ok = (user_codes >= 0) & (item_codes >= 0)
        self.rates = repurchase_rates(
            user_codes[ok], item_codes[ok], purchases.basket_ids()[ok], n_items
        )
        self.bought = _binary(user_codes[ok], item_codes[ok], (n_users, n_items))
        self._purchase_lines = (user_codes[ok], item_codes[ok], purchases.timestamps[ok])
        self._rebuy: dict[float | None, csr_matrix] = {}

        relevant = split.test.of_kinds(params.weighting.purchase_kinds)
        test_users = self.matrix.users.indices_of(relevant.users)
        test_items = self.matrix.items.indices_of(relevant.items)
        ok = (test_users >= 0) & (test_items >= 0)
        self.truth = _binary(test_users[ok], test_items[ok], (n_users, n_items))
        self.dropped_test_rows = int((~ok).sum())

    def rebuy(self, half_life_days: float | None) -> csr_matrix:
        """Users x items re-buy scores with purchases fading at the given half-life."""
        if half_life_days not in self._rebuy:
            users, items, timestamps = self._purchase_lines
            self._rebuy[half_life_days] = rebuy_matrix(
                users,
                items,
                timestamps,
                self.matrix.shape,
                self.rates,
                self.matrix.now,
                half_life_days,
            )
        return self._rebuy[half_life_days]

    def content_index(self, params: ContentParams | None = None) -> ContentIndex | None:
        """The content similarity of the training catalogue (None without item features)."""
        if self.item_features is None:
            return None
        params = params or self.params.content
        if params not in self._content:
            if self._content:
                built = next(iter(self._content.values())).with_params(params)
            else:
                built = ContentIndex.build(self.matrix.items, self.item_features, params)
            self._content[params] = built
        return self._content[params]

    def neighbour_index(self, params: NeighbourParams | None = None) -> NeighbourIndex:
        """The shoppers-like-you index of the training data."""
        params = params or self.params.neighbours
        if params not in self._neighbours:
            # Indexes of the same window share their matrices; only the neighbour count differs.
            window = params.recent_days
            built = next(
                (i for i in self._neighbours.values() if i.params.recent_days == window), None
            )
            self._neighbours[params] = (
                built.with_params(params) if built else neighbour_index(self._prepared, params)
            )
        return self._neighbours[params]

    def neighbour_scorer(self, index: NeighbourIndex) -> Callable[[np.ndarray], np.ndarray]:
        """Shoppers-like-you scores of each user's training row, their own row left out."""
        return lambda rows: index.scores(self.matrix.user_items[rows], exclude_users=rows)

    def content_scorer(self, index: ContentIndex) -> Callable[[np.ndarray], np.ndarray]:
        """Content-similarity scores of each user's training row."""
        return lambda rows: index.scores(self.matrix.user_items[rows])

    def users(self, view: str) -> np.ndarray:
        """Row indices of the users with ground truth in a view."""
        truth = self._truth(view)
        return np.flatnonzero(np.diff(truth.indptr) > 0)

    def _truth(self, view: str) -> csr_matrix:
        if view == "new":
            remaining = self.truth - self.truth.multiply(self.bought)
            remaining.eliminate_zeros()
            return csr_matrix(remaining)
        if view == "all":
            return self.truth
        raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")

    def evaluate(self, scorer: Callable[[np.ndarray], np.ndarray], view: str) -> RankingMetrics:
        """Metrics of the lists a scorer makes for every test user in a view.

        Parameters
        ----------
        scorer : callable
            Takes row indices of the training matrix, returns rows x items scores.
        view : {"new", "all"}
        """
        truth = self._truth(view)
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
        n_items = self.matrix.shape[1]
        accumulator = MetricsAccumulator(self.k, n_items)
        batch = max(1, BATCH_CELLS // max(n_items, 1))
        for start in range(0, len(users), batch):
            rows = users[start : start + batch]
            scores = np.array(scorer(rows), dtype=np.float32)  # a writable copy
            if view == "new":
                seen = self.bought[rows]
                scores[seen.nonzero()] = -np.inf
            ranked = top_k_rows(scores, self.k)
            valid = np.isfinite(np.take_along_axis(scores, ranked, axis=1))
            block = truth[rows]
            hits = np.take_along_axis(block.toarray(), ranked, axis=1).astype(bool) & valid
            accumulator.add(hits, np.diff(block.indptr), ranked[valid])
        return accumulator.result()

    # --- scorers ------------------------------------------------------------------------

    def model_scorer(self, model: Model) -> Callable[[np.ndarray], np.ndarray]:
        """Scores from a model, fed each user's training row."""
        return lambda rows: model.score(self.matrix.user_items[rows])

    def blended_scorer(
        self,
        base: Callable[[np.ndarray], np.ndarray],
        params: BlendParams,
        view: str,
        content: Callable[[np.ndarray], np.ndarray] | None = None,
        neighbours: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A base scorer's scores blended with popularity, content scores (when a content
        scorer is given), shoppers-like-you scores (when a neighbour scorer is given), the
        popularity penalty and, in view "all", re-buys."""

        penalty = popularity_factor(self.item_users, params.popularity_penalty)

        def score(rows: np.ndarray) -> np.ndarray:
            rebuy = self.rebuy(params.buy_again_half_life_days)[rows] if view == "all" else None
            similar = content(rows) if content is not None and params.content > 0 else None
            peers = neighbours(rows) if neighbours is not None and params.neighbours > 0 else None
            return blend(
                base(rows),
                params,
                popularity=self.popularity,
                rebuy=rebuy,
                content=similar,
                neighbours=peers,
                penalty=penalty,
            )

        return score

    def cached(
        self, scorer: Callable[[np.ndarray], np.ndarray]
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Compute a scorer's scores for every test user once (when they fit in memory), so
        that many blends can be evaluated on them cheaply."""
        users = np.union1d(self.users("new"), self.users("all"))
        if len(users) * self.matrix.shape[1] > CACHE_CELLS:
            return scorer
        batch = max(1, BATCH_CELLS // max(self.matrix.shape[1], 1))
        scores = np.vstack(
            [scorer(users[s : s + batch]) for s in range(0, len(users), batch)]
        ).astype(np.float32)
        position = np.full(self.matrix.shape[0], -1)
        position[users] = np.arange(len(users))
        return lambda rows: scores[position[rows]]

    def popularity_scorer(self) -> Callable[[np.ndarray], np.ndarray]:
        """The same recent popularity for everyone."""
        return lambda rows: np.broadcast_to(self.popularity, (len(rows), len(self.popularity)))

    def rebuy_scorer(self) -> Callable[[np.ndarray], np.ndarray]:
        """Re-buy scores alone, popularity filling the rest of the list."""
        tiebreak = self.popularity / max(float(self.popularity.max(initial=0.0)), 1e-12)

        rebuy = self.rebuy(self.params.blend.buy_again_half_life_days)

        def score(rows: np.ndarray) -> np.ndarray:
            return rebuy[rows].toarray() * 1e3 + tiebreak[None, :]

        return score

    def fit(self, params: TrainingParams, progress: Progress | None = None) -> Model:
        """Fit params' model on the training matrix."""
        model = create_model(params.model, **params.model_params)
        return model.fit(self.matrix.user_items, progress=progress)


def evaluate(
    split: Split,
    params: TrainingParams | None = None,
    *,
    k: int = 10,
    views: Sequence[str] = VIEWS,
    knn_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    item_features: ItemFeatures | None = None,
) -> EvaluationReport:
    """Train on split.train and measure the model, popularity and item-kNN on split.test.

    Parameters
    ----------
    split : Split
    params : TrainingParams, optional
        The model under test (and weighting, popularity window, buy-again blend).
    k : int
    views : sequence of {"new", "all"}
    knn_params : mapping, optional
        Parameters of the item-kNN baseline (`ItemKNNModel`).
    progress : callable, optional
    item_features : mapping of item key to str or iterable of str, optional
        Item texts or tokens: the model row blends in content similarity by
        `params.blend.content` (built with `params.content`), as `train` would.

    Returns
    -------
    EvaluationReport
    """
    params = params or TrainingParams()
    for view in views:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)
    evaluator = Evaluator(split, params, k, item_features)
    model = evaluator.fit(params, progress)
    index = evaluator.content_index()
    content = evaluator.content_scorer(index) if index is not None else None
    peers = None
    if params.blend.neighbours > 0:
        peers = evaluator.neighbour_scorer(evaluator.neighbour_index())
    knn = ItemKNNModel(**(knn_params or {})).fit(evaluator.matrix.user_items)
    result = EvaluationReport(
        k=k,
        split=split.description,
        params=params.to_dict(),
        counts=_counts(split, evaluator),
    )
    steps = [(view, name) for view in views for name in _row_names(view)]
    for done, (view, name) in enumerate(steps):
        report("evaluate", done, len(steps))
        if name == MODEL:
            scorer = evaluator.blended_scorer(
                evaluator.model_scorer(model), params.blend, view, content, peers
            )
        elif name == POPULARITY:
            scorer = evaluator.popularity_scorer()
        elif name == ITEM_KNN:
            scorer = evaluator.model_scorer(knn)
        else:
            scorer = evaluator.rebuy_scorer()
        result.rows.append(MetricsRow(view, name, evaluator.evaluate(scorer, view)))
    report("evaluate", len(steps), len(steps))
    for view in views:
        if evaluator.users(view).size:
            result.intervals[view] = result.lift_interval(view)
    result.seconds = time.perf_counter() - started
    if index is not None:
        result.notes.append(
            f"content: {index.described:,} of {index.n_items:,} training items have features; "
            f"blend weight {params.blend.content:g}, {params.content.neighbours} neighbours"
        )
    elif params.blend.content > 0:
        result.notes.append("the content blend weight is ignored: no item features were given")
    if params.blend.neighbours > 0:
        result.notes.append(
            f"shoppers like you: weight {params.blend.neighbours:g}, "
            f"{params.neighbours.neighbours} neighbours, purchases of the last "
            f"{params.neighbours.recent_days:g} days; popularity penalty "
            f"{params.blend.popularity_penalty:g}"
        )
    if evaluator.dropped_test_rows:
        result.notes.append(
            f"{evaluator.dropped_test_rows:,} test purchases of items (or by users) outside the "
            "training data are not in the ground truth"
        )
    return result


def _row_names(view: str) -> Iterable[str]:
    names = [MODEL, POPULARITY, ITEM_KNN]
    return [*names, BUY_AGAIN] if view == "all" else names


def _counts(split: Split, evaluator: Evaluator) -> dict[str, int]:
    n_users, n_items = evaluator.matrix.shape
    return {
        "train_interactions": len(split.train),
        "test_interactions": len(split.test),
        "train_users": n_users,
        "train_items": n_items,
        "train_nonzeros": int(evaluator.matrix.user_items.nnz),
        "test_users_new": len(evaluator.users("new")),
        "test_users_all": len(evaluator.users("all")),
    }


def _binary(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> csr_matrix:
    matrix = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix
