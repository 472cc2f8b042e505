"""Bayesian personalised ranking (implicit's BPR), with a least-squares fold-in for live rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from implicit.cpu.bpr import BayesianPersonalizedRanking
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


class BPRModel(Model):
    """Matrix factorisation trained on pairwise rankings (Rendle et al. 2009).

    Parameters
    ----------
    factors : int
        Latent factors per user and item (implicit adds one for the item bias).
    learning_rate : float
        SGD step size.
    regularization : float
        L2 penalty during training.
    iterations : int
        Training epochs.
    fold_in_regularization : float
        L2 penalty when a user's vector is recomputed from their row at request time.
    fold_in_alpha : float
        Confidence scaling of the row in that fold-in (as ALS's alpha).
    random_state : int or None
        Seed.
    num_threads : int
        Training threads; 0 uses every core.

    Notes
    -----
    implicit's BPR cannot recompute a user (``recalculate_user`` is ALS only), so a row is
    folded in by the same least-squares step ALS uses, against BPR's item factors: a user who
    clicked a minute ago is scored from that click too.
    """

    name = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        fold_in_regularization: float = 0.1,
        fold_in_alpha: float = 10.0,
        random_state: int | None = 42,
        num_threads: int = 0,
    ) -> None:
        self.factors = check_k(factors, "factors")
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.regularization = check_positive(regularization, "regularization", allow_zero=True)
        self.iterations = check_k(iterations, "iterations")
        self.fold_in_regularization = check_positive(
            fold_in_regularization, "fold_in_regularization"
        )
        self.fold_in_alpha = check_positive(fold_in_alpha, "fold_in_alpha")
        self.random_state = random_state
        self.num_threads = int(num_threads)
        self._item_factors = np.zeros((0, self.factors + 1), dtype=np.float32)
        self._gram = np.zeros((0, 0))
        self._norms = np.zeros(0)

    def fit(self, user_items: csr_matrix, *, progress: Progress | None = None) -> Self:
        """Train on the non-zero pattern of user_items (BPR ignores the weights)."""
        matrix = check_fit_input(user_items)
        bpr = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )

        def on_epoch(epoch: int, *_stats: Any) -> None:
            if progress:
                progress("bpr", epoch + 1, self.iterations)

        with single_threaded_blas():
            bpr.fit(matrix, show_progress=False, callback=on_epoch)
        self._use(np.asarray(bpr.item_factors, dtype=np.float32))
        return self

    def _use(self, item_factors: np.ndarray) -> None:
        self._item_factors = np.ascontiguousarray(item_factors)
        self._gram = fold.gram_matrix(item_factors)
        self._norms = fold.safe_norms(item_factors)

    @property
    def n_items(self) -> int:
        """Number of items the model was fitted on."""
        return len(self._item_factors)

    def score(self, user_items: csr_matrix) -> np.ndarray:
        """Score every item for each row, folding each row in; see `Model.score`."""
        rows = check_user_items(user_items, self.n_items)
        with single_threaded_blas():
            vectors = fold.fold_in(
                self._item_factors,
                self._gram,
                rows,
                self.fold_in_regularization,
                self.fold_in_alpha,
            )
        return vectors @ self._item_factors.T

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items whose factors have the highest cosine with item's."""
        check_k(k)
        (index,) = check_items([item], self.n_items)
        return fold.cosine_neighbours(self._item_factors, self._norms, int(index), k)

    def contributions(self, user_items: csr_matrix, items: np.ndarray) -> np.ndarray:
        """Per row item share of each score under the least-squares fold-in."""
        row = check_user_items(user_items, self.n_items, single=True)
        targets = check_items(items, self.n_items)
        return fold.contributions(
            self._item_factors,
            self._gram,
            row,
            targets,
            self.fold_in_regularization,
            self.fold_in_alpha,
        )

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "factors": self.factors,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "fold_in_regularization": self.fold_in_regularization,
            "fold_in_alpha": self.fold_in_alpha,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The item factors (the last column is the item bias)."""
        return {"item_factors": self._item_factors}

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild from saved item factors."""
        model = cls(**params)
        item_factors = np.asarray(arrays["item_factors"], dtype=np.float32)
        if item_factors.ndim != 2 or item_factors.shape[1] != model.factors + 1:
            raise ValueError(
                f"item_factors must be n x {model.factors + 1}, not shape {item_factors.shape}"
            )
        model._use(item_factors)
        return model
