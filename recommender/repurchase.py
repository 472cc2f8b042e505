""" "Buy it again": a shopper's own purchase history blended with the model's scores.

An item's re-buy score for a user is

    repurchase rate of the item x Σ over the user's purchases of it of 0.5 ** (age / half-life)

where the repurchase rate is the share of the item's buyers who bought it in two or more
baskets (smoothed: (repeat buyers + 1) / (buyers + 2)), so consumables come back and a sofa
does not. `recommender.blending` mixes it into the model's scores.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from recommender.weighting import decay


def repurchase_rates(
    user_codes: np.ndarray, item_codes: np.ndarray, basket_ids: np.ndarray, n_items: int
) -> np.ndarray:
    """Per item, (buyers who bought it in 2+ baskets + 1) / (buyers + 2)."""
    if len(item_codes) == 0:
        return np.full(n_items, 0.5)
    lines = np.unique(np.stack([user_codes, item_codes, basket_ids], axis=1), axis=0)
    pairs, baskets_per_pair = np.unique(lines[:, :2], axis=0, return_counts=True)
    buyers = np.bincount(pairs[:, 1], minlength=n_items)
    repeat = np.bincount(
        pairs[:, 1], weights=(baskets_per_pair >= 2).astype(np.float64), minlength=n_items
    )
    return ((repeat + 1.0) / (buyers + 2.0)).astype(np.float32)


def rebuy_matrix(
    users: np.ndarray,
    items: np.ndarray,
    timestamps: np.ndarray,
    shape: tuple[int, int],
    rates: np.ndarray,
    now: float | None,
    half_life_days: float | None,
) -> csr_matrix:
    """Users x items re-buy scores from purchase lines given as (user index, item index,
    timestamp): the faded purchase count times the item's repurchase rate."""
    if half_life_days is None or now is None:
        faded = np.ones(len(items))
    else:
        faded = decay(timestamps, now, half_life_days)
    matrix = csr_matrix((faded, (users, items)), shape=shape, dtype=np.float64)
    matrix.sum_duplicates()
    matrix.data *= rates[matrix.indices]
    return csr_matrix(matrix, dtype=np.float32)
