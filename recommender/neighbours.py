"""Shoppers like you: what the most similar shoppers bought recently.

Every training user's row (the weighted matrix the model sees) is L2-normalised, so the
similarity of two shoppers is the cosine of their rows. For a shopper's row, the
`neighbours` most similar training users are found (the shopper's own training row left
out), and an item's score is

    sum over those neighbours v of sim(shopper, v) x [v bought the item in the last
    `recent_days` before the end of the training data]

This follows what a shopper's peers are buying now, which the model's factors, learnt over
the whole history, are slow to show: a new season's range, or a product just launched.
`recommender.blending` mixes it in by `BlendParams.neighbours`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
from scipy.sparse import csr_matrix

from recommender.models.base import check_k, check_positive


@dataclass(frozen=True)
class NeighbourParams:
    """How the shoppers-like-you signal is built.

    Parameters
    ----------
    neighbours : int
        Most similar training users kept per shopper.
    recent_days : float
        The window, ending at the end of the training data, whose purchases count.
    """

    neighbours: int = 200
    recent_days: float = 30.0

    def __post_init__(self) -> None:
        check_k(self.neighbours, "neighbours")
        check_positive(self.recent_days, "recent_days")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters written by `to_dict`."""
        return cls(**data)


def _normalised_rows(matrix: csr_matrix) -> csr_matrix:
    matrix = csr_matrix(matrix, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    matrix.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(matrix.indptr))
    return matrix


def _gather(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the given rows' entries in a CSR matrix's indices and data, and the
    position in rows each entry belongs to."""
    starts = indptr[rows]
    lengths = indptr[np.asarray(rows) + 1] - starts
    owner = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(int(lengths.sum())) + offsets, owner


class NeighbourIndex:
    """Training users' normalised rows (item -> users) and their recent purchases.

    Parameters
    ----------
    item_users : scipy.sparse.csr_matrix
        Items x users: the transpose of the L2-normalised training rows.
    recent : scipy.sparse.csr_matrix
        Users x items, 1 where the user bought the item in the recent window.
    params : NeighbourParams
    """

    def __init__(
        self, item_users: csr_matrix, recent: csr_matrix, params: NeighbourParams | None = None
    ) -> None:
        self.params = params or NeighbourParams()
        self.item_users = csr_matrix(item_users, dtype=np.float32)
        self.recent = csr_matrix(recent, dtype=np.float32)
        n_items, n_users = self.item_users.shape
        if self.recent.shape != (n_users, n_items):
            raise ValueError(
                f"recent purchases are {self.recent.shape}, expected {(n_users, n_items)}"
            )

    @classmethod
    def build(
        cls, user_items: csr_matrix, recent: csr_matrix, params: NeighbourParams | None = None
    ) -> NeighbourIndex:
        """The index of a weighted users x items training matrix and a users x items matrix
        of recent purchases (any positive value counts as bought)."""
        if recent.shape != user_items.shape:
            raise ValueError("recent purchases and the training matrix differ in shape")
        bought = csr_matrix(recent, dtype=np.float32, copy=True)
        bought.eliminate_zeros()
        bought.data[:] = 1.0
        return cls(_normalised_rows(user_items).T.tocsr(), bought, params)

    @property
    def n_items(self) -> int:
        """Items covered."""
        return int(self.item_users.shape[0])

    @property
    def n_users(self) -> int:
        """Training users."""
        return int(self.item_users.shape[1])

    def with_params(self, params: NeighbourParams) -> NeighbourIndex:
        """The same users with another neighbour count (the window needs a rebuild)."""
        if params.recent_days != self.params.recent_days:
            raise ValueError("a different recent window needs NeighbourIndex.build")
        return (
            self if params == self.params else NeighbourIndex(self.item_users, self.recent, params)
        )

    def _check(self, user_items: csr_matrix) -> csr_matrix:
        if user_items.shape[1] != self.n_items:
            raise ValueError(
                f"user_items has {user_items.shape[1]} columns but the index has {self.n_items}"
            )
        return csr_matrix(user_items)

    def _peers(
        self, items: np.ndarray, weights: np.ndarray, exclude: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One row's most similar training users and their cosine similarities."""
        norm = float(np.sqrt(np.square(weights, dtype=np.float64).sum()))
        if norm == 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        # numpy gathers instead of a sparse product: scipy's checks cost more than the work.
        positions, owner = _gather(self.item_users.indptr, items)
        sims = np.bincount(
            self.item_users.indices[positions],
            self.item_users.data[positions] * (weights / norm)[owner],
            minlength=self.n_users,
        )
        if exclude >= 0:
            sims[exclude] = 0.0
        users = np.flatnonzero(sims > 0)
        keep = self.params.neighbours
        if len(users) > keep:
            users = users[np.argpartition(-sims[users], keep - 1)[:keep]]
        return users, sims[users].astype(np.float32)

    def _rows(
        self, user_items: csr_matrix, exclude_users: np.ndarray | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        user_items = self._check(user_items)
        excluded = np.full(user_items.shape[0], -1) if exclude_users is None else exclude_users
        for row in range(user_items.shape[0]):
            start, end = user_items.indptr[row], user_items.indptr[row + 1]
            yield self._peers(
                user_items.indices[start:end], user_items.data[start:end], int(excluded[row])
            )

    def neighbours(
        self, user_items: csr_matrix, exclude_users: np.ndarray | None = None
    ) -> csr_matrix:
        """Rows x users: each row's most similar training users and their cosine similarity.

        exclude_users gives, per row, a training user to leave out (-1: none), e.g. the
        shopper's own training row.
        """
        found = list(self._rows(user_items, exclude_users))
        indptr = np.r_[0, np.cumsum([len(users) for users, _ in found])]
        users = np.concatenate([u for u, _ in found]) if found else np.empty(0, np.int64)
        sims = np.concatenate([s for _, s in found]) if found else np.empty(0, np.float32)
        return csr_matrix((sims, users, indptr), shape=(len(found), self.n_users))

    def scores(self, user_items: csr_matrix, exclude_users: np.ndarray | None = None) -> np.ndarray:
        """Rows x items: the similarity-weighted count of neighbours who recently bought each
        item (see the module docstring)."""
        return self.scores_and_buyers(user_items, exclude_users)[0]

    def scores_and_buyers(
        self, user_items: csr_matrix, exclude_users: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`scores`, and rows x items: how many of the neighbours bought each item recently
        (what the reason quotes)."""
        shape = (user_items.shape[0], self.n_items)
        scores = np.zeros(shape, dtype=np.float32)
        buyers = np.zeros(shape, dtype=np.int32)
        for row, (users, sims) in enumerate(self._rows(user_items, exclude_users)):
            positions, owner = _gather(self.recent.indptr, users)
            items = self.recent.indices[positions]
            scores[row] = np.bincount(items, sims[owner], minlength=self.n_items)
            buyers[row] = np.bincount(items, minlength=self.n_items)
        return scores, buyers

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in self.to_arrays().values())

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as named numpy arrays, for `Recommender.save`."""
        return {
            "item_users.data": self.item_users.data,
            "item_users.indices": self.item_users.indices,
            "item_users.indptr": self.item_users.indptr,
            "recent.indices": self.recent.indices,
            "recent.indptr": self.recent.indptr,
        }

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild an index written by `to_arrays`."""
        n_items = len(arrays["item_users.indptr"]) - 1
        n_users = len(arrays["recent.indptr"]) - 1
        item_users = csr_matrix(
            (arrays["item_users.data"], arrays["item_users.indices"], arrays["item_users.indptr"]),
            shape=(n_items, n_users),
        )
        indices = arrays["recent.indices"]
        recent = csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, arrays["recent.indptr"]),
            shape=(n_users, n_items),
        )
        return cls(item_users, recent, NeighbourParams.from_dict(params))

    def __repr__(self) -> str:
        return (
            f"NeighbourIndex(users={self.n_users}, items={self.n_items}, "
            f"recent_purchases={self.recent.nnz}, neighbours={self.params.neighbours})"
        )
