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
from recommender.sparse import gather_rows, l2_normalised_rows


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


LINK_CANDIDATES = 50  # the shopper's heaviest items a reason may name


@dataclass(frozen=True)
class Peers:
    """One shopper's row (items and weights) and their most similar training users."""

    items: np.ndarray
    weights: np.ndarray
    users: np.ndarray
    sims: np.ndarray


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
        return cls(l2_normalised_rows(user_items).T.tocsr(), bought, params)

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

    def peers(self, user_row: csr_matrix, exclude_user: int = -1) -> Peers:
        """One row's most similar training users (exclude_user: a training user to leave
        out, e.g. the shopper's own row; -1: none)."""
        row = self._check(user_row)
        if row.shape[0] != 1:
            raise ValueError(f"peers takes one row, not {row.shape[0]}")
        return self._peers(row.indices, row.data, exclude_user)

    def _peers(self, items: np.ndarray, weights: np.ndarray, exclude: int) -> Peers:
        norm = float(np.sqrt(np.square(weights, dtype=np.float64).sum()))
        if norm == 0:
            return Peers(items, weights, np.empty(0, np.int64), np.empty(0, np.float32))
        unit = (weights / norm).astype(np.float32)
        row = csr_matrix((unit, items, [0, len(items)]), shape=(1, self.n_items))
        product = row @ self.item_users  # sparse x sparse: only the row's items are read
        users, sims = product.indices, product.data
        keep = (sims > 0) & (users != exclude)
        users, sims = users[keep], sims[keep]
        if len(users) > self.params.neighbours:
            best = np.argpartition(-sims, self.params.neighbours - 1)[: self.params.neighbours]
            users, sims = users[best], sims[best]
        return Peers(items, weights, users.astype(np.int64), sims.astype(np.float32))

    def _rows(self, user_items: csr_matrix, exclude_users: np.ndarray | None) -> Iterator[Peers]:
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
        indptr = np.r_[0, np.cumsum([len(p.users) for p in found])]
        users = np.concatenate([p.users for p in found]) if found else np.empty(0, np.int64)
        sims = np.concatenate([p.sims for p in found]) if found else np.empty(0, np.float32)
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
        for row, peers in enumerate(self._rows(user_items, exclude_users)):
            scores[row], buyers[row] = self.bought_by(peers)
        return scores, buyers

    def bought_by(self, peers: Peers) -> tuple[np.ndarray, np.ndarray]:
        """Per item, one row's score (see the module docstring) and how many of its peers
        bought it recently."""
        positions, owner = gather_rows(self.recent.indptr, peers.users)
        items = self.recent.indices[positions]
        scores = np.bincount(items, peers.sims[owner], minlength=self.n_items)
        return scores.astype(np.float32), np.bincount(items, minlength=self.n_items)

    def links(self, peers: Peers, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each target item, the item of the shopper's row held by most of the peers who
        bought the target recently, and how many of them hold it (-1 and 0 when none): what
        the reason names. Only the shopper's LINK_CANDIDATES heaviest items are candidates."""
        targets = np.asarray(targets, dtype=np.int64)
        none = np.full(len(targets), -1), np.zeros(len(targets), dtype=np.int64)
        if not len(peers.users) or not len(targets):
            return none
        order = np.argsort(-peers.weights, kind="stable")[:LINK_CANDIDATES]
        items = peers.items[order]
        column = np.full(self.n_users, -1)
        column[peers.users] = np.arange(len(peers.users))
        positions, owner = gather_rows(self.item_users.indptr, items)
        peer = column[self.item_users.indices[positions]]
        shared = np.zeros((len(items), len(peers.users)), dtype=np.float32)
        shared[owner[peer >= 0], peer[peer >= 0]] = 1.0
        target_column = np.full(self.n_items, -1)
        target_column[targets] = np.arange(len(targets))
        positions, buyer = gather_rows(self.recent.indptr, peers.users)
        target = target_column[self.recent.indices[positions]]
        bought = np.zeros((len(peers.users), len(targets)), dtype=np.float32)
        bought[buyer[target >= 0], target[target >= 0]] = 1.0
        counts = shared @ bought  # candidate items x targets: peers who hold one, bought other
        # Among equal counts, the item the shopper cares most about (items are by weight).
        best = np.argmax(counts, axis=0)
        found = counts[best, np.arange(len(targets))].astype(np.int64)
        return np.where(found > 0, items[best], -1), found

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
