"""similar_items: content similarity mixed in for items with few users (recommender.similar)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recommender import (
    ALSModel,
    BasketRules,
    ContentIndex,
    ContentParams,
    IdMap,
    ItemKNNModel,
    Recommender,
    TrainingParams,
)
from recommender.similar import (
    SimilarParams,
    blended_neighbours,
    content_weight,
    model_similarities,
)

KEYS = ["rare", "red-cup", "red-plate", "tea-pot", "far-1", "far-2", "best", "best-pal"]
TEXTS = {
    "rare": "RED RETROSPOT BAG",
    "red-cup": "RED RETROSPOT CUP",
    "red-plate": "RED RETROSPOT PLATE",
    "tea-pot": "GREEN TEA POT",
    "far-1": "WOODEN STAR",
    "far-2": "WOODEN HEART",
    "best": "GREEN TEA MUG",
    "best-pal": "PAPER NAPKINS",
}
# "rare" (one user) has factors next to far-1 and far-2, which have nothing to do with it;
# "best" (1,000 users) has factors next to best-pal and shares words with tea-pot.
FACTORS = np.array(
    [
        [1.0, 0.0, 0.0, 0.0],  # rare
        [0.0, 1.0, 0.0, 0.0],  # red-cup
        [0.0, 1.0, 0.1, 0.0],  # red-plate
        [0.0, 0.0, 1.0, 0.0],  # tea-pot
        [1.0, 0.1, 0.0, 0.0],  # far-1
        [1.0, 0.0, 0.2, 0.0],  # far-2
        [0.0, 0.0, 0.0, 1.0],  # best
        [0.0, 0.1, 0.0, 1.0],  # best-pal
    ],
    dtype=np.float32,
)
USERS = np.array([1, 40, 40, 30, 60, 60, 1_000, 900])


def shop(
    similar: SimilarParams | None = None,
    *,
    item_users: np.ndarray | None = USERS,
    content: bool = True,
) -> Recommender:
    """A recommender over KEYS with the factors, texts and user counts above."""
    items = IdMap(np.array(KEYS))
    n = len(KEYS)
    params = TrainingParams(similar=similar or SimilarParams())
    return Recommender(
        ALSModel.from_factors(FACTORS, regularization=1.0, alpha=1.0),
        items,
        IdMap(np.array(["u"])),
        params,
        np.ones(n, dtype=np.float32),
        BasketRules.empty(n),
        np.full(n, 0.5, dtype=np.float32),
        content=ContentIndex.build(items, TEXTS, ContentParams(20)) if content else None,
        item_users=item_users,
    )


def listed(recommender: Recommender, key: str, k: int = 3, **kwargs: object) -> list[str]:
    return [str(r.item) for r in recommender.similar_items(key, k, **kwargs)]  # type: ignore[arg-type]


def test_the_factors_of_the_rare_item_point_elsewhere() -> None:
    assert listed(shop(SimilarParams(0)), "rare", 2) == ["far-1", "far-2"]


def test_a_rare_item_gets_its_content_neighbours_first() -> None:
    results = shop().similar_items("rare", 3)
    assert {str(r.item) for r in results[:2]} == {"red-cup", "red-plate"}
    assert results[2].item == "far-1"  # the model still fills the list
    assert all(r.reason.text == "Similar to rare" for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_a_frequent_item_keeps_its_factor_neighbours() -> None:
    assert listed(shop(), "best", 2) == ["best-pal", "tea-pot"]
    assert listed(shop(SimilarParams(100_000)), "best", 1) == ["tea-pot"]  # content wins


def test_exclusions_apply_to_content_neighbours_too() -> None:
    assert "red-cup" not in listed(shop(), "rare", 5, exclude=["red-cup"])
    assert listed(shop(), "rare", 2, exclude=["red-cup", "red-plate"]) == ["far-1", "far-2"]


def test_without_content_or_user_counts_the_model_decides_alone() -> None:
    model_only = listed(shop(SimilarParams(0)), "rare")
    assert listed(shop(content=False), "rare") == model_only
    assert listed(shop(item_users=None), "rare") == model_only
    plain = shop(SimilarParams(0)).similar_items("rare", 3)
    assert [r.score for r in shop(item_users=None).similar_items("rare", 3)] == [
        r.score for r in plain
    ]


def test_an_item_without_content_neighbours_keeps_the_models_scores() -> None:
    texts = {**TEXTS, "rare": "UNIQUE"}
    base = shop()
    alone = Recommender(
        base.model,
        base.items,
        base.users,
        base.params,
        base.popularity,
        base.rules,
        base.rebuy_rates,
        content=ContentIndex.build(base.items, texts, ContentParams(20)),
        item_users=USERS,
    )
    expected = shop(SimilarParams(0)).similar_items("rare", 3)
    assert alone.similar_items("rare", 3) == expected


def test_content_weight() -> None:
    assert content_weight(20, 20) == pytest.approx(0.5)
    assert content_weight(1, 20) == pytest.approx(20 / 21)
    assert content_weight(1_000, 20) < 0.02
    assert content_weight(5, 0) == 0.0


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_bad_similar_params_are_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="content_buyers"):
        SimilarParams(value)


def test_the_blend_is_the_top_k_over_the_whole_catalogue() -> None:
    rng = np.random.default_rng(5)
    n = 80
    factors = rng.standard_normal((n, 6)).astype(np.float32)
    model = ALSModel.from_factors(factors, regularization=1.0, alpha=1.0)
    columns = rng.integers(0, n, (n, 7))
    similarity = csr_matrix(
        (rng.random(n * 7).astype(np.float32), columns.ravel(), np.arange(0, n * 7 + 1, 7)),
        shape=(n, n),
    )
    similarity.sum_duplicates()
    norms = np.linalg.norm(factors.astype(np.float64), axis=1)
    for item in range(0, n, 7):
        for weight in (0.1, 0.5, 0.9):
            excluded = np.zeros(n, dtype=bool)
            excluded[rng.integers(0, n, 4)] = True
            row = similarity[item]
            ids, scores = blended_neighbours(
                model, item, 5, excluded, row.indices, row.data, weight
            )
            cosine = factors.astype(np.float64) @ factors[item] / (norms * norms[item])
            cosine[item] = -np.inf
            content = np.zeros(n)
            content[row.indices] = row.data
            content[item] = 0.0
            everything = (1 - weight) * cosine / cosine.max() + weight * content / content.max()
            everything[excluded] = -np.inf
            expected = np.argsort(-everything, kind="stable")[:5]
            np.testing.assert_array_equal(ids, expected)
            np.testing.assert_allclose(scores, everything[expected], rtol=1e-5)


def test_model_similarities_of_a_model_without_factors() -> None:
    rows = csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32))
    knn = ItemKNNModel(neighbours=2).fit(rows)
    values = model_similarities(knn, 0, np.array([1, 2]))
    assert values[0] > 0 and values[1] == 0  # item 2 is not one of item 0's neighbours


def test_params_round_trip_and_old_params_get_the_default() -> None:
    params = TrainingParams(similar=SimilarParams(7.5))
    assert TrainingParams.from_dict(params.to_dict()) == params
    old = params.to_dict()
    del old["similar"]
    assert TrainingParams.from_dict(old).similar == SimilarParams()


def _rewritten(recommender: Recommender, drop: tuple[str, ...]) -> bytes:
    """recommender's artifact as an older version wrote it: without `drop` arrays and without
    the similar parameters."""
    buffer = io.BytesIO()
    recommender.save(buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key not in drop}
    header = json.loads(str(arrays.pop("__header__")))
    del header["params"]["similar"]
    out = io.BytesIO()
    np.savez(out, __header__=np.array(json.dumps(header)), **arrays)
    return out.getvalue()


def test_save_and_load_keep_the_blend() -> None:
    recommender = shop(SimilarParams(3.0))
    buffer = io.BytesIO()
    recommender.save(buffer)
    loaded = Recommender.load(buffer.getvalue())
    assert loaded.params.similar == SimilarParams(3.0)
    assert loaded.similar_items("rare", 3) == recommender.similar_items("rare", 3)


def test_an_old_artifact_without_user_counts_serves_the_models_lists() -> None:
    loaded = Recommender.load(_rewritten(shop(), ("item_users",)))
    assert loaded.params.similar == SimilarParams()
    assert loaded.similar_items("rare", 3) == shop(SimilarParams(0)).similar_items("rare", 3)


def test_an_artifact_with_user_counts_but_no_similar_params_uses_the_default() -> None:
    loaded = Recommender.load(_rewritten(shop(), ()))
    assert loaded.similar_items("rare", 3) == shop().similar_items("rare", 3)
