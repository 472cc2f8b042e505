"""Time, random-per-user and leave-last-out splits, and validation carving."""

from __future__ import annotations

import numpy as np
import pytest

from recommender import Interactions, leave_last_out, random_split, time_split
from recommender.splits import validation_split

DAY = 86_400.0


def shop() -> Interactions:
    """Users a (days 0-9), b (days 0-4) and c (days 8-9 only)."""
    rows = [("a", f"i{d}", "purchase", d * DAY) for d in range(10)]
    rows += [("b", f"i{d}", "purchase", d * DAY) for d in range(5)]
    rows += [("c", "i9", "purchase", 8 * DAY), ("c", "i8", "purchase", 9 * DAY)]
    return Interactions.from_records(rows)


def test_time_split_keeps_only_known_users_in_test() -> None:
    split = time_split(shop(), 7 * DAY)
    assert split.train.timestamps.max() < 7 * DAY
    assert split.test.timestamps.min() >= 7 * DAY
    assert set(split.test.users.tolist()) == {"a"}  # c was not seen in training
    assert split.now == 7 * DAY


def test_time_split_needs_timestamps() -> None:
    with pytest.raises(ValueError, match="needs timestamps"):
        time_split(Interactions.from_arrays(["a"], ["x"]), 10)


def test_random_split_is_seeded_and_per_user() -> None:
    data = shop()
    first = random_split(data, ratio=0.4, seed=3)
    second = random_split(data, ratio=0.4, seed=3)
    assert first.test.items.tolist() == second.test.items.tolist()
    counts = {u: int((first.test.users == u).sum()) for u in ("a", "b", "c")}
    assert counts == {"a": 4, "b": 2, "c": 1}
    for user in ("a", "b", "c"):
        assert (first.train.users == user).sum() >= 1
    assert random_split(data, ratio=0.4, seed=4).test.items.tolist() != first.test.items.tolist()


def test_random_split_rejects_a_bad_ratio() -> None:
    with pytest.raises(ValueError, match="ratio"):
        random_split(shop(), ratio=1.0)


def test_leave_last_out_takes_each_users_last_moment() -> None:
    split = leave_last_out(shop())
    got = sorted(zip(split.test.users.tolist(), split.test.items.tolist(), strict=True))
    assert got == [("a", "i9"), ("b", "i4"), ("c", "i8")]


def test_validation_is_carved_from_training_only() -> None:
    split = time_split(shop(), 7 * DAY)
    validation = validation_split(split, days=2)
    assert validation.train.timestamps.max() < 5 * DAY
    assert validation.test.timestamps.max() < 7 * DAY
    assert np.all(validation.test.timestamps >= 4 * DAY)


@pytest.mark.parametrize("days", [6.0, 1e9, float("inf")])
def test_a_validation_period_as_long_as_the_training_data_is_a_value_error(days: float) -> None:
    # Training spans days 0-6; a period that long leaves nothing to train the validation
    # model on (and an infinite one overflowed the date it is described by).
    split = time_split(shop(), 7 * DAY)
    with pytest.raises(ValueError, match=r"validation period of .* days is not shorter than"):
        validation_split(split, days=days)


@pytest.mark.parametrize("days", [0.0, -1.0, float("nan")])
def test_a_validation_period_of_no_length_is_a_value_error(days: float) -> None:
    with pytest.raises(ValueError, match="the validation period must be longer than zero"):
        validation_split(time_split(shop(), 7 * DAY), days=days)
