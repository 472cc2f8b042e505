"""Implicit-feedback matrix factorisation by alternating least squares (implicit's ALS)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy.sparse import csr_matrix

from recommender._blas import single_threaded_blas
from recommender.models import factors as fold
from recommender.models.base import (
    Model,
    Progress,
    check_fit_input,
    check_items,
    check_k,
    check_positive,
    check_user_items,
)


class ALSModel(Model):
    """Alternating least squares for implicit feedback (Hu, Koren and Volinsky 2008).

    Parameters
    ----------
    factors : int
        Latent factors per user and item.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence scaling: a weight w becomes confidence alpha * w.
    iterations : int
        Training sweeps over users and items.
    random_state : int or None
        Seed of the initial factors.
    num_threads : int
        Threads for fitting and scoring; 0 uses every core.

    Notes
    -----
    Only item factors are kept. A user's vector is always recomputed from their current row
    with implicit's ``recalculate_user``, so interactions from a minute ago count.
    """

    name = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 15,
        random_state: int | None = 42,
        num_threads: int = 0,
    ) -> None:
        self.factors = check_k(factors, "factors")
        self.regularization = check_positive(regularization, "regularization", allow_zero=True)
        self.alpha = check_positive(alpha, "alpha")
        self.iterations = check_k(iterations, "iterations")
        self.random_state = random_state
        self.num_threads = int(num_threads)
        self._als: AlternatingLeastSquares | None = None
        self._als_one_row: AlternatingLeastSquares | None = None
        self._gram = np.zeros((0, 0))
        self._norms = np.zeros(0)

    def _new_implicit(self) -> AlternatingLeastSquares:
        with single_threaded_blas():
            return AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )

    def fit(self, user_items: csr_matrix, *, progress: Progress | None = None) -> Self:
        """Factorise user_items; see `Model.fit`."""
        matrix = check_fit_input(user_items)
        als = self._new_implicit()

        def on_iteration(iteration: int, _elapsed: float, _loss: float) -> None:
            if progress:
                progress("als", iteration + 1, self.iterations)

        with single_threaded_blas():
            als.fit(matrix, show_progress=False, callback=on_iteration)
        als.user_factors = None  # recomputed per request from the user's row
        self._use(als)
        return self

    def _use(self, als: AlternatingLeastSquares) -> None:
        self._als = als
        self._gram = fold.gram_matrix(als.item_factors)
        self._norms = fold.safe_norms(als.item_factors)
        als.YtY  # noqa: B018 - compute implicit's cache now, not during a request
        # One row needs one thread: an idle OpenMP worker spinning after every request would
        # steal a core from BLAS. The copy shares the factors and the cached YtY.
        self._als_one_row = copy.copy(als)
        self._als_one_row.num_threads = 1

    @property
    def item_factors(self) -> np.ndarray:
        """n_items x factors float32."""
        if self._als is None:
            return np.zeros((0, self.factors), dtype=np.float32)
        return self._als.item_factors

    @property
    def n_items(self) -> int:
        """Number of items the model was fitted on."""
        return len(self.item_factors)

    def user_vectors(self, user_items: csr_matrix) -> np.ndarray:
        """Recompute user vectors from rows of weights with implicit's recalculate_user."""
        rows = check_user_items(user_items, self.n_items)
        assert self._als is not None and self._als_one_row is not None
        if rows.shape[0] == 1:
            return self._als_one_row.recalculate_user(0, rows)[None, :]
        with single_threaded_blas():
            return self._als.recalculate_user(np.arange(rows.shape[0]), rows)

    def score(self, user_items: csr_matrix) -> np.ndarray:
        """Score every item for each row; see `Model.score`."""
        vectors = self.user_vectors(user_items)
        return vectors @ self.item_factors.T

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items whose factors have the highest cosine with item's."""
        check_k(k)
        (index,) = check_items([item], self.n_items)
        return fold.cosine_neighbours(self.item_factors, self._norms, int(index), k)

    def contributions(self, user_items: csr_matrix, items: np.ndarray) -> np.ndarray:
        """Per row item share of each score, as in implicit's `explain`."""
        row = check_user_items(user_items, self.n_items, single=True)
        targets = check_items(items, self.n_items)
        return fold.contributions(
            self.item_factors, self._gram, row, targets, self.regularization, self.alpha
        )

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The item factors."""
        return {"item_factors": self.item_factors}

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild from saved item factors."""
        model = cls(**params)
        item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        if item_factors.ndim != 2 or item_factors.shape[1] != model.factors:
            raise ValueError(
                f"item_factors must be n x {model.factors}, not shape {item_factors.shape}"
            )
        als = model._new_implicit()
        als.item_factors = np.ascontiguousarray(item_factors)
        model._use(als)
        return model

    @classmethod
    def from_factors(cls, item_factors: np.ndarray, **params: Any) -> Self:
        """A model with the given item factors (for tests and synthetic benchmarks)."""
        merged = {**params, "factors": int(item_factors.shape[1])}
        return cls.from_arrays(merged, {"item_factors": item_factors})
