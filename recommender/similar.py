"""Similar items: the model's item-item similarity, with the content similarity mixed in for
items that few shoppers have bought (their factors say little about them).

For an item with n users (the training users who interacted with it, `item_users`):

    w = 1 / (1 + n / content_buyers)            (`SimilarParams.content_buyers`, tau)
    score(j) = (1 - w) x model(j) / max(model) + w x content(j) / max(content)

so an item with `content_buyers` users weighs both halves equally, an item with one
user leans on its content neighbours, and a best seller keeps its model neighbours. The model
part is divided by its best value among the candidates (min-max scaled when that is <= 0),
the content part by the item's best content similarity.

Only a short list is scored exactly, not the catalogue: the model's `similar_items` for
k + excluded items, plus the item's content neighbours (one sparse row) with their model
similarity (for ALS, the cosine of their factors). Any other item has no content part and a
model similarity no higher than the k + excluded listed ones, so it cannot rank above the k
that are kept: the result is the top k of the blend over the whole catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np

from recommender.models.base import Model, check_positive


@dataclass(frozen=True)
class SimilarParams:
    """How `Recommender.similar_items` mixes content similarity into the model's.

    Parameters
    ----------
    content_buyers : float
        tau: the users of an item at which content and model count equally; the content
        share is 1 / (1 + users / tau). 0 switches it off (the model's similarity alone).
        Only used by a recommender that has item features and per-item user counts.
    """

    content_buyers: float = 20.0

    def __post_init__(self) -> None:
        value = check_positive(self.content_buyers, "content_buyers", allow_zero=True)
        object.__setattr__(self, "content_buyers", value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters written by `to_dict`."""
        return cls(**data)


def content_weight(buyers: float, half_weight_buyers: float) -> float:
    """The content share 1 / (1 + buyers / half_weight_buyers); 0 when that is 0 (off)."""
    if half_weight_buyers <= 0:
        return 0.0
    return 1.0 / (1.0 + max(float(buyers), 0.0) / half_weight_buyers)


def _scaled(values: np.ndarray) -> np.ndarray:
    """Divided by the largest value, or min-max scaled when that is <= 0 (best = 1)."""
    if not len(values):
        return values
    top, bottom = float(values.max()), float(values.min())
    if top > 0:
        return values / top
    return (values - bottom) / max(top - bottom, 1e-12)


def model_similarities(model: Model, item: int, candidates: np.ndarray) -> np.ndarray:
    """The model's similarity of item to each candidate, as its `similar_items` scores it.

    A factor model that exposes `item_factors` (ALS) gives the cosine of the factors of just
    these candidates; any other model ranks the whole catalogue once, and a candidate it does
    not list (an item k-NN's non-neighbour) counts 0.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if not len(candidates):
        return np.empty(0, dtype=np.float64)
    factors = getattr(model, "item_factors", None)
    if isinstance(factors, np.ndarray) and factors.ndim == 2 and len(factors) == model.n_items:
        rows = factors[candidates].astype(np.float64)
        own = factors[item].astype(np.float64)
        norms = np.linalg.norm(rows, axis=1)
        norms[norms == 0] = 1e-10
        own_norm = float(np.linalg.norm(own)) or 1e-10
        return (rows @ own) / (norms * own_norm)
    ids, values = model.similar_items(item, model.n_items)
    dense = np.zeros(model.n_items, dtype=np.float64)
    dense[ids] = values
    return dense[candidates]


def blended_neighbours(
    model: Model,
    item: int,
    k: int,
    excluded: np.ndarray,
    content_ids: np.ndarray,
    content_scores: np.ndarray,
    weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The k items most similar to item by the blend, best first (ties: lower index first).

    Parameters
    ----------
    model : Model
    item : int
    k : int
    excluded : numpy.ndarray of bool
        Per catalogue item, whether it may not be returned.
    content_ids, content_scores : numpy.ndarray
        The item's content neighbours and their similarities (one row of
        `ContentIndex.similarity`).
    weight : float
        The content share w in [0, 1].

    Returns
    -------
    (item indices, blended scores)
    """
    ids, values = model.similar_items(item, k + int(excluded.sum()))
    # Both lists are short (k + excluded, and about 20): plain Python beats numpy set calls.
    position = {int(i): p for p, i in enumerate(ids.tolist())}
    at, extra, shares = [], [], []
    for neighbour, similarity in zip(content_ids.tolist(), content_scores.tolist(), strict=True):
        if similarity <= 0 or neighbour == item:
            continue
        if neighbour not in position:
            position[neighbour] = len(ids) + len(extra)
            extra.append(neighbour)
        at.append(position[neighbour])
        shares.append(similarity)
    candidates = np.concatenate([ids, np.array(extra, dtype=ids.dtype)])
    model_part = np.concatenate(
        [np.asarray(values, dtype=np.float64), model_similarities(model, item, np.array(extra))]
    )
    content_part = np.zeros(len(candidates))
    if shares:
        content_part[at] = np.array(shares) / max(shares)
    scores = (1.0 - weight) * _scaled(model_part) + weight * content_part
    allowed = ~excluded[candidates]
    candidates, scores = candidates[allowed], scores[allowed]
    best = np.lexsort((candidates, -scores))[:k]
    return candidates[best], scores[best].astype(np.float32)
