"""Ranking metrics at k, averaged over users.

Precision@k is hits / k for every user (a user with fewer than k relevant items cannot reach
1). implicit.evaluation divides by min(k, relevant items) instead, which makes its
"precision" a recall-like number; the two are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


@dataclass(frozen=True)
class RankingMetrics:
    """Averages over users of one list per user (coverage is over the catalogue)."""

    users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float
    coverage: float
    # Each user's precision, in the evaluator's user order (for paired intervals).
    per_user_precision: np.ndarray = field(
        default_factory=lambda: np.zeros(0), repr=False, compare=False
    )

    def as_dict(self) -> dict[str, float]:
        """Plain data (the averages, not the per-user values)."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "per_user_precision"
        }


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """A paired bootstrap interval for mean(numerator) / mean(denominator).

    Both arrays hold one value per user, in the same user order; users are resampled with
    replacement, so the interval reflects which users happened to be in the test period.
    The upper bound is infinite when enough resamples have no baseline hit.
    """
    a = np.asarray(numerator, dtype=np.float64)
    b = np.asarray(denominator, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("need two equally long, non-empty per-user arrays")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    for i in range(resamples):
        sample = rng.integers(0, len(a), len(a))
        below = b[sample].sum()
        ratios[i] = a[sample].sum() / below if below > 0 else np.inf
    # Order statistics, not interpolation: a resample without any baseline hit is infinite.
    tail = (1 - confidence) / 2
    ratios.sort()
    low = ratios[int(np.floor(tail * (resamples - 1)))]
    high = ratios[int(np.ceil((1 - tail) * (resamples - 1)))]
    return float(low), float(high)


class MetricsAccumulator:
    """Sums per-user metrics over batches of ranked lists."""

    def __init__(self, k: int, n_items: int) -> None:
        self.k = k
        self.n_items = n_items
        self.users = 0
        self.sums = dict.fromkeys(("precision", "recall", "ndcg", "map", "hit_rate"), 0.0)
        self.shown = np.zeros(n_items, dtype=bool)
        self.discounts = 1.0 / np.log2(np.arange(2, k + 2))
        self.precisions: list[np.ndarray] = []

    def add(self, hits: np.ndarray, relevant: np.ndarray, shown: np.ndarray) -> None:
        """Add a batch.

        Parameters
        ----------
        hits : numpy.ndarray
            users x k booleans: is the item at each rank relevant.
        relevant : numpy.ndarray
            Relevant items per user (> 0).
        shown : numpy.ndarray
            Item indices recommended in this batch (for coverage).
        """
        if hits.shape[1] < self.k:  # fewer items than k in the catalogue
            hits = np.pad(hits, ((0, 0), (0, self.k - hits.shape[1])))
        hits = hits.astype(np.float64)
        relevant = relevant.astype(np.float64)
        found = hits.sum(axis=1)
        ideal_count = np.minimum(relevant, self.k).astype(np.int64)
        ideal = np.cumsum(self.discounts)[ideal_count - 1]
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, self.k + 1)
        self.precisions.append(found / self.k)
        self.sums["precision"] += float(self.precisions[-1].sum())
        self.sums["recall"] += float((found / relevant).sum())
        self.sums["ndcg"] += float(((hits @ self.discounts) / ideal).sum())
        self.sums["map"] += float(((precision_at * hits).sum(axis=1) / ideal_count).sum())
        self.sums["hit_rate"] += float((found > 0).sum())
        self.users += len(hits)
        self.shown[shown] = True

    def result(self) -> RankingMetrics:
        """The averages so far."""
        n = max(self.users, 1)
        return RankingMetrics(
            users=self.users,
            coverage=float(self.shown.mean()) if self.n_items else 0.0,
            per_user_precision=np.concatenate(self.precisions) if self.precisions else np.zeros(0),
            **{name: value / n for name, value in self.sums.items()},
        )
