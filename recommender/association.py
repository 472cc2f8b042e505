"""Co-purchase association rules from baskets: "customers who bought this also bought".

For items a and b over N baskets:

* support(a → b) = baskets holding both / N
* confidence(a → b) = baskets holding both / baskets holding a
* lift(a → b) = confidence(a → b) / (baskets holding b / N)

A rule is kept when it passes all three thresholds; each item keeps its `max_rules` best
consequents (by confidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
from scipy.sparse import csr_matrix

from recommender.models.base import check_items, check_k


@dataclass(frozen=True)
class RuleThresholds:
    """Which co-purchase rules are kept.

    Parameters
    ----------
    min_support : float
        Fraction of baskets holding both items.
    min_count : int
        Baskets holding both items, at least (guards small data against chance pairs).
    min_confidence : float
        Fraction of the antecedent's baskets that also hold the consequent.
    min_lift : float
        How much more often than chance the pair occurs together.
    max_rules : int
        Consequents kept per antecedent.
    """

    min_support: float = 0.0002
    min_count: int = 3
    min_confidence: float = 0.05
    min_lift: float = 1.5
    max_rules: int = 50

    def __post_init__(self) -> None:
        if not 0 <= self.min_support <= 1:
            raise ValueError(f"min_support must be in [0, 1], not {self.min_support!r}")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [0, 1], not {self.min_confidence!r}")
        if not self.min_lift >= 0:
            raise ValueError(f"min_lift must be >= 0, not {self.min_lift!r}")
        check_k(self.min_count, "min_count")
        check_k(self.max_rules, "max_rules")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read thresholds written by `to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class Rule:
    """One association rule a → b with its statistics."""

    antecedent: int
    consequent: int
    support: float
    confidence: float
    lift: float


class BasketRules:
    """Association rules between items, mined from baskets.

    Attributes
    ----------
    pair_counts : scipy.sparse.csr_matrix
        Items x items; entry (a, b) is the number of baskets holding both, for kept rules.
    item_counts : numpy.ndarray
        Baskets holding each item.
    n_baskets : int
    """

    def __init__(self, pair_counts: csr_matrix, item_counts: np.ndarray, n_baskets: int) -> None:
        n_items = len(item_counts)
        if pair_counts.shape != (n_items, n_items):
            raise ValueError(
                f"pair_counts must be {n_items} x {n_items}, not {pair_counts.shape[0]} x "
                f"{pair_counts.shape[1]}"
            )
        self.pair_counts = csr_matrix(pair_counts, dtype=np.float32)
        self.pair_counts.sort_indices()
        self.item_counts = np.asarray(item_counts, dtype=np.float64)
        self.n_baskets = int(n_baskets)

    @classmethod
    def mine(
        cls,
        baskets: np.ndarray,
        items: np.ndarray,
        n_items: int,
        thresholds: RuleThresholds | None = None,
    ) -> BasketRules:
        """Mine rules from (basket id, item index) pairs.

        Parameters
        ----------
        baskets : numpy.ndarray
            Basket id of each purchase line (any integers).
        items : numpy.ndarray
            Item index of each purchase line, in [0, n_items).
        n_items : int
        thresholds : RuleThresholds, optional
        """
        thresholds = thresholds or RuleThresholds()
        items = check_items(items, n_items) if len(items) else np.array([], dtype=np.int64)
        if len(baskets) != len(items):
            raise ValueError("baskets and items must have the same length")
        _, basket_codes = np.unique(baskets, return_inverse=True)
        n_baskets = int(basket_codes.max()) + 1 if len(basket_codes) else 0
        incidence = csr_matrix(
            (np.ones(len(items), dtype=np.float32), (basket_codes.reshape(-1), items)),
            shape=(n_baskets, n_items),
        )
        incidence.sum_duplicates()
        incidence.data[:] = 1.0  # an item listed twice in one basket counts once
        item_counts = np.asarray(incidence.sum(axis=0)).ravel()
        together = (incidence.T @ incidence).tocoo()
        keep = together.row != together.col
        a, b, count = together.row[keep], together.col[keep], together.data[keep]
        if n_baskets:
            support = count / n_baskets
            confidence = count / item_counts[a]
            lift = confidence / (item_counts[b] / n_baskets)
            keep = (
                (support >= thresholds.min_support)
                & (count >= thresholds.min_count)
                & (confidence >= thresholds.min_confidence)
                & (lift >= thresholds.min_lift)
            )
            a, b, count = a[keep], b[keep], count[keep]
        pairs = csr_matrix((count, (a, b)), shape=(n_items, n_items), dtype=np.float32)
        return cls(_keep_best(pairs, item_counts, thresholds.max_rules), item_counts, n_baskets)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_counts)

    @property
    def n_rules(self) -> int:
        """Number of kept rules."""
        return int(self.pair_counts.nnz)

    def rules_for(self, item: int) -> list[Rule]:
        """Every kept rule item → b, highest confidence first."""
        (index,) = check_items([item], self.n_items)
        start, end = self.pair_counts.indptr[index], self.pair_counts.indptr[index + 1]
        rules = [
            self._rule(int(index), int(b), float(c))
            for b, c in zip(
                self.pair_counts.indices[start:end], self.pair_counts.data[start:end], strict=True
            )
        ]
        return sorted(rules, key=lambda r: (-r.confidence, r.consequent))

    def _rule(self, a: int, b: int, count: float) -> Rule:
        confidence = count / self.item_counts[a]
        return Rule(
            antecedent=a,
            consequent=b,
            support=count / self.n_baskets,
            confidence=confidence,
            lift=confidence / (self.item_counts[b] / self.n_baskets),
        )

    def recommend(
        self, items: np.ndarray, k: int = 10, exclude: np.ndarray | None = None
    ) -> list[Rule]:
        """The best consequents for a basket: per candidate, its strongest rule from any item.

        Candidates are ranked by confidence, then lift; the basket's own items never come back.
        """
        check_k(k)
        antecedents = np.unique(check_items(items, self.n_items))
        if len(antecedents) == 0 or self.n_rules == 0:
            return []
        block = self.pair_counts[antecedents].tocoo()
        confidence = block.data / self.item_counts[antecedents[block.row]]
        # One winner per candidate: its highest-confidence rule from any basket item.
        order = np.lexsort((-confidence, block.col))
        columns = block.col[order]
        winners = order[np.r_[True, columns[1:] != columns[:-1]]] if len(order) else order
        excluded = np.zeros(self.n_items, dtype=bool)
        excluded[antecedents] = True
        if exclude is not None and len(exclude):
            excluded[check_items(exclude, self.n_items)] = True
        winners = winners[~excluded[block.col[winners]]]
        candidates = block.col[winners]
        best = confidence[winners]
        lift = best / (self.item_counts[candidates] / self.n_baskets)
        ranked = winners[np.lexsort((candidates, -lift, -best))[:k]]
        return [
            self._rule(int(antecedents[block.row[w]]), int(block.col[w]), float(block.data[w]))
            for w in ranked
        ]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The rules as plain arrays."""
        p = self.pair_counts
        return {
            "data": p.data,
            "indices": p.indices,
            "indptr": p.indptr,
            "item_counts": self.item_counts,
            "n_baskets": np.array(self.n_baskets),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> BasketRules:
        """Rebuild from `to_arrays`."""
        item_counts = np.asarray(arrays["item_counts"])
        n = len(item_counts)
        pairs = csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n))
        return cls(pairs, item_counts, int(arrays["n_baskets"]))

    @classmethod
    def empty(cls, n_items: int) -> BasketRules:
        """No rules over n_items items."""
        return cls(csr_matrix((n_items, n_items), dtype=np.float32), np.zeros(n_items), 0)


def _keep_best(pairs: csr_matrix, item_counts: np.ndarray, limit: int) -> csr_matrix:
    """Keep each row's `limit` largest counts (largest confidence, as the row is fixed)."""
    pairs.sort_indices()
    lengths = np.diff(pairs.indptr)
    if len(lengths) == 0 or lengths.max(initial=0) <= limit:
        return pairs
    rows, cols, data = [], [], []
    for a in np.flatnonzero(lengths):
        start, end = pairs.indptr[a], pairs.indptr[a + 1]
        values = pairs.data[start:end]
        order = np.lexsort((pairs.indices[start:end], -values))[:limit]
        rows.append(np.full(len(order), a))
        cols.append(pairs.indices[start:end][order])
        data.append(values[order])
    return csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
        shape=pairs.shape,
        dtype=np.float32,
    )
