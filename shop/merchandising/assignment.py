"""Which variant of an A/B test a visitor sees: a stable hash, no state, no framework.

A visitor's bucket (0..9999) is the first 8 bytes of sha256("<experiment key>:<visitor id>")
as an integer, modulo 10,000. Variants own consecutive ranges of buckets in proportion to
their whole-percent weights (a weight of 1 is 100 buckets), in the order they are given.
The same visitor therefore always gets the same variant of an experiment, on every worker
and after a restart, and the experiment key in the hash makes experiments independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

BUCKETS = 10_000
BUCKETS_PER_PERCENT = BUCKETS // 100


class WeightError(ValueError):
    """Weights that cannot split traffic: not whole percents in 0..100 summing to 100."""


def bucket(experiment_key: str, visitor_id: str) -> int:
    """The visitor's bucket in 0..BUCKETS-1 for this experiment (stable across processes)."""
    digest = hashlib.sha256(f"{experiment_key}:{visitor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def check_weights(weights: Sequence[int]) -> None:
    """Raise WeightError unless the weights are whole percents that sum to 100."""
    if not weights:
        raise WeightError("There must be at least one variant weight.")
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise WeightError(f"Weights are whole percents from 0 to 100, not {weight!r}.")
    total = sum(weights)
    if total != 100:
        raise WeightError(f"The traffic weights add up to {total}%; they must add up to 100%.")


def variant_index(experiment_key: str, visitor_id: str, weights: Sequence[int]) -> int:
    """The index of the variant the visitor is assigned to, for weights summing to 100."""
    check_weights(weights)
    position = bucket(experiment_key, visitor_id)
    upper = 0
    for index, weight in enumerate(weights):
        upper += weight * BUCKETS_PER_PERCENT
        if position < upper:
            return index
    raise AssertionError("unreachable: weights sum to 100")  # pragma: no cover


def assign(experiment_key: str, visitor_id: str, variants: Sequence[tuple[str, int]]) -> str:
    """The key of the variant (key, weight) the visitor is assigned to."""
    keys = [key for key, _weight in variants]
    return keys[variant_index(experiment_key, visitor_id, [w for _k, w in variants])]
