"""One contract, every model: ALS, BPR, item k-NN and popularity."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recommender.models import MODELS, Model, create_model
from tests.recommender.conftest import row_of

SMALL = {
    # The clusters have rank 2: more factors only fit noise.
    "als": {"factors": 2, "iterations": 15, "regularization": 0.1, "alpha": 2.0},
    # One thread: multi-threaded BPR updates race (Hogwild), so results vary run to run.
    "bpr": {"factors": 2, "iterations": 200, "learning_rate": 0.05, "num_threads": 1},
    "item_knn": {"neighbours": 10},
    "popularity": {},
}
PERSONAL = ["als", "bpr", "item_knn"]


@pytest.fixture(params=sorted(MODELS))
def name(request: pytest.FixtureRequest) -> str:
    """Each registered model name."""
    return request.param


@pytest.fixture
def model(name: str, cluster_matrix: csr_matrix) -> Model:
    """That model, fitted on two clean clusters."""
    return create_model(name, **SMALL[name]).fit(cluster_matrix)


def test_every_model_is_covered() -> None:
    assert set(SMALL) == set(MODELS)


def test_fit_records_the_catalogue_size(model: Model) -> None:
    assert model.n_items == 20


def test_score_has_one_row_per_input_row(model: Model) -> None:
    rows = csr_matrix(np.eye(3, 20, dtype=np.float32))
    scores = model.score(rows)
    assert scores.shape == (3, 20)
    assert scores.dtype == np.float32
    assert np.all(np.isfinite(scores))


def test_recommend_returns_k_items_best_first(model: Model) -> None:
    ids, scores = model.recommend(row_of([0, 1, 2], 20), k=5)
    assert len(ids) == 5
    assert len(set(ids.tolist())) == 5
    assert np.all(np.diff(scores) <= 0)


def test_recommend_filters_seen_items_and_exclusions(model: Model) -> None:
    ids, _ = model.recommend(row_of([0, 1, 2], 20), k=20, exclude=np.array([3, 4]))
    assert not {0, 1, 2, 3, 4} & set(ids.tolist())
    assert len(ids) == 15


def test_recommend_can_return_seen_items(model: Model) -> None:
    ids, _ = model.recommend(row_of([0, 1, 2], 20), k=20, filter_seen=False)
    assert len(ids) == 20


def test_recommend_agrees_with_score(model: Model) -> None:
    row = row_of([11, 12], 20)
    ids, scores = model.recommend(row, k=3, filter_seen=False)
    full = model.score(row)[0]
    np.testing.assert_allclose(scores, np.sort(full)[::-1][:3], rtol=1e-5)
    np.testing.assert_allclose(full[ids], scores, rtol=1e-5)


@pytest.mark.parametrize("name", PERSONAL, indirect=True)
def test_personal_models_recommend_from_the_users_cluster(model: Model) -> None:
    for seen, cluster in (([0, 1, 2], range(10)), ([10, 11, 12], range(10, 20))):
        ids, _ = model.recommend(row_of(seen, 20), k=4)
        assert set(ids.tolist()) <= set(cluster), ids


@pytest.mark.parametrize("name", PERSONAL, indirect=True)
def test_a_new_row_changes_the_ranking(model: Model) -> None:
    before = model.score(row_of([0, 1], 20))[0]
    after = model.score(row_of([0, 1, 15, 16, 17], 20))[0]
    assert after[10:].mean() - before[10:].mean() > 0


@pytest.mark.parametrize("name", PERSONAL, indirect=True)
def test_similar_items_stay_in_the_cluster(model: Model) -> None:
    ids, scores = model.similar_items(3, k=4)
    assert 3 not in ids.tolist()
    assert set(ids.tolist()) <= set(range(10))
    assert np.all(np.diff(scores) <= 0)


def test_similar_items_never_returns_the_item(model: Model) -> None:
    ids, _ = model.similar_items(7, k=19)
    assert 7 not in ids.tolist()
    assert len(ids) <= 19


@pytest.mark.parametrize("name", PERSONAL, indirect=True)
def test_explain_names_items_of_the_row(model: Model) -> None:
    row = row_of([0, 1, 15], 20)
    target, _ = model.recommend(row, k=1)
    contributions = model.explain(row, int(target[0]), n=3)
    assert contributions, "a personal model explains with the row's items"
    assert {item for item, _ in contributions} <= {0, 1, 15}
    values = [value for _, value in contributions]
    assert values == sorted(values, reverse=True)
    assert contributions[0][0] in (0, 1)  # the target is in cluster 0


def test_popularity_explains_nothing(cluster_matrix: csr_matrix) -> None:
    model = create_model("popularity").fit(cluster_matrix)
    assert model.explain(row_of([0, 1], 20), 3) == []


def test_save_and_load_give_the_same_scores(model: Model) -> None:
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = Model.load(buffer)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    row = row_of([0, 5, 12], 20)
    np.testing.assert_allclose(loaded.score(row), model.score(row), rtol=1e-5, atol=1e-6)


def test_load_rejects_a_file_that_is_not_a_model() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, something=np.arange(3))
    buffer.seek(0)
    with pytest.raises(ValueError, match="not a saved model"):
        Model.load(buffer)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_is_a_value_error(model: Model, k: object) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend(row_of([0], 20), k=k)  # type: ignore[arg-type]


def test_a_row_of_the_wrong_width_is_a_value_error(model: Model) -> None:
    with pytest.raises(ValueError, match="columns but the model has 20 items"):
        model.score(row_of([0], 21))


def test_a_dense_row_is_a_value_error(model: Model) -> None:
    with pytest.raises(ValueError, match="scipy sparse matrix"):
        model.score(np.ones((1, 20)))  # type: ignore[arg-type]


def test_an_unknown_item_index_is_a_value_error(model: Model) -> None:
    with pytest.raises(ValueError, match=r"item indices must be in \[0, 20\)"):
        model.similar_items(20)


def test_fitting_an_empty_matrix_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="empty matrix"):
        create_model(name, **SMALL[name]).fit(csr_matrix((3, 4), dtype=np.float32))


def test_an_unfitted_model_refuses_to_score(name: str) -> None:
    with pytest.raises(ValueError, match="not fitted"):
        create_model(name).score(row_of([0], 20))
