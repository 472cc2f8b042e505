"""Small synthetic shops: three clusters of users who buy within their own cluster."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from recommender import Interaction, Interactions, Recommender, TrainingParams, train

DAY = 86_400.0
START = 1_600_000_000.0  # 2020-09-13
CLUSTERS = 3
ITEMS_PER_CLUSTER = 10
USERS_PER_CLUSTER = 30


def item_key(i: int) -> str:
    """The key of item number i; items 0-9 form cluster 0, 10-19 cluster 1, ..."""
    return f"sku-{i:02d}"


def cluster_items(cluster: int) -> list[str]:
    """The item keys of one cluster."""
    start = cluster * ITEMS_PER_CLUSTER
    return [item_key(i) for i in range(start, start + ITEMS_PER_CLUSTER)]


def make_interactions(seed: int = 7) -> list[Interaction]:
    """Users buy 2-3 baskets of 2-3 items from their own cluster and view a few more."""
    rng = np.random.default_rng(seed)
    rows: list[Interaction] = []
    order = 0
    for cluster in range(CLUSTERS):
        items = cluster_items(cluster)
        for u in range(USERS_PER_CLUSTER):
            user = f"user-{cluster}-{u:02d}"
            # The cluster's first two items are bought together in most baskets.
            day = float(rng.integers(0, 20))
            for _basket in range(int(rng.integers(2, 4))):
                picked = [items[0], items[1]] if rng.random() < 0.6 else []
                picked += list(rng.choice(items[2:], size=int(rng.integers(1, 3)), replace=False))
                order += 1
                when = START + day * DAY + float(rng.integers(0, 3600))
                for item in picked:
                    quantity = float(rng.integers(1, 6))
                    rows.append(Interaction(user, item, "purchase", when, quantity, f"o{order}"))
                day += float(rng.integers(3, 15))
            for item in rng.choice(items, size=3, replace=False):
                rows.append(Interaction(user, str(item), "view", START + day * DAY))
    return rows


@pytest.fixture(scope="session")
def interactions() -> Interactions:
    """The synthetic shop's interactions."""
    return Interactions.from_records(make_interactions())


@pytest.fixture(scope="session")
def trained(interactions: Interactions) -> Recommender:
    """An ALS recommender trained on the synthetic shop (do not mutate)."""
    params = TrainingParams(model_params={"factors": 8, "iterations": 10, "regularization": 0.1})
    return train(interactions, params)


@pytest.fixture
def cluster_matrix() -> csr_matrix:
    """A 60 x 20 user x item matrix with two clean clusters (users 0-29 like items 0-9)."""
    rng = np.random.default_rng(3)
    rows, cols = [], []
    for user in range(60):
        base = 0 if user < 30 else 10
        for item in rng.choice(np.arange(base, base + 10), size=5, replace=False):
            rows.append(user)
            cols.append(int(item))
    data = np.ones(len(rows), dtype=np.float32)
    return csr_matrix((data, (rows, cols)), shape=(60, 20))


def row_of(items: list[int], n_items: int, weights: list[float] | None = None) -> csr_matrix:
    """A 1 x n_items row with the given items."""
    values = np.array(weights or [1.0] * len(items), dtype=np.float32)
    return csr_matrix((values, ([0] * len(items), items)), shape=(1, n_items))
