"""Interactions (who did what to which item, when) and their columnar form.

An interaction is a user key, an item key, a kind ("view", "cart_add", "purchase", ...), a
timestamp and an optional quantity. Purchases may also carry the basket (order) they belong
to. `Interactions` holds many of them as numpy columns, so that weighting, splitting and
building matrices are vectorised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import numpy as np

from recommender.keys import Key, key_array

DAY_SECONDS = 86_400.0
Timestamp = float | int | datetime | date | np.datetime64 | str | None


class Interaction(NamedTuple):
    """One thing a user did with an item.

    Attributes
    ----------
    user : str or int
        The user's key (a customer id, or a session id for an anonymous visitor).
    item : str or int
        The item's key (a SKU or product id).
    kind : str
        What happened: "view", "cart_add", "purchase", or any kind the weighting knows.
    timestamp : float, int, datetime, date, numpy.datetime64, str or None
        When: seconds since the epoch, a datetime (naive means UTC) or an ISO 8601 string.
    quantity : float or None
        How many units, for purchases and cart additions; None means one.
    basket : str or int or None
        The order a purchase belongs to; None groups a user's purchases by timestamp.
    """

    user: Key
    item: Key
    kind: str = "purchase"
    timestamp: Timestamp = None
    quantity: float | None = None
    basket: Key | None = None


def to_epoch_seconds(value: Timestamp) -> float:
    """Return a timestamp as float seconds since the epoch (UTC); NaN for None."""
    if value is None:
        return math.nan
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return math.nan
        return float(value.astype("datetime64[us]").astype(np.int64)) / 1e6
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return to_epoch_seconds(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"not a timestamp: {value!r}") from None
    raise ValueError(f"not a timestamp: {value!r} ({type(value).__name__})")


def timestamps_array(values: Any, size: int) -> np.ndarray:
    """Return timestamps as float64 epoch seconds (NaN when unknown); size when values is None."""
    if values is None:
        return np.full(size, np.nan)
    array = np.asarray(values)
    if array.ndim == 0:
        array = np.full(size, array.item() if array.dtype.kind != "M" else array)
    if array.dtype.kind == "M":
        micros = array.astype("datetime64[us]")
        seconds = micros.astype(np.int64).astype(np.float64) / 1e6
        seconds[np.isnat(micros)] = np.nan
        return seconds
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    memo: dict[Any, float] = {}
    out = np.empty(len(array), dtype=np.float64)
    for i, value in enumerate(array.tolist()):
        try:
            out[i] = memo[value]
        except KeyError:
            out[i] = memo[value] = to_epoch_seconds(value)
        except TypeError:  # unhashable
            out[i] = to_epoch_seconds(value)
    return out


def _from_object(record: Any) -> Interaction:
    """Read an interaction from an object's attributes."""
    try:
        user, item = record.user, record.item
    except AttributeError:
        raise ValueError(
            f"an interaction must be a tuple or have .user and .item, not {record!r}"
        ) from None
    defaults = Interaction._field_defaults
    return Interaction(
        user, item, *(getattr(record, f, defaults[f]) for f in Interaction._fields[2:])
    )


def _column(values: Any, size: int, what: str, dtype: Any) -> np.ndarray:
    """Return values (or a scalar broadcast to size) as a 1-d array of dtype."""
    array = np.asarray(values)
    if array.ndim == 0:
        return np.full(size, array.item()).astype(dtype)  # np.full(..., dtype=str) truncates
    if array.shape != (size,):
        raise ValueError(f"{what} must have {size} values, not shape {array.shape}")
    return array.astype(dtype)


@dataclass(frozen=True, eq=False)
class Interactions:
    """Interactions as numpy columns of equal length.

    Attributes
    ----------
    users, items : numpy.ndarray
        Keys, str or int64.
    kinds : numpy.ndarray of str
    timestamps : numpy.ndarray of float64
        Seconds since the epoch, NaN when unknown.
    quantities : numpy.ndarray of float64
        NaN when not given (counts as one).
    baskets : numpy.ndarray of str
        The order of a purchase, "" when not given.
    """

    users: np.ndarray
    items: np.ndarray
    kinds: np.ndarray
    timestamps: np.ndarray
    quantities: np.ndarray
    baskets: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        users: Any,
        items: Any,
        kinds: Any = "purchase",
        timestamps: Any = None,
        quantities: Any = None,
        baskets: Any = None,
    ) -> Interactions:
        """Build from column arrays; a scalar kind (or quantity) applies to every row.

        Raises
        ------
        ValueError
            When the columns differ in length, keys are neither str nor int, or a timestamp
            cannot be read.
        """
        user_keys = key_array(users, "user")
        size = len(user_keys)
        item_keys = key_array(items, "item")
        if len(item_keys) != size:
            raise ValueError(f"items must have {size} values (one per user), not {len(item_keys)}")
        kind_values = _column(kinds, size, "kinds", str)
        times = timestamps_array(timestamps, size)
        if times.shape != (size,):
            raise ValueError(f"timestamps must have {size} values, not shape {times.shape}")
        if quantities is None:
            amounts = np.full(size, np.nan)
        else:
            if isinstance(quantities, list | tuple) and None in quantities:
                quantities = [np.nan if q is None else q for q in quantities]
            amounts = _column(quantities, size, "quantities", np.float64)
        if baskets is None:
            basket_keys = np.full(size, "", dtype="<U1")
        else:
            basket_list = np.asarray(baskets, dtype=object)
            if basket_list.ndim == 0:
                basket_list = np.full(size, basket_list.item(), dtype=object)
            basket_keys = _column(
                ["" if b is None else str(b) for b in basket_list.tolist()], size, "baskets", str
            )
        return cls(user_keys, item_keys, kind_values, times, amounts, basket_keys)

    @classmethod
    def from_records(cls, records: Iterable[Interaction | tuple[Any, ...]]) -> Interactions:
        """Build from `Interaction` tuples, plain tuples in the same field order, or objects
        (dataclasses) with attributes of those names.

        A tuple holds at least (user, item) and at most all six fields; an object needs
        `user` and `item`, the other attributes are optional.
        """
        rows = records if isinstance(records, list) else list(records)
        if not rows:
            return cls.empty()
        if not isinstance(rows[0], tuple | list):
            rows = [_from_object(r) for r in rows]
        widths = set(map(len, rows))
        if min(widths) < 2 or max(widths) > len(Interaction._fields):
            raise ValueError(
                "each interaction needs 2 to 6 fields (user, item, kind, timestamp, "
                f"quantity, basket), got {sorted(widths)}"
            )
        if len(widths) > 1:
            rows = [Interaction(*r) for r in rows]
        columns: list[Any] = list(zip(*rows, strict=True))
        columns += [Interaction._field_defaults[f] for f in Interaction._fields[len(columns) :]]
        users, items, kinds, timestamps, quantities, baskets = columns
        if quantities is not None and None in quantities:
            quantities = [np.nan if q is None else q for q in quantities]
        return cls.from_arrays(
            users,
            items,
            kinds=kinds,
            timestamps=timestamps,
            quantities=quantities,
            baskets=baskets,
        )

    @classmethod
    def coerce(cls, data: Interactions | Iterable[Interaction | tuple[Any, ...]]) -> Interactions:
        """Return data as Interactions (itself when it already is)."""
        return data if isinstance(data, Interactions) else cls.from_records(data)

    @classmethod
    def empty(cls) -> Interactions:
        """No interactions at all."""
        return cls(
            np.array([], dtype="<U1"),
            np.array([], dtype="<U1"),
            np.array([], dtype="<U1"),
            np.array([], dtype=np.float64),
            np.array([], dtype=np.float64),
            np.array([], dtype="<U1"),
        )

    def __len__(self) -> int:
        return len(self.users)

    def select(self, rows: np.ndarray) -> Interactions:
        """Return the interactions at a boolean mask or an index array."""
        return Interactions(
            self.users[rows],
            self.items[rows],
            self.kinds[rows],
            self.timestamps[rows],
            self.quantities[rows],
            self.baskets[rows],
        )

    def before(self, moment: Timestamp) -> Interactions:
        """Interactions strictly before moment (those without a timestamp are kept)."""
        cutoff = to_epoch_seconds(moment)
        return self.select(~(self.timestamps >= cutoff))

    def since(self, moment: Timestamp) -> Interactions:
        """Interactions at or after moment (those without a timestamp are dropped)."""
        return self.select(self.timestamps >= to_epoch_seconds(moment))

    def of_kinds(self, kinds: Iterable[str]) -> Interactions:
        """Interactions whose kind is one of kinds."""
        return self.select(np.isin(self.kinds, list(kinds)))

    def concat(self, other: Interactions) -> Interactions:
        """These interactions followed by other's."""
        return Interactions.from_arrays(
            np.concatenate([self.users, other.users]),
            np.concatenate([self.items, other.items]),
            np.concatenate([self.kinds, other.kinds]),
            np.concatenate([self.timestamps, other.timestamps]),
            np.concatenate([self.quantities, other.quantities]),
            np.concatenate([self.baskets, other.baskets]),
        )

    @property
    def time_span(self) -> tuple[float, float] | None:
        """The first and last timestamp, or None when no interaction has one."""
        known = self.timestamps[~np.isnan(self.timestamps)]
        if len(known) == 0:
            return None
        return float(known.min()), float(known.max())

    def basket_ids(self) -> np.ndarray:
        """Return a basket number per row: the basket key if given, else (user, timestamp)."""
        if len(self) == 0:
            return np.array([], dtype=np.int64)
        _, user_codes = np.unique(self.users, return_inverse=True)
        times = np.where(np.isnan(self.timestamps), -1.0, self.timestamps)
        _, time_codes = np.unique(times, return_inverse=True)
        given = self.baskets != ""
        _, basket_codes = np.unique(self.baskets, return_inverse=True)
        pairs = np.stack(
            [
                given.astype(np.int64),
                np.where(given, basket_codes, user_codes),
                np.where(given, 0, time_codes),
            ],
            axis=1,
        )
        _, ids = np.unique(pairs, axis=0, return_inverse=True)
        return ids.reshape(-1).astype(np.int64)
