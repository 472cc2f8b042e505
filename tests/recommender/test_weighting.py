"""Interaction weights, the weighted matrix and live user profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender import IdMap, Interactions, UserProfile, Weighting, build_matrix
from recommender.weighting import quantity_factor

DAY = 86_400.0


def test_kind_weight_times_log_quantity_times_decay() -> None:
    weighting = Weighting({"view": 1.0, "purchase": 4.0}, half_life_days=10)
    data = Interactions.from_records(
        [
            ("u", "a", "view", 100 * DAY),
            ("u", "b", "purchase", 100 * DAY, 3),
            ("u", "c", "purchase", 90 * DAY),  # one half-life old
            ("u", "d", "search", 100 * DAY),  # not weighted: ignored
            ("u", "e", "purchase", None),  # no time: does not fade
        ]
    )
    weights = weighting.weights(data, now=100 * DAY)
    np.testing.assert_allclose(weights, [1.0, 4.0 * (1 + math.log(3)), 2.0, 0.0, 4.0])


def test_quantity_factor() -> None:
    factors = quantity_factor(np.array([np.nan, 1, math.e, 0, -2]))
    np.testing.assert_allclose(factors, [1.0, 1.0, 2.0, 0.0, 0.0])


def test_no_half_life_means_no_fading() -> None:
    data = Interactions.from_records([("u", "a", "purchase", 0), ("u", "b", "purchase", 1e9)])
    weights = Weighting(half_life_days=None).weights(data)
    assert weights[0] == weights[1] == 5.0


def test_bad_weighting_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        Weighting({"view": -1.0})
    with pytest.raises(ValueError, match="half_life_days"):
        Weighting(half_life_days=0)


def test_weighting_round_trips_through_a_dict() -> None:
    weighting = Weighting({"view": 2.0}, half_life_days=None, log_scale_totals=False)
    assert Weighting.from_dict(weighting.to_dict()) == weighting
    with pytest.raises(ValueError, match="unknown weighting fields"):
        Weighting.from_dict({"colour": "red"})


def test_matrix_sums_a_users_weights_per_item_then_log_scales() -> None:
    data = Interactions.from_records(
        [
            ("u2", "b", "view", 0),
            ("u1", "a", "view", 0),
            ("u1", "a", "purchase", 0),
            ("u1", "z", "search", 0),  # weight 0: left out
        ]
    )
    built = build_matrix(data, Weighting(half_life_days=None))
    assert built.users.keys.tolist() == ["u1", "u2"]
    assert built.items.keys.tolist() == ["a", "b"]
    dense = built.user_items.toarray()
    np.testing.assert_allclose(dense, [[math.log1p(6.0), 0], [0, math.log1p(1.0)]], rtol=1e-6)
    assert built.ignored == 1
    assert built.user_items.dtype == np.float32


def test_matrix_on_fixed_maps_ignores_unknown_keys() -> None:
    data = Interactions.from_records([("u", "a", "view", 0), ("u", "new", "view", 0)])
    built = build_matrix(data, items=IdMap(["a", "b"]))
    assert built.shape == (1, 2)
    assert built.ignored == 1


def test_profile_weights_the_live_row_and_keeps_the_dominant_kind() -> None:
    catalogue = IdMap(["a", "b", "c"])
    weighting = Weighting(half_life_days=None, log_scale_totals=False)
    data = Interactions.from_records(
        [
            ("s", "a", "view", 0),
            ("s", "a", "view", 0),
            ("s", "b", "view", 0),
            ("s", "b", "purchase", 0),
            ("s", "b", "purchase", 0),
            ("s", "unknown", "view", 0),
        ]
    )
    profile = UserProfile.build(data, catalogue, weighting, now=0)
    assert profile.items.tolist() == [0, 1]
    np.testing.assert_allclose(profile.row.toarray(), [[2.0, 11.0, 0.0]])
    assert profile.kind_of(0) == "view"
    assert profile.kind_of(1) == "purchase"
    assert profile.kind_of(2) is None
    assert profile.purchased.tolist() == [1]
    assert profile.purchase_recency.tolist() == [2.0]
    assert profile.unknown == 1


def test_an_empty_profile() -> None:
    profile = UserProfile.build(Interactions.empty(), IdMap(["a"]), Weighting())
    assert profile.is_empty
    assert profile.row.shape == (1, 1)
