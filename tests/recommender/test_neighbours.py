"""Shoppers like you: similar shoppers' recent purchases, and the popularity penalty."""

from __future__ import annotations

import io

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recommender import (
    BlendParams,
    Interaction,
    Interactions,
    NeighbourIndex,
    NeighbourParams,
    Recommender,
    TrainingParams,
    time_split,
    train,
)
from recommender.blending import blend, popularity_factor
from recommender.evaluation import evaluate

from .conftest import DAY, START, make_interactions

# Items 0-9 belong to cluster A (users 0-29), items 10-19 to cluster B (users 30-59).


def recent(shape: tuple[int, int], bought: dict[int, list[int]]) -> csr_matrix:
    """A users x items matrix of recent purchases."""
    rows = [u for u, items in bought.items() for _ in items]
    cols = [i for items in bought.values() for i in items]
    return csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)


def test_scores_follow_what_similar_shoppers_bought_recently(cluster_matrix: csr_matrix) -> None:
    index = NeighbourIndex.build(cluster_matrix, recent(cluster_matrix.shape, {1: [5], 40: [15]}))
    shopper = csr_matrix(cluster_matrix[2])
    scores = index.scores(shopper)[0]
    assert scores[5] > 0
    assert scores[15] == 0
    assert np.count_nonzero(scores) == 1


def test_buyers_count_the_neighbours_who_bought(cluster_matrix: csr_matrix) -> None:
    bought = recent(cluster_matrix.shape, {1: [5], 3: [5], 4: [6], 40: [15]})
    index = NeighbourIndex.build(cluster_matrix, bought)
    scores, buyers = index.scores_and_buyers(csr_matrix(cluster_matrix[2]))
    assert buyers[0, 5] == 2 and buyers[0, 6] == 1 and buyers[0, 15] == 0
    np.testing.assert_array_equal(scores, index.scores(csr_matrix(cluster_matrix[2])))


def test_links_name_the_item_the_buying_peers_share_with_the_shopper() -> None:
    rows = csr_matrix(
        (np.ones(8, np.float32), ([0, 0, 1, 1, 2, 2, 3, 3], [0, 1, 0, 2, 0, 3, 1, 4])),
        shape=(4, 8),
    )
    bought = recent((4, 8), {1: [5], 2: [5], 3: [6]})
    index = NeighbourIndex.build(rows, bought)
    peers = index.peers(csr_matrix(rows[0]), exclude_user=0)
    assert sorted(peers.users) == [1, 2, 3]
    named, holders = index.links(peers, np.array([5, 6, 7]))
    np.testing.assert_array_equal(named, [0, 1, -1])
    np.testing.assert_array_equal(holders, [2, 1, 0])
    assert [len(part) for part in index.links(peers, np.array([], dtype=np.int64))] == [0, 0]
    with pytest.raises(ValueError, match="one row"):
        index.peers(rows)


def test_a_shoppers_own_row_is_left_out(cluster_matrix: csr_matrix) -> None:
    index = NeighbourIndex.build(cluster_matrix, recent(cluster_matrix.shape, {1: [5]}))
    own = csr_matrix(cluster_matrix[1])
    assert index.scores(own)[0, 5] > 0
    assert index.scores(own, exclude_users=np.array([1]))[0, 5] == 0
    assert index.scores(own, exclude_users=np.array([-1]))[0, 5] > 0


def test_only_the_closest_neighbours_count(cluster_matrix: csr_matrix) -> None:
    index = NeighbourIndex.build(
        cluster_matrix, recent(cluster_matrix.shape, {}), NeighbourParams(neighbours=4)
    )
    weights = index.neighbours(cluster_matrix[:10])
    assert (np.diff(weights.indptr) <= 4).all()
    assert (weights.indices < 30).all()  # cluster A's neighbours are all in cluster A
    everyone = index.with_params(NeighbourParams(neighbours=100)).neighbours(cluster_matrix[:1])
    assert everyone.nnz > 4


def test_bad_params_and_shapes_are_refused(cluster_matrix: csr_matrix) -> None:
    with pytest.raises(ValueError, match="neighbours"):
        NeighbourParams(neighbours=0)
    with pytest.raises(ValueError, match="recent_days"):
        NeighbourParams(recent_days=0)
    with pytest.raises(ValueError, match="shape"):
        NeighbourIndex.build(cluster_matrix, csr_matrix((3, 3)))
    index = NeighbourIndex.build(cluster_matrix, recent(cluster_matrix.shape, {}))
    with pytest.raises(ValueError, match="columns"):
        index.scores(csr_matrix((1, 3)))
    with pytest.raises(ValueError, match="window"):
        index.with_params(NeighbourParams(recent_days=60))


def test_arrays_round_trip(cluster_matrix: csr_matrix) -> None:
    index = NeighbourIndex.build(
        cluster_matrix, recent(cluster_matrix.shape, {1: [5, 6], 40: [15]}), NeighbourParams(7, 14)
    )
    again = NeighbourIndex.from_arrays(index.params.to_dict(), index.to_arrays())
    assert again.params == NeighbourParams(7, 14)
    np.testing.assert_allclose(again.scores(cluster_matrix), index.scores(cluster_matrix))


def test_the_penalty_leans_away_from_items_everyone_has() -> None:
    model = np.array([[1.0, 0.9]], dtype=np.float32)
    users = np.array([99, 0])
    plain = blend(model, BlendParams(), penalty=popularity_factor(users, 0.3))
    assert plain[0, 0] > plain[0, 1]
    leaning = blend(
        model, BlendParams(popularity_penalty=0.3), penalty=popularity_factor(users, 0.3)
    )
    assert leaning[0, 0] < leaning[0, 1]
    np.testing.assert_allclose(leaning[0], [1.0 * 100**-0.3, 0.9], rtol=1e-5)


def test_the_penalty_leaves_buy_again_alone() -> None:
    model = np.zeros((1, 2), dtype=np.float32)
    rebuy = np.array([[1.0, 0.0]], dtype=np.float32)
    scores = blend(
        model,
        BlendParams(buy_again=1.0, popularity_penalty=1.0),
        rebuy=rebuy,
        penalty=popularity_factor(np.array([99, 0]), 1.0),
    )
    assert scores[0, 0] == pytest.approx(1.0)


def test_the_neighbours_part_needs_a_weight() -> None:
    model = np.array([[1.0, 0.5, 0.0]], dtype=np.float32)
    peers = np.array([[0.0, 0.0, 4.0]], dtype=np.float32)
    assert blend(model, BlendParams(), neighbours=peers) is model
    mixed = blend(model, BlendParams(neighbours=2.0), neighbours=peers)
    np.testing.assert_allclose(mixed[0], [1.0, 0.5, 2.0])


def launch_rows() -> list[Interaction]:
    """The synthetic shop, plus a product launched in cluster 0's range 10 days before the
    end that most of cluster 0 has already bought."""
    rows = make_interactions()
    end = max(r.timestamp for r in rows)
    for u in range(20):
        rows.append(Interaction(f"user-0-{u:02d}", "sku-launch", "purchase", end - 10 * DAY, 2))
    return rows


PEERS = TrainingParams(
    model_params={"factors": 8, "iterations": 10, "regularization": 0.1},
    blend=BlendParams(neighbours=5.0, popularity_penalty=0.1),
    neighbours=NeighbourParams(neighbours=10, recent_days=30),
)


@pytest.fixture(scope="module")
def with_peers() -> Recommender:
    """Trained with a strong shoppers-like-you weight (do not mutate)."""
    return train(launch_rows(), PEERS)


def test_training_keeps_the_index_only_with_a_weight(
    with_peers: Recommender, trained: Recommender
) -> None:
    assert with_peers.neighbours is not None
    assert with_peers.neighbours.params == NeighbourParams(10, 30)
    assert trained.neighbours is None
    launch = with_peers.items.index_of("sku-launch")
    assert with_peers.item_users[launch] == 20
    assert with_peers.neighbours.recent[:, launch].nnz == 20


def test_a_shopper_like_the_buyers_is_shown_the_launch(with_peers: Recommender) -> None:
    history = [r for r in launch_rows() if r.user == "user-0-25" and r.item != "sku-launch"]
    recs = with_peers.for_user(history, k=5)
    launch = next(r for r in recs if r.item == "sku-launch")
    assert launch.reason.code == "like_you"
    # The reason names the shopper's item held by most of the peers who bought the launch,
    # and quotes how many of them hold it.
    index = with_peers.neighbours
    assert index is not None
    own = np.array([with_peers.users.index_of("user-0-25")])
    peers = index.neighbours(with_peers.profile(history).row, own).indices
    launch_buyers = peers[
        index.recent[peers, with_peers.items.index_of("sku-launch")].toarray()[:, 0] > 0
    ]
    named = with_peers.items.index_of(launch.reason.item)
    assert named is not None and launch.reason.item in {r.item for r in history}
    holders = len(set(index.item_users[named].indices) & set(launch_buyers))
    assert 0 < holders <= len(launch_buyers) <= 10
    assert launch.details == {"peers": holders}
    assert launch.reason.kind in ("purchase", "view")
    assert launch.reason.text == (
        f"{holders} shoppers who liked {launch.reason.item} bought this recently"
    )
    assert recs[0].item == "sku-launch"


def test_a_shopper_of_another_range_is_not(with_peers: Recommender) -> None:
    history = [r for r in launch_rows() if r.user == "user-2-05"]
    assert "sku-launch" not in [r.item for r in with_peers.for_user(history, k=5)]


def test_a_known_shoppers_own_row_is_not_their_neighbour(with_peers: Recommender) -> None:
    own = Interactions.from_records([r for r in launch_rows() if r.user == "user-0-03"])
    assert with_peers._own_row(own) == with_peers.users.index_of("user-0-03")
    session = Interactions.from_records([("session-1", "sku-01", "view", START)])
    assert with_peers._own_row(session) == -1


def test_save_and_load_keep_the_index(with_peers: Recommender) -> None:
    buffer = io.BytesIO()
    with_peers.save(buffer)
    loaded = Recommender.load(buffer.getvalue())
    assert loaded.neighbours is not None
    np.testing.assert_array_equal(loaded.item_users, with_peers.item_users)
    history = [r for r in launch_rows() if r.user == "user-0-25"]
    assert loaded.for_user(history, k=5) == with_peers.for_user(history, k=5)


def test_evaluate_reports_the_signal() -> None:
    data = Interactions.from_records(launch_rows())
    span = data.time_span
    assert span is not None
    split = time_split(data, span[1] - 15 * DAY)
    off = evaluate(split, TrainingParams(model_params=dict(PEERS.model_params)))
    on = evaluate(split, PEERS)
    assert any("shoppers like you" in note for note in on.notes)
    assert not any("shoppers like you" in note for note in off.notes)
    assert on.params["blend"]["neighbours"] == 5.0
