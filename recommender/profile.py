"""One shopper's live interactions turned into a model row, at request time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from recommender.interactions import Interactions, Timestamp
from recommender.keys import IdMap
from recommender.weighting import Weighting, decay, resolve_now


@dataclass(frozen=True, eq=False)
class UserProfile:
    """A user's weighted row over the catalogue, plus what explains and re-buys need.

    Attributes
    ----------
    row : scipy.sparse.csr_matrix
        1 x n_items float32 weights, as in the training matrix.
    items : numpy.ndarray
        The item indices in the row (sorted).
    kinds : numpy.ndarray of str
        For each of `items`, the interaction kind that contributed most of its weight.
    purchased : numpy.ndarray
        Item indices the user bought (sorted).
    purchase_recency : numpy.ndarray
        For each of `purchased`, the number of purchases, each faded by its age.
    unknown : int
        Interactions with items outside the catalogue (left out).
    """

    row: csr_matrix
    items: np.ndarray
    kinds: np.ndarray
    purchased: np.ndarray
    purchase_recency: np.ndarray
    unknown: int

    @classmethod
    def build(
        cls,
        interactions: Interactions,
        catalogue: IdMap,
        weighting: Weighting,
        *,
        now: Timestamp = None,
        repurchase_half_life_days: float | None = None,
    ) -> UserProfile:
        """Weight one user's interactions (all of them, however recent) into a row."""
        n_items = len(catalogue)
        codes = catalogue.indices_of(interactions.items)
        known = codes >= 0
        reference = resolve_now(interactions.timestamps, now)
        weights = weighting.weights(interactions, reference)
        use = known & (weights > 0)
        items, item_local = np.unique(codes[use], return_inverse=True)
        kind_names, kind_codes = np.unique(interactions.kinds[use], return_inverse=True)
        sums = np.bincount(
            item_local * len(kind_names) + kind_codes,
            weights=weights[use],
            minlength=len(items) * len(kind_names),
        ).reshape(len(items), len(kind_names))
        totals = weighting.totals(sums.sum(axis=1))
        row = csr_matrix(
            (totals.astype(np.float32), items, np.array([0, len(items)])),
            shape=(1, n_items),
        )
        kinds = kind_names[sums.argmax(axis=1)] if len(items) else np.array([], dtype=str)

        bought = known & np.isin(interactions.kinds, weighting.purchase_kinds)
        if repurchase_half_life_days is None:
            faded = np.ones(int(bought.sum()))
        else:
            faded = decay(interactions.timestamps[bought], reference, repurchase_half_life_days)
        purchased, purchase_local = np.unique(codes[bought], return_inverse=True)
        recency = np.bincount(purchase_local, weights=faded, minlength=len(purchased))
        return cls(row, items, kinds, purchased, recency, int((~known).sum()))

    @property
    def is_empty(self) -> bool:
        """True when nothing the user did touches the catalogue."""
        return len(self.items) == 0 and len(self.purchased) == 0

    def kind_of(self, item: int) -> str | None:
        """The kind that contributed most to item's weight, None when it is not in the row."""
        position = np.searchsorted(self.items, item)
        if position < len(self.items) and self.items[position] == item:
            return str(self.kinds[position])
        return None
