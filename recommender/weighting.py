"""Interaction weights and the weighted user x item matrix.

weight = kind weight x quantity factor x time decay, where

* the kind weight comes from `Weighting.kind_weights` (a kind it does not list weighs 0, so
  the interaction is ignored),
* the quantity factor is 1 + ln(quantity) (1 for a missing quantity, 0 for quantity <= 0),
* the time decay is 0.5 ** (age / half-life), with age measured back from `now` (the newest
  interaction by default); an interaction without a timestamp does not fade.

A user's weights for one item are summed; with `log_scale_totals` (the default) the sum s
becomes ln(1 + s), so the hundredth order of an item adds less than the second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from recommender.interactions import DAY_SECONDS, Interactions, Timestamp, to_epoch_seconds
from recommender.keys import IdMap

DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "cart_add": 3.0,
    "purchase": 5.0,
}


@dataclass(frozen=True)
class Weighting:
    """How much each interaction counts.

    Parameters
    ----------
    kind_weights : mapping of str to float
        Weight of each interaction kind; kinds not listed are ignored.
    half_life_days : float or None
        Age at which an interaction counts half; None switches fading off.
    purchase_kinds : tuple of str
        The kinds that are purchases (for "buy it again", baskets and evaluation).
    log_scale_totals : bool
        Store ln(1 + summed weight) per user and item instead of the sum.
    """

    kind_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS))
    half_life_days: float | None = 90.0
    purchase_kinds: tuple[str, ...] = ("purchase",)
    log_scale_totals: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind_weights", dict(self.kind_weights))
        object.__setattr__(self, "purchase_kinds", tuple(self.purchase_kinds))
        for kind, weight in self.kind_weights.items():
            if not isinstance(kind, str) or not kind:
                raise ValueError(f"interaction kinds must be non-empty strings, not {kind!r}")
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"the weight of {kind!r} must be >= 0, not {weight!r}")
        if self.half_life_days is not None and not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0 or None, not {self.half_life_days!r}")
        if not self.purchase_kinds:
            raise ValueError("purchase_kinds must name at least one kind")

    def kind_weight_array(self, kinds: np.ndarray) -> np.ndarray:
        """Return the weight of each kind (0 for kinds not listed)."""
        out = np.zeros(len(kinds), dtype=np.float64)
        for kind, weight in self.kind_weights.items():
            out[kinds == kind] = weight
        return out

    def weights(self, interactions: Interactions, now: Timestamp = None) -> np.ndarray:
        """Return the weight of every interaction, faded back from now."""
        weights = self.kind_weight_array(interactions.kinds)
        weights *= quantity_factor(interactions.quantities)
        if self.half_life_days is not None:
            weights *= decay(interactions.timestamps, now, self.half_life_days)
        return weights

    def to_dict(self) -> dict[str, Any]:
        """The weighting as JSON-friendly data."""
        return {
            "kind_weights": dict(self.kind_weights),
            "half_life_days": self.half_life_days,
            "purchase_kinds": list(self.purchase_kinds),
            "log_scale_totals": self.log_scale_totals,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Weighting:
        """Read a weighting written by `to_dict` (missing fields keep their defaults)."""
        known = {"kind_weights", "half_life_days", "purchase_kinds", "log_scale_totals"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown weighting fields: {sorted(unknown)}")
        values = dict(data)
        if "purchase_kinds" in values:
            values["purchase_kinds"] = tuple(values["purchase_kinds"])
        return cls(**values)

    def totals(self, summed: np.ndarray) -> np.ndarray:
        """What a user's summed weight for one item becomes in the matrix."""
        return np.log1p(summed) if self.log_scale_totals else summed


def quantity_factor(quantities: np.ndarray) -> np.ndarray:
    """Return 1 + ln(quantity): 1 for NaN (not given), 0 for quantity <= 0."""
    q = np.asarray(quantities, dtype=np.float64)
    out = np.ones(len(q), dtype=np.float64)
    given = ~np.isnan(q)
    positive = given & (q > 0)
    out[given & ~positive] = 0.0
    out[positive] = 1.0 + np.log(np.maximum(q[positive], 1.0))
    return out


def decay(timestamps: np.ndarray, now: Timestamp, half_life_days: float) -> np.ndarray:
    """Return 0.5 ** (age / half-life) per timestamp; 1 when unknown or in the future."""
    reference = resolve_now(timestamps, now)
    if reference is None:
        return np.ones(len(timestamps))
    age = np.maximum(reference - timestamps, 0.0)
    factor = np.exp2(-age / (half_life_days * DAY_SECONDS))
    return np.where(np.isnan(timestamps), 1.0, factor)


def resolve_now(timestamps: np.ndarray, now: Timestamp) -> float | None:
    """Return now as epoch seconds, defaulting to the newest timestamp (None if there is none)."""
    if now is not None:
        return to_epoch_seconds(now)
    if len(timestamps) == 0 or np.all(np.isnan(timestamps)):
        return None
    return float(np.nanmax(timestamps))


@dataclass(frozen=True, eq=False)
class InteractionMatrix:
    """A weighted user x item CSR matrix with the keys of its rows and columns.

    Attributes
    ----------
    user_items : scipy.sparse.csr_matrix of float32
        Summed weights, one row per user and one column per item.
    users, items : IdMap
        Row and column keys.
    now : float or None
        The moment the weights were faded back from (epoch seconds).
    ignored : int
        Interactions left out: a weight of 0, or a user or item outside the given maps.
    """

    user_items: csr_matrix
    users: IdMap
    items: IdMap
    now: float | None
    ignored: int

    @property
    def shape(self) -> tuple[int, int]:
        """(users, items)."""
        return self.user_items.shape  # type: ignore[return-value]


def build_matrix(
    interactions: Interactions,
    weighting: Weighting | None = None,
    *,
    now: Timestamp = None,
    users: IdMap | None = None,
    items: IdMap | None = None,
) -> InteractionMatrix:
    """Weight interactions and sum them into a user x item CSR matrix.

    Parameters
    ----------
    interactions : Interactions
    weighting : Weighting, optional
        Defaults to `Weighting()`.
    now : timestamp, optional
        Fade weights back from this moment; defaults to the newest interaction.
    users, items : IdMap, optional
        Fixed row or column keys; interactions outside them are ignored. By default the maps
        hold every key that has a positive weight, sorted.

    Returns
    -------
    InteractionMatrix
    """
    weighting = weighting or Weighting()
    reference = resolve_now(interactions.timestamps, now)
    weights = weighting.weights(interactions, reference)
    keep = weights > 0
    if users is None:
        user_map, user_codes = IdMap.encode(interactions.users[keep], "user")
    else:
        user_map, user_codes = users, users.indices_of(interactions.users[keep])
    if items is None:
        item_map, item_codes = IdMap.encode(interactions.items[keep], "item")
    else:
        item_map, item_codes = items, items.indices_of(interactions.items[keep])
    known = (user_codes >= 0) & (item_codes >= 0)
    matrix = csr_matrix(
        (weights[keep][known].astype(np.float32), (user_codes[known], item_codes[known])),
        shape=(len(user_map), len(item_map)),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    matrix.data = weighting.totals(matrix.data).astype(np.float32)
    ignored = len(interactions) - int(known.sum())
    return InteractionMatrix(matrix, user_map, item_map, reference, ignored)
