"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender.metrics import MetricsAccumulator, ratio_interval


def test_one_user_by_hand() -> None:
    # k = 4; hits at ranks 1 and 3; 3 relevant items in all.
    acc = MetricsAccumulator(k=4, n_items=10)
    acc.add(np.array([[True, False, True, False]]), np.array([3]), np.array([0, 1, 2, 3]))
    m = acc.result()
    assert m.users == 1
    assert m.precision == pytest.approx(2 / 4)
    assert m.recall == pytest.approx(2 / 3)
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m.ndcg == pytest.approx(dcg / idcg)
    assert m.map == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert m.hit_rate == 1.0
    assert m.coverage == pytest.approx(0.4)


def test_precision_divides_by_k_even_with_few_relevant_items() -> None:
    # implicit.evaluation would report 1.0 here (it divides by min(k, relevant)).
    acc = MetricsAccumulator(k=10, n_items=20)
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, 0] = True
    acc.add(hits, np.array([1]), np.arange(10))
    m = acc.result()
    assert m.precision == pytest.approx(0.1)
    assert m.recall == 1.0
    assert m.ndcg == 1.0
    assert m.map == 1.0


def test_averages_over_users_across_batches() -> None:
    acc = MetricsAccumulator(k=2, n_items=4)
    acc.add(np.array([[True, True]]), np.array([2]), np.array([0, 1]))
    acc.add(np.array([[False, False]]), np.array([5]), np.array([0, 1]))
    m = acc.result()
    assert m.users == 2
    assert m.precision == pytest.approx(0.5)
    assert m.hit_rate == pytest.approx(0.5)
    assert m.coverage == pytest.approx(0.5)


def test_a_catalogue_smaller_than_k_pads_with_misses() -> None:
    acc = MetricsAccumulator(k=5, n_items=2)
    acc.add(np.array([[True, True]]), np.array([2]), np.array([0, 1]))
    assert acc.result().precision == pytest.approx(2 / 5)


def test_per_user_precision_is_kept_in_user_order() -> None:
    acc = MetricsAccumulator(k=2, n_items=5)
    acc.add(np.array([[True, True], [False, False]]), np.array([2, 1]), np.array([0, 1]))
    acc.add(np.array([[True, False]]), np.array([1]), np.array([2]))
    m = acc.result()
    assert m.per_user_precision.tolist() == [1.0, 0.0, 0.5]
    assert "per_user_precision" not in m.as_dict()
    assert m.as_dict()["precision"] == pytest.approx(0.5)


def test_ratio_interval_of_proportional_values_is_exact() -> None:
    base = np.array([0.1, 0.2, 0.0, 0.3])
    assert ratio_interval(2 * base, base) == pytest.approx((2.0, 2.0))


def test_ratio_interval_holds_the_ratio_of_means_and_narrows_with_users() -> None:
    rng = np.random.default_rng(1)

    def span(users: int) -> tuple[float, float, float]:
        base = rng.binomial(10, 0.05, users) / 10
        model = rng.binomial(10, 0.10, users) / 10
        low, high = ratio_interval(model, base, seed=3)
        return model.mean() / base.mean(), low, high

    ratio, low, high = span(500)
    assert low < ratio < high
    big_ratio, big_low, big_high = span(20_000)
    assert big_low < big_ratio < big_high
    assert big_high - big_low < (high - low) / 3
    assert big_low > 1.8 and big_high < 2.2


def test_ratio_interval_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equally long"):
        ratio_interval(np.array([0.1, 0.2]), np.array([0.1]))
    with pytest.raises(ValueError, match="equally long"):
        ratio_interval(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        ratio_interval(np.array([0.1]), np.array([0.1]), confidence=1.5)
