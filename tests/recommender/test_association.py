"""Co-purchase rules: support, confidence, lift and thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from recommender import BasketRules, RuleThresholds

# Baskets of item indices over 5 items.
BASKETS = [[0, 1], [0, 1], [0, 1, 2], [0, 2], [3], [3, 4], [1], [4], [2], [0, 1]]


def mine(thresholds: RuleThresholds) -> BasketRules:
    """Rules over BASKETS."""
    baskets = np.concatenate([[b] * len(items) for b, items in enumerate(BASKETS)])
    items = np.concatenate([np.array(items) for items in BASKETS])
    return BasketRules.mine(baskets, items, 5, thresholds)


LOOSE = RuleThresholds(min_support=0, min_count=1, min_confidence=0, min_lift=0)


def test_support_confidence_and_lift() -> None:
    rules = mine(LOOSE)
    (best, *_) = rules.rules_for(0)
    # 0 is in 5 baskets, with 1 in 4 of them; 1 is in 5 of 10 baskets.
    assert best.consequent == 1
    assert best.support == pytest.approx(4 / 10)
    assert best.confidence == pytest.approx(4 / 5)
    assert best.lift == pytest.approx((4 / 5) / (5 / 10))


def test_thresholds_drop_weak_rules() -> None:
    rules = mine(RuleThresholds(min_support=0.1, min_count=2, min_confidence=0.5, min_lift=1.2))
    pairs = {(r.antecedent, r.consequent) for a in range(5) for r in rules.rules_for(a)}
    # 0 -> 1: conf 4/5, lift 1.6; 1 -> 0: conf 4/5, lift 1.6; 2 -> 0: conf 2/3, lift 1.33.
    assert pairs == {(0, 1), (1, 0), (2, 0)}
    # Dropped: 0 -> 2 (conf 2/5), 3 -> 4 (one basket), 1 -> 2 (conf 1/5).


def test_a_cart_gets_each_candidates_strongest_rule() -> None:
    rules = mine(LOOSE)
    found = rules.recommend(np.array([0, 3]), k=3)
    assert [r.consequent for r in found] == [1, 4, 2]
    assert found[0].antecedent == 0
    assert found[1].antecedent == 3
    assert not {r.consequent for r in found} & {0, 3}


def test_exclusions_and_unknown_rules() -> None:
    rules = mine(LOOSE)
    found = rules.recommend(np.array([0]), k=5, exclude=np.array([1]))
    assert 1 not in [r.consequent for r in found]
    assert BasketRules.empty(5).recommend(np.array([0]), k=3) == []


def test_each_item_keeps_at_most_max_rules() -> None:
    rules = mine(
        RuleThresholds(min_support=0, min_count=1, min_confidence=0, min_lift=0, max_rules=1)
    )
    assert all(len(rules.rules_for(a)) <= 1 for a in range(5))


def test_rules_round_trip_through_arrays() -> None:
    rules = mine(LOOSE)
    again = BasketRules.from_arrays(rules.to_arrays())
    assert again.rules_for(0) == rules.rules_for(0)


def test_bad_thresholds_are_value_errors() -> None:
    with pytest.raises(ValueError, match="min_confidence"):
        RuleThresholds(min_confidence=2)
    with pytest.raises(ValueError, match="max_rules"):
        RuleThresholds(max_rules=0)
