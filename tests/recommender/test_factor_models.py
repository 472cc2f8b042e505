"""ALS and BPR details: request-time recalculation and explanations match implicit."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from recommender import ALSModel, BPRModel
from recommender._blas import single_threaded_blas
from tests.recommender.conftest import row_of


def test_als_scores_come_from_implicits_recalculate_user(cluster_matrix: csr_matrix) -> None:
    model = ALSModel(factors=4, iterations=5, alpha=3.0).fit(cluster_matrix)
    row = row_of([0, 3, 12], 20, [1.0, 2.0, 0.5])
    with single_threaded_blas():
        implicit_model = model._als
        assert implicit_model is not None
        expected_ids, expected_scores = implicit_model.recommend(
            0, row, N=5, recalculate_user=True, filter_already_liked_items=True
        )
    ids, scores = model.recommend(row, k=5)
    assert ids.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4)


def test_als_contributions_match_implicits_explain(cluster_matrix: csr_matrix) -> None:
    model = ALSModel(factors=4, iterations=5, alpha=3.0, regularization=0.2).fit(cluster_matrix)
    row = row_of([0, 3, 12], 20, [1.0, 2.0, 0.5])
    assert model._als is not None
    for target in (1, 15):
        total, top, _ = model._als.explain(0, row, target, N=3)
        ours = model.explain(row, target, n=3)
        expected = {int(i): float(s) for i, s in top if s > 0}
        assert {i: round(s, 4) for i, s in ours} == {i: round(s, 4) for i, s in expected.items()}
        contributions = model.contributions(row, np.array([target]))[0]
        np.testing.assert_allclose(contributions.sum(), total, rtol=1e-4)
        # The contributions add up to the score of the recomputed user.
        np.testing.assert_allclose(total, model.score(row)[0, target], rtol=1e-3)


def test_als_keeps_no_user_factors(cluster_matrix: csr_matrix) -> None:
    model = ALSModel(factors=4, iterations=3).fit(cluster_matrix)
    assert set(model.to_arrays()) == {"item_factors"}
    assert model.nbytes == 20 * 4 * 4


def test_als_from_factors_scores_a_row() -> None:
    factors = np.eye(3, dtype=np.float32)
    model = ALSModel.from_factors(factors, regularization=0.01, alpha=1.0)
    scores = model.score(row_of([1], 3))[0]
    assert int(np.argmax(scores)) == 1


def test_bpr_fold_in_explains_the_whole_score(cluster_matrix: csr_matrix) -> None:
    model = BPRModel(factors=2, iterations=50).fit(cluster_matrix)
    row = row_of([0, 1, 2], 20)
    contributions = model.contributions(row, np.array([5]))[0]
    np.testing.assert_allclose(contributions.sum(), model.score(row)[0, 5], rtol=1e-3)
