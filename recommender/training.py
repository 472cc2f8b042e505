"""`train(interactions, params) -> Recommender`: every fitted part in one call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from recommender.association import BasketRules
from recommender.content import ContentIndex, ItemFeatures
from recommender.interactions import DAY_SECONDS, Interactions, Timestamp
from recommender.models import PopularityModel, Progress, create_model
from recommender.neighbours import NeighbourIndex, NeighbourParams
from recommender.params import TrainingParams
from recommender.repurchase import repurchase_rates
from recommender.serving import InteractionsLike, Recommender
from recommender.weighting import InteractionMatrix, build_matrix


@dataclass(frozen=True)
class TrainingData:
    """The matrices and purchases one training run works from."""

    matrix: InteractionMatrix
    recent: InteractionMatrix
    purchases: Interactions


def prepare(
    interactions: Interactions, params: TrainingParams, now: Timestamp = None
) -> TrainingData:
    """Build the weighted matrix, the recent-window matrix and the purchases."""
    matrix = build_matrix(interactions, params.weighting, now=now)
    if len(matrix.items) == 0:
        raise ValueError("no interaction has a positive weight: nothing to train on")
    recent_matrix = matrix
    if matrix.now is not None:
        recent = interactions.since(matrix.now - params.popular_days * DAY_SECONDS)
        windowed = build_matrix(recent, params.weighting, now=matrix.now, items=matrix.items)
        if windowed.user_items.nnz:
            recent_matrix = windowed
    purchases = interactions.of_kinds(params.weighting.purchase_kinds)
    if matrix.now is not None:
        purchases = purchases.select(~(purchases.timestamps > matrix.now))
    return TrainingData(matrix, recent_matrix, purchases)


def popularity_scores(recent: InteractionMatrix, params: TrainingParams) -> np.ndarray:
    """Recent popularity: users per item in the window, capped at one purchase each."""
    weighting = params.weighting
    purchase = max(weighting.kind_weights.get(k, 0.0) for k in weighting.purchase_kinds)
    cap = float(weighting.totals(np.array([purchase or 1.0]))[0])
    return PopularityModel(cap=cap).fit(recent.user_items).item_scores


def item_user_counts(matrix: InteractionMatrix) -> np.ndarray:
    """Per item, the training users who interacted with it."""
    user_items = matrix.user_items
    return np.bincount(user_items.indices[user_items.data > 0], minlength=user_items.shape[1])


def neighbour_index(data: TrainingData, params: NeighbourParams) -> NeighbourIndex:
    """The shoppers-like-you index: training rows and the purchases of the recent window."""
    matrix = data.matrix
    purchases = data.purchases
    if matrix.now is not None:
        purchases = purchases.since(matrix.now - params.recent_days * DAY_SECONDS)
    users = matrix.users.indices_of(purchases.users)
    items = matrix.items.indices_of(purchases.items)
    known = (users >= 0) & (items >= 0)
    recent = csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (users[known], items[known])),
        shape=matrix.shape,
    )
    return NeighbourIndex.build(matrix.user_items, recent, params)


def train(
    interactions: InteractionsLike,
    params: TrainingParams | None = None,
    *,
    now: Timestamp = None,
    progress: Progress | None = None,
    item_features: ItemFeatures | None = None,
) -> Recommender:
    """Train a recommender on interactions.

    Parameters
    ----------
    interactions : Interactions or iterable of Interaction or tuple
        Views, cart additions, purchases...; purchases also feed "bought together" and
        "buy it again".
    params : TrainingParams, optional
        Model and weighting; defaults to ALS with `TrainingParams()`.
    now : timestamp, optional
        The end of the training data: weights fade back from here, and the popularity
        window ends here. Defaults to the newest interaction.
    progress : callable, optional
        Called as progress(stage, done, total).
    item_features : mapping of item key to str or iterable of str, optional
        Each item's text (e.g. name and category) or tokens. The recommender keeps a content
        similarity built from them (`params.content`) and saves it with the model; serving
        blends it in by `params.blend.content`. Without features nothing changes.

    Returns
    -------
    Recommender
        Its `info` holds counts, the data window and the training time.

    Raises
    ------
    ValueError
        When there is nothing to train on or a parameter is bad.
    """
    params = params or TrainingParams()
    started = time.perf_counter()
    data = Interactions.coerce(interactions)
    report = progress or (lambda _stage, _done, _total: None)
    report("matrix", 0, 1)
    prepared = prepare(data, params, now)
    matrix = prepared.matrix
    report("matrix", 1, 1)

    model = create_model(params.model, **params.model_params)
    fit_on = prepared.recent if params.model == PopularityModel.name else matrix
    model.fit(fit_on.user_items, progress=progress)

    report("rules", 0, 1)
    popularity = popularity_scores(prepared.recent, params)
    purchases = prepared.purchases
    item_codes = matrix.items.indices_of(purchases.items)
    known = item_codes >= 0
    baskets = purchases.basket_ids()[known]
    user_codes = np.unique(purchases.users[known], return_inverse=True)[1].reshape(-1)
    rules = BasketRules.mine(baskets, item_codes[known], len(matrix.items), params.rules)
    rates = repurchase_rates(user_codes, item_codes[known], baskets, len(matrix.items))
    report("rules", 1, 1)

    content = None
    if item_features is not None:
        content = ContentIndex.build(matrix.items, item_features, params.content)
    neighbours = None
    if params.blend.neighbours > 0:
        neighbours = neighbour_index(prepared, params.neighbours)
    info = training_info(data, matrix, rules, time.perf_counter() - started)
    if content is not None:
        info["items_with_features"] = content.described
    return Recommender(
        model,
        matrix.items,
        matrix.users,
        params,
        popularity,
        rules,
        rates,
        info,
        content,
        neighbours=neighbours,
        item_users=item_user_counts(matrix),
    )


def training_info(
    data: Interactions, matrix: InteractionMatrix, rules: BasketRules, seconds: float
) -> dict[str, Any]:
    """Counts, data window and duration of a training run (stored as model metadata)."""
    span = data.time_span
    return {
        "interactions": len(data),
        "interactions_used": len(data) - matrix.ignored,
        "users": len(matrix.users),
        "items": len(matrix.items),
        "nonzeros": int(matrix.user_items.nnz),
        "baskets": rules.n_baskets,
        "rules": rules.n_rules,
        "data_start": _iso(span[0]) if span else None,
        "data_end": _iso(span[1]) if span else None,
        "now": _iso(matrix.now) if matrix.now is not None else None,
        "training_seconds": round(seconds, 3),
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
