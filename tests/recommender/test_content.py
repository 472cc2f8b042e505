"""Content similarity from item features: TF-IDF of description tokens, blended by weight."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recommender import (
    BlendParams,
    ContentIndex,
    ContentParams,
    IdMap,
    Interactions,
    Recommender,
    SearchSpace,
    TrainingParams,
    read_item_features_csv,
    train,
    tune,
)
from recommender.blending import blend
from recommender.content import tokenize
from recommender.evaluation import evaluate
from recommender.splits import time_split
from tests.recommender.conftest import (
    CLUSTERS,
    DAY,
    ITEMS_PER_CLUSTER,
    START,
    cluster_items,
    item_key,
    row_of,
)

CATALOGUE = {
    "A": "JUMBO BAG RED RETROSPOT",
    "B": "LUNCH BAG RED RETROSPOT",
    "C": "CHRISTMAS TREE DECORATION",
    "D": "WOODEN STAR CHRISTMAS DECORATION",
    "E": "JUMBO BAG PINK POLKADOT",
}
SMALL_ALS = {"factors": 8, "iterations": 10, "regularization": 0.1}


def index_of(features: dict[str, str], keys: list[str], neighbours: int = 50) -> ContentIndex:
    """A content index over keys built from features."""
    return ContentIndex.build(IdMap(keys), features, ContentParams(neighbours=neighbours))


def test_tokenize_splits_text_and_keeps_given_tokens() -> None:
    assert tokenize("Jumbo bag, red-RETROSPOT 3 x 10cm") == [
        "JUMBO",
        "BAG",
        "RED",
        "RETROSPOT",
        "10CM",
    ]
    assert tokenize(["brand:acme", "red"]) == ["brand:acme", "red"]
    assert tokenize("") == []


def test_items_sharing_tokens_are_more_similar() -> None:
    keys = list(CATALOGUE)
    index = index_of(CATALOGUE, keys)
    sim = index.similarity.toarray()
    a, b, c, d, e = range(5)
    assert sim[a, b] > sim[a, e] > 0  # three shared tokens beat two
    assert sim[a, c] == 0 and sim[a, d] == 0  # nothing shared
    assert sim[c, d] > 0
    assert np.all(np.diag(sim) == 0)  # never the item itself
    assert np.allclose(sim, sim.T)


def test_rare_tokens_weigh_more_than_common_ones() -> None:
    features = {
        "x": "SET OF RETROSPOT",
        "y": "SET OF RETROSPOT MUGS",
        "z": "SET OF CANDLES",
        "w": "SET OF CUPS",
        "v": "SET OF PLATES",
    }
    index = index_of(features, list(features))
    sim = index.similarity.toarray()
    # x shares the rare RETROSPOT with y, only the common SET and OF with z.
    assert sim[0, 1] > 2 * sim[0, 2]


def test_items_without_features_are_handled() -> None:
    keys = [*CATALOGUE, "no-text", "blank"]
    features = {**CATALOGUE, "blank": "  -  ", "not-in-catalogue": "RED RETROSPOT"}
    index = index_of(features, keys)
    assert index.n_items == 7
    assert index.described == 5
    sim = index.similarity.toarray()
    assert not sim[5:].any() and not sim[:, 5:].any()
    assert index.tokens_of(5) == []
    scores = index.scores(row_of([5, 6], 7))
    assert scores.shape == (1, 7) and not scores.any()


def test_neighbours_cap_each_row() -> None:
    features = {f"i{n}": f"RED THING NUMBER{n}" for n in range(30)}
    index = index_of(features, list(features), neighbours=4)
    assert np.diff(index.similarity.indptr).max() == 4
    assert np.diff(index.with_params(ContentParams(10)).similarity.indptr).max() == 10


def test_content_scores_follow_the_shoppers_items() -> None:
    index = index_of(CATALOGUE, list(CATALOGUE))
    scores = index.scores(row_of([0], 5))[0]  # bought A
    assert scores[1] > scores[4] > scores[2] == 0
    with pytest.raises(ValueError, match="columns"):
        index.scores(row_of([0], 4))


def test_bad_content_params_are_rejected() -> None:
    with pytest.raises(ValueError, match="neighbours"):
        ContentParams(neighbours=0)
    with pytest.raises(ValueError, match="content blend weight"):
        BlendParams(content=-1.0)


def test_blend_adds_content_only_with_a_weight() -> None:
    model = np.array([[1.0, 0.5, 0.0]], dtype=np.float32)
    content = np.array([[0.0, 0.0, 2.0]], dtype=np.float32)
    off = blend(model, BlendParams(), content=content)
    assert off is model
    on = blend(model, BlendParams(content=0.5), content=content)
    assert np.allclose(on, [[1.0, 0.5, 0.5]])
    no_overlap = blend(model, BlendParams(content=0.5), content=np.zeros_like(content))
    assert np.allclose(no_overlap, [[1.0, 0.5, 0.0]])


# --- in a trained recommender ------------------------------------------------------------


def cluster_features(shared: tuple[str, str] | None = None) -> dict[str, str]:
    """A unique word per item; with shared=(a, b), items a and b also share rare words."""
    features = {item_key(i): f"PRODUCT WORD{i}" for i in range(CLUSTERS * ITEMS_PER_CLUSTER)}
    if shared:
        for key in shared:
            features[key] += " RED RETROSPOT"
    return features


def test_training_without_features_changes_nothing(interactions: Interactions) -> None:
    params = TrainingParams(model_params=SMALL_ALS)
    plain = train(interactions, params)
    with_features = train(interactions, params, item_features=cluster_features())
    assert plain.content is None
    assert with_features.content is not None and with_features.content.described == 30
    shopper = [("me", "sku-00", "purchase", START + 30 * DAY)]
    now = START + 31 * DAY
    assert plain.for_user(shopper, now=now) == with_features.for_user(shopper, now=now)
    buffer = io.BytesIO()
    plain.save(buffer)
    assert not any(k.startswith("content.") for k in np.load(io.BytesIO(buffer.getvalue())))


def test_content_weight_brings_similar_items_up(interactions: Interactions) -> None:
    # sku-00 (cluster 0) and sku-25 (cluster 2) share "RED RETROSPOT".
    features = cluster_features(shared=("sku-00", "sku-25"))
    params = TrainingParams(model_params=SMALL_ALS)
    shopper = [("me", "sku-00", "purchase", START + 30 * DAY)]
    now = START + 31 * DAY
    without = train(interactions, params, item_features=features).for_user(shopper, now=now)
    assert without[0].item != "sku-25"
    assert "sku-25" not in [r.item for r in without[:3]]
    strong = replace(params, blend=replace(params.blend, content=100.0))
    with_content = train(interactions, strong, item_features=features).for_user(shopper, now=now)
    assert with_content[0].item == "sku-25"


def test_save_load_keeps_features_and_lists(interactions: Interactions, tmp_path: Path) -> None:
    features = cluster_features(shared=("sku-00", "sku-25"))
    params = TrainingParams(
        model_params=SMALL_ALS,
        blend=BlendParams(content=0.5),
        content=ContentParams(neighbours=7),
    )
    trained = train(interactions, params, item_features=features)
    path = tmp_path / "model.npz"
    trained.save(path)
    loaded = Recommender.load(path)
    assert loaded.content is not None and trained.content is not None
    assert loaded.content.params == ContentParams(neighbours=7)
    assert list(loaded.content.vocabulary) == list(trained.content.vocabulary)
    assert (loaded.content.vectors != trained.content.vectors).nnz == 0
    assert (loaded.content.similarity != trained.content.similarity).nnz == 0
    assert loaded.content.tokens_of(0) == ["PRODUCT", "RED", "RETROSPOT", "WORD0"]
    assert loaded.params == trained.params
    shopper = [("me", "sku-00", "purchase", START + 30 * DAY)]
    now = START + 31 * DAY
    assert loaded.for_user(shopper, now=now) == trained.for_user(shopper, now=now)
    assert "content=ContentIndex(items=30" in repr(loaded)
    assert loaded.nbytes > train(interactions, params).nbytes


def test_a_content_index_of_the_wrong_size_is_refused(interactions: Interactions) -> None:
    trained = train(interactions, TrainingParams(model_params=SMALL_ALS))
    wrong = index_of(CATALOGUE, list(CATALOGUE))
    with pytest.raises(ValueError, match="content covers 5 items"):
        Recommender(
            trained.model,
            trained.items,
            trained.users,
            trained.params,
            trained.popularity,
            trained.rules,
            trained.rebuy_rates,
            content=wrong,
        )


def test_from_arrays_rejects_a_mismatched_similarity() -> None:
    arrays = index_of(CATALOGUE, list(CATALOGUE)).to_arrays()
    arrays["similarity.indptr"] = arrays["similarity.indptr"][:-1]
    with pytest.raises(ValueError):
        ContentIndex.from_arrays({"neighbours": 50}, arrays)


# --- evaluation and tuning ---------------------------------------------------------------

SPACE = SearchSpace(
    model={"factors": (8,), "regularization": (0.1,), "alpha": (1.0,), "iterations": (10,)},
    half_life_days=(None,),
    popular=(0.0,),
    buy_again=(1.0,),
    buy_again_half_life_days=(None,),
    content=(0.5, 2.0, 8.0),
    content_neighbours=(3, 10),
)
TASTES, ITEMS_PER_TASTE, SHOPPERS = 4, 12, 240


def taste_shop(seed: int = 0) -> Interactions:
    """Shoppers each buy 6 items of their own taste group, one every 10 days (from day 0)."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for shopper in range(SHOPPERS):
        taste = shopper % TASTES
        picks = rng.choice(ITEMS_PER_TASTE, size=6, replace=False) + taste * ITEMS_PER_TASTE
        for n, item in enumerate(picks):
            users.append(f"s{shopper}")
            items.append(f"t{item:02d}")
            times.append(START + (10 * n + rng.uniform(0, 9)) * DAY)
    return Interactions.from_arrays(np.array(users), np.array(items), timestamps=np.array(times))


def noise_features(seed: int = 0) -> dict[str, str]:
    """Each item gets two words drawn at random from six: similarity unrelated to taste."""
    rng = np.random.default_rng(seed)
    words = [f"W{n}" for n in range(6)]
    return {
        f"t{i:02d}": " ".join(rng.choice(words, size=2, replace=False))
        for i in range(TASTES * ITEMS_PER_TASTE)
    }


def test_tune_picks_zero_content_weight_for_noise() -> None:
    result = tune(taste_shop(), space=SPACE, trials=1, k=5, item_features=noise_features())
    content = [t for t in result.trials if t.stage == "content"]
    tried = [(t.params["content"]["neighbours"], t.params["blend"]["content"]) for t in content]
    assert tried == [(n, w) for n in (3, 10) for w in (0.0, 0.5, 2.0, 8.0)]
    assert result.params.blend.content == 0.0
    off = max(t.metrics["precision"] for t in content if t.params["blend"]["content"] == 0)
    loud = [t.metrics["precision"] for t in content if t.params["blend"]["content"] == 8.0]
    assert off > 0.1
    assert max(loud) < off  # the noise really hurts: the choice matters


def test_tune_picks_a_content_weight_when_features_carry_taste() -> None:
    # Words that name each item's taste group: content alone ranks the group first.
    features = {
        f"t{i:02d}": f"RANGE{i // ITEMS_PER_TASTE}" for i in range(TASTES * ITEMS_PER_TASTE)
    }
    weak = replace(SPACE, model={**SPACE.model, "iterations": (1,), "factors": (2,)})  # type: ignore[dict-item]
    result = tune(taste_shop(), space=weak, trials=1, k=5, item_features=features)
    assert result.params.blend.content > 0
    assert result.best("content").metrics["precision"] > result.best("model").metrics["precision"]


def test_tune_without_features_has_no_content_stage() -> None:
    result = tune(taste_shop(), space=SPACE, trials=1, k=5)
    assert "content" not in {t.stage for t in result.trials}
    assert result.params.blend.content == 0.0


def test_evaluate_uses_features_only_with_a_weight() -> None:
    split = time_split(taste_shop(), START + 45 * DAY)
    params = TrainingParams(model_params=SMALL_ALS)
    features = noise_features()
    plain = evaluate(split, params, k=5)
    zero = evaluate(split, params, k=5, item_features=features)
    assert zero.metric("new", "model") == plain.metric("new", "model")
    assert any(n.startswith("content: 48 of 48") for n in zero.notes)
    loud = replace(params, blend=replace(params.blend, content=8.0))
    noisy = evaluate(split, loud, k=5, item_features=features)
    assert noisy.metric("new", "model") != plain.metric("new", "model")
    ignored = evaluate(split, loud, k=5)
    assert any("ignored" in n for n in ignored.notes)


# --- files -------------------------------------------------------------------------------


def test_read_item_features_csv_joins_text_columns(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["\ufeffSKU", "name", "category"])
        writer.writerow(["85123A", "WHITE HANGING HEART", "Candles"])
        writer.writerow(["", "no key", "x"])
        writer.writerow(["85123A", "a repeat", "x"])
        writer.writerow(["71053", "WHITE METAL LANTERN", ""])
    assert read_item_features_csv(path) == {
        "85123A": "WHITE HANGING HEART Candles",
        "71053": "WHITE METAL LANTERN",
    }
    bad = tmp_path / "bad.csv"
    bad.write_text("name,description\nx,y\n")
    with pytest.raises(ValueError, match="item column"):
        read_item_features_csv(bad)


def test_params_with_content_round_trip(tmp_path: Path) -> None:
    params = TrainingParams(blend=BlendParams(content=0.25), content=ContentParams(neighbours=20))
    path = tmp_path / "params.json"
    params.save(path)
    assert json.loads(path.read_text())["content"] == {"neighbours": 20}
    assert TrainingParams.load(path) == params
    old = {"model": "als", "blend": {"popular": 0.25}}  # written before content existed
    assert TrainingParams.from_dict(old).content == ContentParams()


def test_cluster_items_have_features() -> None:
    features = cluster_features()
    assert all(key in features for c in range(CLUSTERS) for key in cluster_items(c))


def test_similarity_is_sparse(interactions: Interactions) -> None:
    index = ContentIndex.build(
        IdMap([item_key(i) for i in range(30)]), cluster_features(), ContentParams(5)
    )
    assert isinstance(index.similarity, csr_matrix)
    assert index.similarity.nnz <= 30 * 5
