"""Keys, interactions in their columnar form, and timestamps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pytest

from recommender import IdMap, Interaction, Interactions
from recommender.interactions import to_epoch_seconds


def test_id_map_maps_both_ways() -> None:
    ids, codes = IdMap.encode(["b", "a", "b", "c"])
    assert ids.keys.tolist() == ["a", "b", "c"]
    assert codes.tolist() == [1, 0, 1, 2]
    assert ids.index_of("c") == 2
    assert ids.key_of(1) == "b"
    assert ids.keys_of([2, 0]) == ["c", "a"]
    assert ids.index_of("zzz") is None
    assert ids.indices_of(["a", "nope", "c"]).tolist() == [0, -1, 2]


def test_id_map_converts_lookups_to_its_key_type() -> None:
    ints = IdMap([17850, 12345])
    assert ints.index_of("17850") == 0
    assert ints.index_of("not a number") is None
    strings = IdMap(["17850", "12345"])
    assert strings.index_of(12345) == 1
    assert isinstance(ints.key_of(0), int)


def test_id_map_keeps_an_unsorted_order() -> None:
    ids = IdMap(["z", "a", "m"])
    assert ids.indices_of(["a", "z", "m"]).tolist() == [1, 0, 2]


def test_id_map_rejects_duplicates_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="distinct"):
        IdMap(["a", "a"])
    with pytest.raises(ValueError, match="str or int"):
        IdMap([1.5, 2.5])
    with pytest.raises(ValueError, match="must not be None"):
        IdMap.encode(["a", None])


def test_records_and_arrays_give_the_same_columns() -> None:
    when = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    records = [
        Interaction("u1", "i1", "view", when),
        ("u1", "i2", "purchase", when.timestamp(), 3, "order-1"),
        ("u2", "i1"),
    ]
    got = Interactions.from_records(records)
    assert got.users.tolist() == ["u1", "u1", "u2"]
    assert got.kinds.tolist() == ["view", "purchase", "purchase"]
    assert got.timestamps[0] == got.timestamps[1] == when.timestamp()
    assert math.isnan(got.timestamps[2])
    assert got.quantities[1] == 3 and math.isnan(got.quantities[0])
    assert got.baskets.tolist() == ["", "order-1", ""]
    arrays = Interactions.from_arrays(
        ["u1", "u1", "u2"], ["i1", "i2", "i1"], ["view", "purchase", "purchase"]
    )
    assert arrays.items.tolist() == got.items.tolist()


def test_records_may_be_dataclasses() -> None:
    @dataclass
    class Event:
        user: str
        item: str
        kind: str
        timestamp: float

    got = Interactions.from_records([Event("u", "i", "view", 5.0), Event("v", "j", "view", 6.0)])
    assert got.users.tolist() == ["u", "v"]
    assert got.timestamps.tolist() == [5.0, 6.0]
    assert np.isnan(got.quantities).all()
    with pytest.raises(ValueError, match=r"have \.user and \.item"):
        Interactions.from_records([object()])


def test_a_scalar_kind_applies_to_every_row() -> None:
    got = Interactions.from_arrays(np.array([1, 2]), np.array([10, 20]), "view")
    assert got.kinds.tolist() == ["view", "view"]
    assert got.users.dtype == np.int64


def test_mismatched_columns_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="items must have 2 values"):
        Interactions.from_arrays(["u1", "u2"], ["i1"])
    with pytest.raises(ValueError, match="2 to 6 fields"):
        Interactions.from_records([("only-a-user",)])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (1.5, 1.5),
        ("86400", 86400.0),
        ("1970-01-02", 86400.0),
        ("1970-01-02T00:00:00+01:00", 82800.0),
        (datetime(1970, 1, 2), 86400.0),
        (date(1970, 1, 2), 86400.0),
        (np.datetime64("1970-01-02T00:00:00"), 86400.0),
    ],
)
def test_timestamps_become_epoch_seconds(value: object, expected: float) -> None:
    assert to_epoch_seconds(value) == expected  # type: ignore[arg-type]


def test_an_unreadable_timestamp_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        to_epoch_seconds("yesterday")


def test_time_filters_and_span() -> None:
    got = Interactions.from_arrays(["a", "a", "b"], ["x", "y", "x"], timestamps=[10, 20, 30])
    assert len(got.before(20)) == 1
    assert len(got.since(20)) == 2
    assert got.time_span == (10.0, 30.0)
    assert Interactions.empty().time_span is None


def test_baskets_fall_back_to_user_and_time() -> None:
    got = Interactions.from_records(
        [
            ("a", "x", "purchase", 10, None, "o1"),
            ("a", "y", "purchase", 99, None, "o1"),  # same order, other time
            ("a", "z", "purchase", 10),  # no order: grouped by (user, time)
            ("a", "w", "purchase", 10),
            ("b", "x", "purchase", 10),
        ]
    )
    ids = got.basket_ids().tolist()
    assert ids[0] == ids[1]
    assert ids[2] == ids[3] != ids[0]
    assert ids[4] not in (ids[0], ids[2])
