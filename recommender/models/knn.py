"""Item-item nearest neighbours: implicit's all-pairs k-NN over cosine or BM25 weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, normalize
from scipy.sparse import csr_matrix

from recommender.models.base import (
    Model,
    Progress,
    check_fit_input,
    check_items,
    check_k,
    check_positive,
    check_user_items,
    top_k,
)

SIMILARITIES = ("cosine", "bm25")


class ItemKNNModel(Model):
    """Scores an item by its similarity to the items in a user's row.

    score(i) = Σ_j w_j · sim(j, i) over the row's items j, where sim keeps each item's
    `neighbours` most similar items.

    Parameters
    ----------
    neighbours : int
        Similar items kept per item.
    similarity : {"cosine", "bm25"}
        Cosine between item columns, or BM25-weighted dot products.
    bm25_k1, bm25_b : float
        BM25 saturation and length normalisation (only for "bm25").
    num_threads : int
        Threads for the all-pairs search; 0 uses every core.
    """

    name = "item_knn"

    def __init__(
        self,
        neighbours: int = 50,
        similarity: str = "cosine",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        num_threads: int = 0,
    ) -> None:
        self.neighbours = check_k(neighbours, "neighbours")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, not {similarity!r}")
        self.similarity = similarity
        self.bm25_k1 = check_positive(bm25_k1, "bm25_k1", allow_zero=True)
        self.bm25_b = check_positive(bm25_b, "bm25_b", allow_zero=True)
        if self.bm25_b > 1:
            raise ValueError(f"bm25_b must be in [0, 1], not {bm25_b!r}")
        self.num_threads = int(num_threads)
        self._similarity = csr_matrix((0, 0), dtype=np.float32)

    def fit(self, user_items: csr_matrix, *, progress: Progress | None = None) -> Self:
        """Compute each item's nearest neighbours from the columns of user_items."""
        matrix = check_fit_input(user_items)
        if self.similarity == "cosine":
            weighted = normalize(matrix.T).T
        else:
            weighted = bm25_weight(matrix.T, K1=self.bm25_k1, B=self.bm25_b).T
        if progress:
            progress("item_knn", 0, 1)
        # neighbours + 1: every item is its own nearest neighbour.
        knn = ItemItemRecommender(K=self.neighbours + 1, num_threads=self.num_threads)
        knn.fit(csr_matrix(weighted), show_progress=False)
        similarity = csr_matrix(knn.similarity, dtype=np.float32)
        similarity.sort_indices()
        self._similarity = similarity
        if progress:
            progress("item_knn", 1, 1)
        return self

    @property
    def n_items(self) -> int:
        """Number of items the model was fitted on."""
        return self._similarity.shape[0]

    @property
    def similarity_matrix(self) -> csr_matrix:
        """Items x items; row j holds j's neighbours."""
        return self._similarity

    def score(self, user_items: csr_matrix) -> np.ndarray:
        """Σ_j w_j · sim(j, i) for each row; see `Model.score`."""
        rows = check_user_items(user_items, self.n_items)
        return np.asarray((rows @ self._similarity).todense(), dtype=np.float32)

    def similar_items(self, item: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """item's stored neighbours, most similar first."""
        check_k(k)
        (index,) = check_items([item], self.n_items)
        start, end = self._similarity.indptr[index], self._similarity.indptr[index + 1]
        ids = self._similarity.indices[start:end]
        scores = self._similarity.data[start:end]
        keep = ids != index
        dense = np.full(self.n_items, -np.inf, dtype=np.float32)
        dense[ids[keep]] = scores[keep]
        return top_k(dense, k, ~np.isfinite(dense))

    def contributions(self, user_items: csr_matrix, items: np.ndarray) -> np.ndarray:
        """w_j · sim(j, i) for each target i and row item j."""
        row = check_user_items(user_items, self.n_items, single=True)
        targets = check_items(items, self.n_items)
        block = self._similarity[row.indices][:, targets].toarray()
        return (block * row.data[:, None]).T

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "neighbours": self.neighbours,
            "similarity": self.similarity,
            "bm25_k1": self.bm25_k1,
            "bm25_b": self.bm25_b,
            "num_threads": self.num_threads,
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The similarity matrix as CSR arrays."""
        s = self._similarity
        return {
            "data": s.data,
            "indices": s.indices,
            "indptr": s.indptr,
            "shape": np.array(s.shape, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild from the saved similarity matrix."""
        model = cls(**params)
        n, m = (int(v) for v in arrays["shape"])
        if n != m:
            raise ValueError(f"the similarity matrix must be square, not {n} x {m}")
        model._similarity = csr_matrix(
            (arrays["data"].astype(np.float32), arrays["indices"], arrays["indptr"]),
            shape=(n, m),
        )
        return model
