"""Which variant of an A/B test a visitor sees: a stable hash, no state, no framework.

Visitors are assigned, and counted in the results, by their unit (`assignment_unit`): a
signed-in shopper by their account ("user:<id>"), so they get the same variant in every
browser and count once; an anonymous one by the visitor id of their browser's cookie.

A unit's bucket (0..9999) is the first 8 bytes of sha256("<experiment key>:<unit>") as an
integer, modulo 10,000. Variants own consecutive ranges of buckets in proportion to their
whole-percent weights (a weight of 1 is 100 buckets), in the order they are given. The same
unit therefore always gets the same variant of an experiment, on every worker and after a
restart, and the experiment key in the hash makes experiments independent.

Signing in during an experiment changes the unit from the browser's visitor id to the
account, whose hash may pick another variant. That is accepted, and counted consistently:
the lists shown before signing in stay with the anonymous unit in its variant (impressions
keep the user id they were logged with; signing in links only events to the account), the
lists shown afterwards go to the account in its variant, and each list's clicks and
purchases go with it. Every unit is thus in exactly one variant; the person behind it may
be counted once as the anonymous visitor and once as the account. Carrying the visitor's
variant over to the account instead would need stored state, and would put an account in
different variants in different browsers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from shop.tracking.units import ACCOUNT_PREFIX

BUCKETS = 10_000
BUCKETS_PER_PERCENT = BUCKETS // 100


class WeightError(ValueError):
    """Weights that cannot split traffic: not whole percents in 0..100 summing to 100."""


# The assignment unit of a signed-in shopper is this prefix and the account id, as the
# results count it in SQL (`shop.tracking.units.person_key`).
USER_UNIT_PREFIX = ACCOUNT_PREFIX


def assignment_unit(user_id: int | None, visitor_id: str) -> str:
    """What a shopper is assigned and counted by: "user:<id>" if signed in, else the visitor id.

    The results count an impression's unit the same way from its user_id and visitor_id
    columns (see `experiment_results`).
    """
    return f"{USER_UNIT_PREFIX}{user_id}" if user_id is not None else visitor_id


def bucket(experiment_key: str, unit: str) -> int:
    """The unit's bucket in 0..BUCKETS-1 for this experiment (stable across processes)."""
    digest = hashlib.sha256(f"{experiment_key}:{unit}".encode()).digest()
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


def variant_index(experiment_key: str, unit: str, weights: Sequence[int]) -> int:
    """The index of the variant the unit is assigned to, for weights summing to 100."""
    check_weights(weights)
    position = bucket(experiment_key, unit)
    upper = 0
    for index, weight in enumerate(weights):
        upper += weight * BUCKETS_PER_PERCENT
        if position < upper:
            return index
    raise AssertionError("unreachable: weights sum to 100")  # pragma: no cover


def assign(experiment_key: str, unit: str, variants: Sequence[tuple[str, int]]) -> str:
    """The key of the variant (key, weight) the unit is assigned to."""
    keys = [key for key, _weight in variants]
    return keys[variant_index(experiment_key, unit, [w for _k, w in variants])]
