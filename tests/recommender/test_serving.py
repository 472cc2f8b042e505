"""Serving: for_user with live recalculation, reasons, fallbacks, similar and bought together."""

from __future__ import annotations

import io

import numpy as np
import pytest

from recommender import ArtifactError, Interaction, Interactions, Recommender, train
from recommender.reasons import BUY_AGAIN, PERSONAL, POPULAR
from tests.recommender.conftest import START, cluster_items, item_key

NOW = START + 200 * 86_400


def clicks(*items: str, kind: str = "view", at: float = NOW) -> list[Interaction]:
    """One shopper's interactions with items, all at one moment."""
    return [Interaction("shopper", item, kind, at) for item in items]


def cluster_of(key: object) -> int:
    """The cluster an item key belongs to."""
    return int(str(key).split("-")[1]) // 10


def test_training_info_counts_the_data(trained: Recommender, interactions: Interactions) -> None:
    info = trained.info
    assert info["interactions"] == len(interactions)
    assert info["users"] == 90
    assert info["items"] == 30
    assert info["rules"] > 0
    assert info["data_start"] < info["data_end"]


def test_a_known_users_history_gives_recommendations_from_their_cluster(
    trained: Recommender,
) -> None:
    history = clicks(*cluster_items(1)[:3], kind="purchase", at=NOW - 86_400)
    results = trained.for_user(history, k=5, now=NOW)
    assert len(results) == 5
    assert {cluster_of(r.item) for r in results} == {1}
    assert not {r.item for r in results} & set(cluster_items(1)[:3])
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_a_click_a_minute_ago_changes_the_next_page(trained: Recommender) -> None:
    history = clicks(*cluster_items(0)[:2], kind="purchase", at=NOW - 30 * 86_400)
    before = trained.for_user(history, k=5, now=NOW)
    assert {cluster_of(r.item) for r in before} == {0}
    minute_ago = clicks(*cluster_items(2)[:4], at=NOW - 60)
    after = trained.for_user(history + minute_ago, k=5, now=NOW)
    assert [r.item for r in after] != [r.item for r in before]
    assert 2 in {cluster_of(r.item) for r in after}


def test_an_anonymous_session_is_scored_from_its_items(trained: Recommender) -> None:
    session = [
        ("session-abc", item_key(25), "view", NOW),
        ("session-abc", item_key(26), "cart_add", NOW),
    ]
    results = trained.for_user(session, k=3, now=NOW)
    assert {cluster_of(r.item) for r in results} == {2}
    assert all(r.reason.code == PERSONAL for r in results)


def test_no_signal_means_popular_right_now(trained: Recommender) -> None:
    for nothing in ([], clicks("not-in-the-catalogue")):
        results = trained.for_user(nothing, k=4)
        assert len(results) == 4
        assert all(
            r.reason.code == POPULAR and r.reason.text == "Popular right now" for r in results
        )
        assert [r.item for r in results] == [r.item for r in trained.popular(4)]


def test_the_reason_names_the_item_and_the_kind_that_contributed_most(
    trained: Recommender,
) -> None:
    history = clicks(item_key(10), kind="purchase") + clicks(item_key(11), kind="view")
    results = trained.for_user(history, k=3, now=NOW)
    for result in results:
        reason = result.reason
        assert reason.code == PERSONAL
        assert reason.item in (item_key(10), item_key(11))
        expected = {item_key(10): "purchase", item_key(11): "view"}[reason.item]  # type: ignore[index]
        assert reason.kind == expected
        verb = "bought" if expected == "purchase" else "viewed"
        assert reason.text == f"Because you {verb} {reason.item}"


def test_exclusions_are_respected(trained: Recommender) -> None:
    history = clicks(*cluster_items(0)[:2], kind="purchase")
    first = trained.for_user(history, k=3, now=NOW)
    excluded = {r.item for r in first}
    again = trained.for_user(history, k=3, exclude=excluded, now=NOW)
    assert not excluded & {r.item for r in again}


def test_seen_items_can_come_back_when_asked(trained: Recommender) -> None:
    viewed = clicks(*cluster_items(0)[:8])
    hidden = trained.for_user(viewed, k=10, now=NOW)
    shown = trained.for_user(viewed, k=10, exclude_seen=False, now=NOW)
    assert not {r.item for r in hidden} & set(cluster_items(0)[:8])
    assert {r.item for r in shown} & set(cluster_items(0)[:8])


def test_purchases_come_back_only_with_repurchase(trained: Recommender) -> None:
    bought = [Interaction("u", item_key(3), "purchase", NOW - d * 86_400) for d in (1, 8, 15)]
    without = trained.for_user(bought, k=5, now=NOW)
    assert item_key(3) not in {r.item for r in without}
    again = trained.for_user(bought, k=5, repurchase=True, now=NOW)
    assert again[0].item == item_key(3)
    assert again[0].reason.code == BUY_AGAIN
    assert again[0].reason.item == item_key(3) and again[0].reason.kind == "purchase"


def test_exclusions_can_shorten_the_list(trained: Recommender) -> None:
    everything_else = [item for c in (0, 1) for item in cluster_items(c)]
    results = trained.for_user(clicks(item_key(20)), k=12, exclude=everything_else, now=NOW)
    assert len(results) == 9  # only cluster 2 is left, minus the viewed item
    assert {cluster_of(r.item) for r in results} == {2}


def test_similar_items(trained: Recommender) -> None:
    results = trained.similar_items(item_key(12), k=4)
    assert len(results) == 4
    assert item_key(12) not in {r.item for r in results}
    assert {cluster_of(r.item) for r in results} == {1}
    assert results[0].reason.text == f"Similar to {item_key(12)}"
    assert trained.similar_items("unknown", k=3) == []
    assert item_key(13) not in {
        r.item for r in trained.similar_items(item_key(12), exclude=[item_key(13)])
    }


def test_bought_together_for_one_product_and_a_cart(trained: Recommender) -> None:
    single = trained.bought_together(item_key(0), k=3)
    assert single and single[0].item == item_key(1)  # bought together in most baskets
    assert single[0].reason.text == f"Often bought with {item_key(0)}"
    details = single[0].details
    assert details["confidence"] == pytest.approx(single[0].score)
    assert details["lift"] > 1 and 0 < details["support"] <= 1
    cart = trained.bought_together([item_key(0), item_key(20)], k=5)
    assert not {r.item for r in cart} & {item_key(0), item_key(20)}
    assert {r.reason.item for r in cart} <= {item_key(0), item_key(20)}
    assert trained.bought_together(["unknown"], k=3) == []


def test_bad_arguments_are_value_errors(trained: Recommender) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        trained.for_user([], k=0)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        trained.similar_items(item_key(0), k=-1)


def test_save_and_load_serve_the_same_lists(trained: Recommender) -> None:
    buffer = io.BytesIO()
    trained.save(buffer)
    loaded = Recommender.load(buffer.getvalue())
    history = clicks(*cluster_items(1)[:2], kind="purchase")
    assert loaded.for_user(history, k=5, now=NOW) == trained.for_user(history, k=5, now=NOW)
    assert loaded.bought_together(item_key(0)) == trained.bought_together(item_key(0))
    assert loaded.params == trained.params
    assert loaded.info == trained.info
    assert loaded.nbytes == trained.nbytes


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04 truncated"])
def test_a_corrupt_artifact_is_an_artifact_error(content: bytes) -> None:
    with pytest.raises(ArtifactError, match="unreadable model artifact"):
        Recommender.load(content)


def test_a_missing_artifact_is_an_artifact_error(tmp_path: object) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        Recommender.load(f"{tmp_path}/nope.npz")


def test_an_npz_without_a_header_is_an_artifact_error() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, items=np.array(["a"]))
    with pytest.raises(ArtifactError):
        Recommender.load(buffer.getvalue())


@pytest.mark.parametrize("model", ["bpr", "item_knn", "popularity"])
def test_every_model_serves(interactions: Interactions, model: str) -> None:
    from recommender import TrainingParams

    small = {"bpr": {"factors": 4, "iterations": 30}}.get(model, {})
    recommender = train(interactions, TrainingParams(model=model, model_params=small))
    results = recommender.for_user(clicks(item_key(5), kind="purchase"), k=3, now=NOW)
    assert len(results) == 3
    assert all(r.item != item_key(5) for r in results)
    expected = {POPULAR} if model == "popularity" else {PERSONAL}
    assert {r.reason.code for r in results} <= expected | {POPULAR}
