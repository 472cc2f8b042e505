"""Choose training parameters on a validation split carved from the training data only.

Four stages (five with item features), each scored by precision@k on the validation split:

1. model: a random sample of the model's grid (for ALS: factors, regularization, alpha
   and iterations) crossed with the weighting half-lives, in view "new";
2. popularity blend: the weight of recent popularity next to the best model, in view "new";
3. content (only when item features are given): the content-similarity blend weight
   crossed with the neighbours kept per item, in view "new"; weight 0 (off) is always a
   candidate and wins ties;
4. shoppers like you: the weight of what the most similar shoppers bought recently
   (`recommender.neighbours`), crossed with the neighbours kept, the recent window, the
   popularity penalty and, again, the popularity weight, in view "new"; the parameters
   chosen so far are tried first and win ties;
5. buy again: the weight and half-life of the re-buy signal, in view "all".

The data given to `tune` must end before any test period: it never sees one.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recommender.content import ContentParams, ItemFeatures
from recommender.evaluation import Evaluator
from recommender.interactions import Interactions
from recommender.metrics import RankingMetrics
from recommender.models.base import check_k
from recommender.neighbours import NeighbourParams
from recommender.params import TrainingParams
from recommender.splits import Split, validation_split

MODEL_GRIDS: Mapping[str, Mapping[str, Sequence[Any]]] = {
    "als": {
        # 256 factors cost four times 128's per request (the user is recomputed each time).
        "factors": (32, 64, 128),
        "regularization": (0.01, 0.1, 1.0, 10.0, 50.0),
        "alpha": (0.25, 0.5, 1.0, 2.0, 4.0),
        "iterations": (10, 15, 30),
    },
    "bpr": {
        "factors": (32, 64, 128),
        "learning_rate": (0.01, 0.05, 0.1),
        "regularization": (0.001, 0.01, 0.1),
        "iterations": (50, 100, 200),
    },
    "item_knn": {"neighbours": (20, 50, 100, 200, 400), "similarity": ("cosine", "bm25")},
    "popularity": {"cap": (1.0,)},
}


@dataclass(frozen=True)
class SearchSpace:
    """The values `tune` tries.

    Parameters
    ----------
    model : mapping of str to sequence, optional
        The model's grid; defaults to `MODEL_GRIDS[params.model]`.
    half_life_days : sequence of float or None
        Weighting half-lives (None: no fading).
    popular : sequence of float
        Popularity blend weights.
    buy_again : sequence of float
        Re-buy blend weights.
    buy_again_half_life_days : sequence of float or None
    content : sequence of float
        Content-similarity blend weights (tried only with item features; 0 is always added).
    content_neighbours : sequence of int
        Neighbours kept per item in the content similarity.
    neighbours : sequence of float
        Shoppers-like-you blend weights (0 is always added).
    neighbour_counts : sequence of int
        Similar shoppers kept per shopper.
    neighbour_recent_days : sequence of float
        Windows whose purchases the similar shoppers contribute.
    popularity_penalty : sequence of float
        Exponents of the popularity penalty (0 is always added).
    """

    model: Mapping[str, Sequence[Any]] | None = None
    half_life_days: Sequence[float | None] = (None, 90.0)
    popular: Sequence[float] = (0.0, 0.1, 0.25, 0.5)
    buy_again: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    buy_again_half_life_days: Sequence[float | None] = (30.0, 90.0, 180.0, None)
    content: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0)
    content_neighbours: Sequence[int] = (20, 50, 200)
    neighbours: Sequence[float] = (0.0, 0.5, 1.0, 2.0)
    neighbour_counts: Sequence[int] = (50, 200)
    neighbour_recent_days: Sequence[float] = (30.0, 60.0)
    popularity_penalty: Sequence[float] = (0.0, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Trial:
    """One parameter set tried, and its validation metrics."""

    stage: str
    params: dict[str, Any]
    metrics: dict[str, float]
    seconds: float


@dataclass
class TuningResult:
    """The chosen parameters and every trial."""

    params: TrainingParams
    validation: str
    k: int
    trials: list[Trial] = field(default_factory=list)

    def best(self, stage: str) -> Trial:
        """The best trial of a stage ("model", "popular", "content", "neighbours" or
        "buy_again")."""
        return max(
            (t for t in self.trials if t.stage == stage),
            key=lambda t: (t.metrics["precision"], t.metrics["ndcg"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form; `TrainingParams.load` reads the "params" part."""
        return {
            "params": self.params.to_dict(),
            "validation": self.validation,
            "k": self.k,
            "trials": [asdict(t) for t in self.trials],
        }

    def save(self, path: str | Path) -> None:
        """Write the result as JSON (usable as --params of train and evaluate)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def _sample_grid(grid: Mapping[str, Sequence[Any]], n: int, seed: int) -> list[dict[str, Any]]:
    names = list(grid)
    combos = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
    if n >= len(combos):
        return combos
    return random.Random(seed).sample(combos, n)


def tune(
    interactions: Interactions,
    params: TrainingParams | None = None,
    *,
    method: str = "time",
    validation_days: float | None = None,
    validation_fraction: float = 0.2,
    space: SearchSpace | None = None,
    trials: int = 24,
    k: int = 10,
    seed: int = 0,
    progress: Callable[[Trial, int, int], None] | None = None,
    item_features: ItemFeatures | None = None,
) -> TuningResult:
    """Search training parameters on a validation split of interactions.

    Parameters
    ----------
    interactions : Interactions
        Training data only; for a time-based evaluation, everything before the cutoff.
    params : TrainingParams, optional
        The starting point (model name, kind weights, rules...); tuned fields are replaced.
    method : {"time", "random", "last"}
        How the validation split is carved: the last `validation_days` (or
        `validation_fraction` of the time span), a random share of each user's items, or
        each user's last moment.
    space : SearchSpace, optional
    trials : int
        Model parameter sets to try (a random sample of the grid when it is larger).
    k : int
    seed : int
    progress : callable, optional
        Called as progress(trial, done, total) after every trial.
    item_features : mapping of item key to str or iterable of str, optional
        Item texts or tokens; with them the content blend weight and neighbours are tuned
        too (stage "content"), otherwise they keep their values in params.

    Returns
    -------
    TuningResult
    """
    params = params or TrainingParams()
    space = space or SearchSpace()
    check_k(trials, "trials")
    check_k(k)
    end = interactions.time_span
    whole = Split(interactions, Interactions.empty(), method, "", end[1] if end else None)
    validation = validation_split(
        whole, days=validation_days, fraction=validation_fraction, seed=seed + 1
    )
    if len(validation.test) == 0:
        raise ValueError("the validation split has no test interactions; widen it")
    grid = space.model or MODEL_GRIDS.get(params.model, {})
    candidates = _sample_grid(grid, trials, seed)
    half_lives = list(space.half_life_days) or [params.weighting.half_life_days]
    content_weights = sorted({0.0, *space.content}) if item_features is not None else []
    content_grid = list(itertools.product(space.content_neighbours, content_weights))
    peer_params = [
        NeighbourParams(neighbours=n, recent_days=d)
        for d, n in itertools.product(space.neighbour_recent_days, space.neighbour_counts)
    ]
    peer_grid = list(
        itertools.product(
            space.popular,
            sorted({0.0, *space.neighbours}),
            sorted({0.0, *space.popularity_penalty}),
        )
    )
    total = len(candidates) * len(half_lives) + len(space.popular) + len(content_grid)
    total += (1 + len(peer_params) * len(peer_grid)) if peer_grid else 0
    total += len(space.buy_again) * len(space.buy_again_half_life_days)
    result = TuningResult(params, validation.description, k)

    def record(stage: str, tried: TrainingParams, metrics: RankingMetrics, began: float) -> None:
        trial = Trial(stage, tried.to_dict(), metrics.as_dict(), time.perf_counter() - began)
        result.trials.append(trial)
        if progress:
            progress(trial, len(result.trials), total)

    best: tuple[tuple[float, float], TrainingParams, Evaluator] | None = None
    for half_life in half_lives:
        weighting = replace(params.weighting, half_life_days=half_life)
        evaluator = Evaluator(validation, replace(params, weighting=weighting), k, item_features)
        if not len(evaluator.users("new")) and not len(evaluator.users("all")):
            raise ValueError(
                "the validation split has no test purchases of items known before it; widen it"
            )
        for model_params in candidates:
            began = time.perf_counter()
            tried = replace(params, weighting=weighting).with_model(**model_params)
            model = evaluator.fit(tried)
            metrics = evaluator.evaluate(evaluator.model_scorer(model), "new")
            record("model", tried, metrics, began)
            score = (metrics.precision, metrics.ndcg)
            if best is None or score > best[0]:
                best = (score, tried, evaluator)
    assert best is not None
    _, chosen, evaluator = best
    base = evaluator.cached(evaluator.model_scorer(evaluator.fit(chosen)))

    popular_scores = []
    for weight in space.popular:
        began = time.perf_counter()
        tried = replace(chosen, blend=replace(chosen.blend, popular=weight))
        metrics = evaluator.evaluate(evaluator.blended_scorer(base, tried.blend, "new"), "new")
        record("popular", tried, metrics, began)
        popular_scores.append(((metrics.precision, metrics.ndcg), tried))
    if popular_scores:
        chosen = max(popular_scores, key=lambda pair: pair[0])[1]

    content_scores = []
    for neighbours in dict.fromkeys(n for n, _ in content_grid):
        index = evaluator.content_index(ContentParams(neighbours=neighbours))
        assert index is not None
        similar = evaluator.cached(evaluator.content_scorer(index))
        for weight in content_weights:
            began = time.perf_counter()
            tried = replace(
                chosen,
                blend=replace(chosen.blend, content=weight),
                content=index.params,
            )
            scorer = evaluator.blended_scorer(base, tried.blend, "new", similar)
            metrics = evaluator.evaluate(scorer, "new")
            record("content", tried, metrics, began)
            content_scores.append(((metrics.precision, metrics.ndcg), tried))
    if content_scores:
        # max keeps the first of equal scores: weight 0 (tried first) wins ties.
        chosen = max(content_scores, key=lambda pair: pair[0])[1]

    index = evaluator.content_index(chosen.content) if chosen.blend.content > 0 else None
    chosen_content = (
        evaluator.cached(evaluator.content_scorer(index)) if index is not None else None
    )

    def peers_trial(
        tried: TrainingParams, peers: Callable[[np.ndarray], np.ndarray] | None
    ) -> tuple[tuple[float, float], TrainingParams]:
        began = time.perf_counter()
        scorer = evaluator.blended_scorer(base, tried.blend, "new", chosen_content, peers)
        metrics = evaluator.evaluate(scorer, "new")
        record("neighbours", tried, metrics, began)
        return (metrics.precision, metrics.ndcg), tried

    # The parameters chosen so far go first: max keeps the first of equal scores.
    peer_scores = [peers_trial(chosen, None)] if peer_grid else []
    for peer_params_tried in peer_params if peer_grid else []:
        peers = evaluator.cached(
            evaluator.neighbour_scorer(evaluator.neighbour_index(peer_params_tried))
        )
        for popular, weight, penalty in peer_grid:
            blend = replace(
                chosen.blend, popular=popular, neighbours=weight, popularity_penalty=penalty
            )
            tried = replace(chosen, blend=blend, neighbours=peer_params_tried)
            peer_scores.append(peers_trial(tried, peers))
    if peer_scores:
        chosen = max(peer_scores, key=lambda pair: pair[0])[1]
    chosen_peers = None
    if chosen.blend.neighbours > 0:
        chosen_peers = evaluator.cached(
            evaluator.neighbour_scorer(evaluator.neighbour_index(chosen.neighbours))
        )

    again_scores = []
    for weight, half_life in itertools.product(space.buy_again, space.buy_again_half_life_days):
        began = time.perf_counter()
        blend = replace(chosen.blend, buy_again=weight, buy_again_half_life_days=half_life)
        tried = replace(chosen, blend=blend)
        scorer = evaluator.blended_scorer(base, blend, "all", chosen_content, chosen_peers)
        metrics = evaluator.evaluate(scorer, "all")
        record("buy_again", tried, metrics, began)
        again_scores.append(((metrics.precision, metrics.ndcg), tried))
    if again_scores:
        chosen = max(again_scores, key=lambda pair: pair[0])[1]
    result.params = chosen
    return result
