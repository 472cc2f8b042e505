"""The offline check of similar_items (recommender.similar_evaluation)."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from recommender.similar_evaluation import MODEL, choose_tau, lists_matrix, score_lists


def test_score_lists_counts_hits_per_pair() -> None:
    # Two customers over 4 items; customer 0 bought 0, 1, 2 and customer 1 bought 0 only.
    truth = csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    lists = lists_matrix({0: np.array([1, 3]), 1: np.array([3, 2]), 2: np.array([3])}, 4)
    scores = score_lists(truth, lists, np.array([0, 1, 2, 2]), k=2)
    assert list(scores.groups) == [0, 0, 0]  # customer 1 bought nothing else
    np.testing.assert_allclose(scores.precision, [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(scores.hit, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(scores.buckets, [0, 1, 2])


def test_choose_tau_keeps_the_frequent_items_whole() -> None:
    def row(*precision: float) -> dict[str, tuple[int, float, float]]:
        names = ["1-4", "5-19", "20+"]
        return {name: (10, p, 0.0) for name, p in zip(names, precision, strict=True)}

    table = {
        MODEL: row(0.1, 0.1, 0.3),
        "blend tau 5": row(0.2, 0.2, 0.31),
        "blend tau 50": row(0.3, 0.3, 0.29),  # better on average, worse for frequent items
    }
    assert choose_tau(table, [5.0, 50.0]) == 5.0
    table["blend tau 5"] = row(0.2, 0.2, 0.29)
    assert choose_tau(table, [5.0, 50.0]) == 0.0
