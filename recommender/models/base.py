"""The interface every model implements, and shared argument checks.

Models work on matrix indices: rows are users (or live profiles), columns are items. Keys,
reasons and business rules live in `recommender.serving`.
"""

from __future__ import annotations

import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Self

import numpy as np
from scipy.sparse import csr_matrix, issparse

Progress = Callable[[str, int, int], None]
"""A progress callback: (stage, steps done, steps in all)."""


class Model(ABC):
    """A collaborative-filtering model over a user x item matrix.

    Every model scores items for a row of interaction weights, so a user who was not in the
    training data (or whose interactions changed a minute ago) is scored like any other.
    """

    name: ClassVar[str]

    @abstractmethod
    def fit(self, user_items: csr_matrix, *, progress: Progress | None = None) -> Self:
        """Learn from a user x item matrix of interaction weights.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix
            Users x items, the weight of each user's interactions with each item.
        progress : callable, optional
            Called as progress(stage, done, total) while fitting.

        Returns
        -------
        Model
            self, fitted.
        """

    @property
    @abstractmethod
    def n_items(self) -> int:
        """Number of items (columns) the model was fitted on; 0 before fitting."""

    @abstractmethod
    def score(self, user_items: csr_matrix) -> np.ndarray:
        """Score every item for each row of interaction weights.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix
            n x n_items weights, built like the training matrix; rows are recomputed from
            these weights, never looked up.

        Returns
        -------
        numpy.ndarray
            n x n_items float32 scores, higher is better.
        """

    @abstractmethod
    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Return the k items most similar to item (never item itself), best first.

        Returns
        -------
        tuple of numpy.ndarray
            (item indices, similarity scores).
        """

    @abstractmethod
    def contributions(self, user_items: csr_matrix, items: np.ndarray) -> np.ndarray:
        """How much each item in a single row contributes to the score of each of items.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix
            One row (1 x n_items).
        items : numpy.ndarray
            Item indices to explain.

        Returns
        -------
        numpy.ndarray
            len(items) x nnz(row) contributions; column j is the row's j-th stored item
            (``user_items.indices[j]``). A model without personal scores returns zeros.
        """

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, JSON-friendly."""

    @abstractmethod
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as plain numpy arrays (saved without pickle)."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild a fitted model from `get_params()` and `to_arrays()`."""

    def recommend(
        self,
        user_items: csr_matrix,
        k: int = 10,
        *,
        exclude: np.ndarray | None = None,
        filter_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the k best items for one row of interaction weights.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix
            One row (1 x n_items) of the user's current weights.
        k : int
            How many items to return at most.
        exclude : numpy.ndarray, optional
            Item indices that must not be returned.
        filter_seen : bool
            Leave out the items in the row.

        Returns
        -------
        tuple of numpy.ndarray
            (item indices, scores), best first.
        """
        check_k(k)
        row = check_user_items(user_items, self.n_items, single=True)
        scores = self.score(row)[0]
        mask = np.zeros(self.n_items, dtype=bool)
        if filter_seen:
            mask[row.indices] = True
        if exclude is not None and len(exclude):
            mask[check_items(exclude, self.n_items)] = True
        return top_k(scores, k, mask)

    def explain(self, user_items: csr_matrix, item: int, n: int = 3) -> list[tuple[int, float]]:
        """Return the n items of a row that contribute most to item's score, largest first.

        Returns
        -------
        list of (int, float)
            (item index, contribution); only positive contributions, possibly none.
        """
        check_k(n, "n")
        row = check_user_items(user_items, self.n_items, single=True)
        target = check_items(np.array([item]), self.n_items)
        if row.nnz == 0:
            return []
        values = self.contributions(row, target)[0]
        order = np.argsort(-values, kind="stable")[:n]
        return [(int(row.indices[j]), float(values[j])) for j in order if values[j] > 0]

    def top_contributors(
        self, user_items: csr_matrix, items: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each of items, the row item that contributes most (-1 when none is positive)."""
        row = check_user_items(user_items, self.n_items, single=True)
        if row.nnz == 0 or len(items) == 0:
            return np.full(len(items), -1), np.zeros(len(items))
        values = self.contributions(row, np.asarray(items))
        best = values.argmax(axis=1)
        amount = values[np.arange(len(items)), best]
        return np.where(amount > 0, row.indices[best], -1), amount

    def save(self, file: str | Path | BinaryIO) -> None:
        """Write the model to an .npz file (numpy arrays only, no pickle)."""
        params = json.dumps({"name": self.name, "params": self.get_params()})
        np.savez(file, __model__=np.array(params), **self.to_arrays())

    @classmethod
    def load(cls, file: str | Path | BinaryIO) -> Model:
        """Read a model written by `save`; raise ValueError if the file is not one."""
        from recommender.models import model_class

        if isinstance(file, bytes):
            file = io.BytesIO(file)
        with np.load(file, allow_pickle=False) as data:
            if "__model__" not in data:
                raise ValueError("not a saved model: the file has no __model__ entry")
            header = json.loads(str(data["__model__"]))
            arrays = {key: data[key] for key in data.files if key != "__model__"}
        model_type = model_class(header["name"])
        if cls is not Model and not issubclass(model_type, cls):
            raise ValueError(f"the file holds a {header['name']!r} model, not {cls.name!r}")
        return model_type.from_arrays(header["params"], arrays)

    @property
    def nbytes(self) -> int:
        """Bytes held by the fitted arrays."""
        return sum(a.nbytes for a in self.to_arrays().values())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def check_k(k: int, what: str = "k") -> int:
    """Return k if it is a positive integer; raise ValueError otherwise."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"{what} must be a positive integer, not {k!r}")
    return int(k)


def check_positive(value: float, what: str, *, allow_zero: bool = False) -> float:
    """Return value as float if it is > 0 (or >= 0); raise ValueError otherwise."""
    number = float(value)
    if not np.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{what} must be {bound}, not {value!r}")
    return number


def check_user_items(user_items: Any, n_items: int, *, single: bool = False) -> csr_matrix:
    """Return user_items as a float32 CSR matrix with n_items columns; raise ValueError if not."""
    if n_items == 0:
        raise ValueError("the model is not fitted")
    if not issparse(user_items):
        raise ValueError(
            f"user_items must be a scipy sparse matrix, not {type(user_items).__name__}"
        )
    if user_items.shape[1] != n_items:
        raise ValueError(
            f"user_items has {user_items.shape[1]} columns but the model has {n_items} items"
        )
    if single and user_items.shape[0] != 1:
        raise ValueError(f"expected a single row, got {user_items.shape[0]} rows")
    if isinstance(user_items, csr_matrix) and user_items.dtype == np.float32:
        return user_items
    return csr_matrix(user_items, dtype=np.float32)


def check_items(items: Any, n_items: int) -> np.ndarray:
    """Return items as an int array if all are valid indices; raise ValueError otherwise."""
    array = np.asarray(items)
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"item indices must be integers, not {array.dtype}")
    array = array.astype(np.int64).reshape(-1)
    if array.size and (array.min() < 0 or array.max() >= n_items):
        raise ValueError(
            f"item indices must be in [0, {n_items}), got {array.min()}..{array.max()}"
        )
    return array


def check_fit_input(user_items: Any) -> csr_matrix:
    """Return a training matrix as float32 CSR; raise ValueError when it is unusable."""
    if not issparse(user_items):
        raise ValueError(
            f"user_items must be a scipy sparse matrix, not {type(user_items).__name__}"
        )
    matrix = csr_matrix(user_items, dtype=np.float32)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0 or matrix.nnz == 0:
        raise ValueError(f"cannot fit on an empty matrix (shape {matrix.shape}, nnz {matrix.nnz})")
    if not np.all(np.isfinite(matrix.data)):
        raise ValueError("user_items holds NaN or infinite weights")
    return matrix


def top_k(
    scores: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the indices and scores of the k highest scores, skipping masked ones.

    Ties are broken by the lower index, so results are deterministic.
    """
    values = scores
    if exclude is not None and exclude.any():
        values = scores.copy()
        values[exclude] = -np.inf
    available = int(np.isfinite(values).sum()) if exclude is not None else len(values)
    k = min(k, available)
    if k <= 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
    if k < len(values):
        candidates = np.argpartition(-values, k - 1)[:k]
        # argpartition may cut a tie arbitrarily: widen to every candidate tied with the k-th.
        threshold = values[candidates].min()
        candidates = np.flatnonzero(values >= threshold)
    else:
        candidates = np.arange(len(values))
    candidates = candidates[np.isfinite(values[candidates])]
    order = np.lexsort((candidates, -values[candidates]))[:k]
    best = candidates[order]
    return best.astype(np.int64), values[best].astype(np.float32)


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the column indices of the k highest scores in each row, best first.

    Masked (-inf) scores sort last; callers drop them.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    return part[rows, order]
