"""Two-way maps between user or item keys (str or int) and matrix indices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Key = str | int


def key_array(values: Any, what: str) -> np.ndarray:
    """Return values as a 1-d numpy array of str or int64 keys; raise ValueError otherwise."""
    array = np.asarray(values)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{what} keys must be a 1-d sequence, not shape {array.shape}")
    kind = array.dtype.kind
    if kind == "U":
        return array
    if kind in "iu":
        return array.astype(np.int64, copy=False)
    if kind == "O":
        if any(value is None for value in array):
            raise ValueError(f"{what} keys must not be None")
        if all(isinstance(value, int | np.integer) for value in array):
            return array.astype(np.int64)
        return array.astype(str)
    if kind == "S":
        return array.astype(str)
    raise ValueError(f"{what} keys must be str or int, not {array.dtype}")


class IdMap:
    """Keys in index order, with vectorised lookups from key to index.

    Parameters
    ----------
    keys : array_like of str or int
        Distinct keys; the position of a key is its index.

    Notes
    -----
    A lookup converts the key to the map's type first, so on a map of str keys ``17850`` finds
    ``"17850"``, and on a map of int keys ``"17850"`` finds ``17850``.
    """

    def __init__(self, keys: Any) -> None:
        self.keys = key_array(keys, "map")
        order = np.argsort(self.keys, kind="stable")
        sorted_keys = self.keys[order]
        if len(sorted_keys) > 1 and np.any(sorted_keys[1:] == sorted_keys[:-1]):
            raise ValueError("map keys must be distinct")
        is_identity = bool(np.all(order == np.arange(len(order))))
        self._order = None if is_identity else order
        self._sorted = sorted_keys if not is_identity else self.keys

    @classmethod
    def encode(cls, values: Any, what: str = "key") -> tuple[IdMap, np.ndarray]:
        """Return a map of the distinct values (sorted) and each value's index."""
        array = key_array(values, what)
        keys, codes = np.unique(array, return_inverse=True)
        return cls(keys), codes.astype(np.int64, copy=False).reshape(-1)

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return self.index_of(key) is not None  # type: ignore[arg-type]

    @property
    def is_str(self) -> bool:
        """True when the keys are strings."""
        return self.keys.dtype.kind == "U"

    def _convert(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (values in the map's type, mask of values that could be converted)."""
        array = np.asarray(values)
        if array.ndim == 0:
            array = array.reshape(1)
        if self.is_str:
            if array.dtype.kind == "U":
                return array, np.ones(len(array), dtype=bool)
            return array.astype(str), np.array([v is not None for v in array], dtype=bool)
        if array.dtype.kind in "iu":
            return array.astype(np.int64, copy=False), np.ones(len(array), dtype=bool)
        converted = np.zeros(len(array), dtype=np.int64)
        ok = np.zeros(len(array), dtype=bool)
        for i, value in enumerate(array):
            try:
                converted[i] = int(value)
                ok[i] = not isinstance(value, float | np.floating) or float(value).is_integer()
            except (TypeError, ValueError, OverflowError):
                pass
        return converted, ok

    def indices_of(self, keys: Iterable[Key] | np.ndarray) -> np.ndarray:
        """Return the index of each key, -1 for keys not in the map."""
        if not isinstance(keys, np.ndarray):
            keys = list(keys)
        values, ok = self._convert(keys)
        if len(values) == 0 or len(self.keys) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        positions = np.searchsorted(self._sorted, values)
        positions = np.minimum(positions, len(self._sorted) - 1)
        found = ok & (self._sorted[positions] == values)
        indices = positions if self._order is None else self._order[positions]
        return np.where(found, indices, -1).astype(np.int64)

    def index_of(self, key: Key) -> int | None:
        """Return the index of key, or None when the map does not hold it."""
        index = int(self.indices_of([key])[0])
        return None if index < 0 else index

    def key_of(self, index: int) -> Key:
        """Return the key at index as a plain Python str or int."""
        return self.keys[index].item()

    def keys_of(self, indices: Sequence[int] | np.ndarray) -> list[Key]:
        """Return the keys at indices as plain Python values."""
        return self.keys[np.asarray(indices, dtype=np.int64)].tolist()
