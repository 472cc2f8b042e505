"""The popularity baseline: the same ranking for everyone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from scipy.sparse import csr_matrix

from recommender.models.base import (
    Model,
    Progress,
    check_fit_input,
    check_items,
    check_k,
    check_user_items,
    top_k,
)


class PopularityModel(Model):
    """Ranks items by how many users interacted with them, weighted by the strongest kind.

    Fit it on a matrix of a recent window (training does, see `TrainingParams.popular_days`)
    for "popular right now". An item's score is Σ_u min(w_ui, cap) / cap, so one customer
    buying an item fifty times counts once.

    Parameters
    ----------
    cap : float
        The weight at which one user's interest in an item counts fully.
    """

    name = "popularity"

    def __init__(self, cap: float = 1.0) -> None:
        if not cap > 0:
            raise ValueError(f"cap must be > 0, not {cap!r}")
        self.cap = float(cap)
        self._scores = np.zeros(0, dtype=np.float32)

    def fit(self, user_items: csr_matrix, *, progress: Progress | None = None) -> Self:
        """Count each item's users."""
        matrix = check_fit_input(user_items)
        capped = np.minimum(matrix.data, self.cap) / self.cap
        scores = np.bincount(matrix.indices, weights=capped, minlength=matrix.shape[1])
        self._scores = scores.astype(np.float32)
        if progress:
            progress("popularity", 1, 1)
        return self

    @classmethod
    def from_scores(cls, scores: np.ndarray) -> Self:
        """A model with the given item scores."""
        model = cls()
        model._scores = np.asarray(scores, dtype=np.float32)
        return model

    @property
    def n_items(self) -> int:
        """Number of items the model was fitted on."""
        return len(self._scores)

    @property
    def item_scores(self) -> np.ndarray:
        """Each item's popularity."""
        return self._scores

    def score(self, user_items: csr_matrix) -> np.ndarray:
        """The same scores for every row."""
        rows = check_user_items(user_items, self.n_items)
        return np.broadcast_to(self._scores, (rows.shape[0], self.n_items)).copy()

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The most popular other items (popularity knows no similarity)."""
        check_k(k)
        (index,) = check_items([item], self.n_items)
        mask = np.zeros(self.n_items, dtype=bool)
        mask[index] = True
        return top_k(self._scores, k, mask)

    def contributions(self, user_items: csr_matrix, items: np.ndarray) -> np.ndarray:
        """No item of the row contributes: zeros."""
        row = check_user_items(user_items, self.n_items, single=True)
        return np.zeros((len(check_items(items, self.n_items)), row.nnz))

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {"cap": self.cap}

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The item scores."""
        return {"scores": self._scores}

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild from saved scores."""
        model = cls(**params)
        model._scores = np.asarray(arrays["scores"], dtype=np.float32).reshape(-1)
        return model
