"""Offline check of `Recommender.similar_items`, by how many users each item had.

Task: in an evaluation period, for each (customer, item i) where the customer bought i, the
other catalogue items that customer bought in the period are the items related to i (with
``--relation basket``: the other items of the same basket). A list of the k items most
similar to i scores precision@k = related items listed / k and hit rate@k = at least one;
pairs whose customer (basket) bought nothing else are left out. Pairs are averaged within
buckets of i's training users (1-4, 5-19, 20+), since that is what decides how well its
factors are determined.

Compared: the model's similarity alone (`SimilarParams.content_buyers` = 0, the behaviour
before the blend), the content similarity alone, the blend for each tau, and recent
popularity as a reference (not a candidate: a best-seller list is not "similar to X").

Periods: *validation* trains on the data before cutoff - validation days and scores the
validation days before the cutoff; *test* trains on the data before the cutoff and scores
the rest. Choose tau on validation, then score test once::

    python -m recommender.similar_evaluation DATA.csv --items ITEMS.csv --params PARAMS.json \\
        --cutoff 2011-09-01 --period validation
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csr_matrix

from recommender.csvio import parse_date, read_interactions_csv, read_item_features_csv
from recommender.interactions import DAY_SECONDS, Interactions
from recommender.models.base import top_k
from recommender.params import TrainingParams
from recommender.serving import Recommender
from recommender.similar import SimilarParams
from recommender.training import train

BUCKETS = ((1, 4), (5, 19), (20, None))
DEFAULT_TAUS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0)
MODEL = "model (tau 0)"
CONTENT = "content"
POPULARITY = "popularity (reference)"


def bucket_name(low: int, high: int | None) -> str:
    """ "1-4", "20+"."""
    return f"{low}+" if high is None else f"{low}-{high}"


def buckets_of(users: np.ndarray) -> np.ndarray:
    """Per item, the index of its bucket in `BUCKETS` (-1: none, i.e. no users)."""
    out = np.full(len(users), -1)
    for b, (low, high) in enumerate(BUCKETS):
        out[(users >= low) & (users <= (high if high is not None else np.inf))] = b
    return out


def related(recommender: Recommender, period: Interactions, relation: str) -> csr_matrix:
    """Groups (customers or baskets) x catalogue items: 1 where the group bought the item."""
    items = recommender.items.indices_of(period.items)
    groups = period.users if relation == "customer" else period.basket_ids()
    known = items >= 0
    _, codes = np.unique(groups[known], return_inverse=True)
    codes = codes.reshape(-1)
    matrix = csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (codes, items[known])),
        shape=(int(codes.max()) + 1 if len(codes) else 0, len(recommender.items)),
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


@dataclass(frozen=True)
class PairScores:
    """Per (group, item) pair: the group, the item's bucket, precision@k and hit."""

    groups: np.ndarray
    buckets: np.ndarray
    precision: np.ndarray
    hit: np.ndarray


def score_lists(truth: csr_matrix, lists: csr_matrix, buckets: np.ndarray, k: int) -> PairScores:
    """Score item -> list (items x items, 1 where listed) against every pair of truth."""
    hits = (truth @ lists.T).tocsr()
    pairs = truth.tocoo()
    others = np.diff(truth.indptr)[pairs.row] > 1
    rows, cols = pairs.row[others], pairs.col[others]
    found = np.asarray(hits[rows, cols]).ravel() if len(rows) else np.empty(0)
    return PairScores(rows, buckets[cols], found / k, (found > 0).astype(np.float64))


def lists_matrix(lists: dict[int, np.ndarray], n: int) -> csr_matrix:
    """Items x items, 1 where the item's list holds the column's item."""
    rows = np.concatenate([np.full(len(v), i) for i, v in lists.items()] or [np.empty(0)])
    cols = np.concatenate([np.asarray(v) for v in lists.values()] or [np.empty(0)])
    data = np.ones(len(rows), dtype=np.float32)
    return csr_matrix((data, (rows.astype(np.int64), cols.astype(np.int64))), shape=(n, n))


def similar_lists(
    recommender: Recommender, items: np.ndarray, k: int, tau: float
) -> dict[int, np.ndarray]:
    """`similar_items` of each item with content_buyers = tau."""
    saved = recommender.params
    recommender.params = replace(saved, similar=SimilarParams(tau))
    try:
        return {
            int(i): recommender.items.indices_of(
                [r.item for r in recommender.similar_items(recommender.items.key_of(int(i)), k)]
            )
            for i in items
        }
    finally:
        recommender.params = saved


def content_lists(recommender: Recommender, items: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """The k most content-similar items of each item (fewer when it has fewer neighbours)."""
    if recommender.content is None:
        raise ValueError("content similarity needs item features (--items)")
    rows = recommender.content.similarity
    out = {}
    for i in items:
        start, stop = rows.indptr[i], rows.indptr[i + 1]
        ids, values = rows.indices[start:stop], rows.data[start:stop]
        order = np.lexsort((ids, -values))[:k]
        out[int(i)] = ids[order]
    return out


def popular_lists(recommender: Recommender, items: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """The k most recently popular items other than the item itself."""
    mask = np.zeros(len(recommender.items), dtype=bool)
    out = {}
    for i in items:
        mask[i] = True
        out[int(i)] = top_k(recommender.popularity, k, mask)[0]
        mask[i] = False
    return out


def bucket_means(scores: PairScores) -> dict[str, tuple[int, float, float]]:
    """Per bucket and over all pairs: (pairs, precision, hit rate)."""
    out = {}
    for b, (low, high) in enumerate(BUCKETS):
        chosen = scores.buckets == b
        out[bucket_name(low, high)] = _means(scores, chosen)
    out["all"] = _means(scores, np.ones(len(scores.groups), dtype=bool))
    return out


def _means(scores: PairScores, chosen: np.ndarray) -> tuple[int, float, float]:
    n = int(chosen.sum())
    if not n:
        return 0, float("nan"), float("nan")
    return n, float(scores.precision[chosen].mean()), float(scores.hit[chosen].mean())


def difference_intervals(
    scores: PairScores, base: PairScores, resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Per bucket, a 95% paired bootstrap interval (over groups) of the precision gain."""
    groups = int(max(scores.groups.max(initial=-1), base.groups.max(initial=-1))) + 1
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(groups, np.full(groups, 1.0 / groups), size=resamples)
    out = {}
    for b, (low, high) in enumerate(BUCKETS):
        chosen = scores.buckets == b
        gain = np.bincount(
            scores.groups[chosen],
            scores.precision[chosen] - base.precision[chosen],
            minlength=groups,
        )
        count = np.bincount(scores.groups[chosen], minlength=groups)
        totals = weights @ count
        means = (weights @ gain) / np.maximum(totals, 1)
        low_q, high_q = np.percentile(means, [2.5, 97.5])
        out[bucket_name(low, high)] = (float(low_q), float(high_q))
    return out


def choose_tau(
    table: dict[str, dict[str, tuple[int, float, float]]], taus: Sequence[float]
) -> float:
    """The tau with the best mean precision over the buckets whose top bucket is not below
    the model's (0 when none qualifies)."""
    top = bucket_name(*BUCKETS[-1])
    floor = table[MODEL][top][1]
    best, chosen = _macro(table[MODEL]), 0.0
    for tau in taus:
        row = table[_tau_name(tau)]
        if row[top][1] >= floor and _macro(row) > best:
            best, chosen = _macro(row), tau
    return chosen


def _macro(row: dict[str, tuple[int, float, float]]) -> float:
    return float(np.mean([row[bucket_name(*b)][1] for b in BUCKETS]))


def _tau_name(tau: float) -> str:
    return f"blend tau {tau:g}"


def run(
    interactions: Interactions,
    features: dict[str, str],
    params: TrainingParams,
    *,
    start: float,
    end: float,
    k: int = 6,
    taus: Sequence[float] = DEFAULT_TAUS,
    relation: str = "customer",
) -> tuple[dict[str, dict[str, tuple[int, float, float]]], dict[str, dict[str, tuple]], float]:
    """Train before start, score [start, end): (table by method, gain intervals, chosen tau)."""
    trained = train(
        interactions.select(interactions.timestamps < start), params, item_features=features
    )
    period = interactions.select(
        (interactions.timestamps >= start) & (interactions.timestamps < end)
    )
    period = period.of_kinds(params.weighting.purchase_kinds)
    truth = related(trained, period, relation)
    buckets = buckets_of(trained.item_users)
    items = np.flatnonzero(np.diff(truth.tocsc().indptr) > 0)
    n = len(trained.items)
    methods = {
        MODEL: similar_lists(trained, items, k, 0.0),
        CONTENT: content_lists(trained, items, k),
        **{_tau_name(t): similar_lists(trained, items, k, t) for t in taus},
        POPULARITY: popular_lists(trained, items, k),
    }
    scores = {
        name: score_lists(truth, lists_matrix(v, n), buckets, k) for name, v in methods.items()
    }
    table = {name: bucket_means(s) for name, s in scores.items()}
    intervals = {
        name: difference_intervals(s, scores[MODEL]) for name, s in scores.items() if name != MODEL
    }
    return table, intervals, choose_tau(table, taus)


def to_markdown(table: dict[str, dict[str, tuple[int, float, float]]], k: int) -> str:
    """One line per method: precision@k / hit rate@k per bucket and over all pairs."""
    columns = [bucket_name(*b) for b in BUCKETS] + ["all"]
    first = next(iter(table.values()))
    head = " | ".join(f"{c} ({first[c][0]:,} pairs)" for c in columns)
    lines = [f"| similar items (precision@{k} / hit rate@{k}) | {head} |"]
    lines.append("|---|" + "---:|" * len(columns))
    for name, row in table.items():
        cells = " | ".join(f"{row[c][1]:.4f} / {row[c][2]:.3f}" for c in columns)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the table, the gain intervals and the tau validation prefers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data")
    parser.add_argument("--items", required=True, help="item,description CSV")
    parser.add_argument("--params", help="TrainingParams JSON (e.g. written by tune)")
    parser.add_argument("--cutoff", required=True)
    parser.add_argument("--validation-days", type=float, default=90.0)
    parser.add_argument("--period", choices=("validation", "test"), default="validation")
    parser.add_argument("--relation", choices=("customer", "basket"), default="customer")
    parser.add_argument("-k", type=int, default=6)
    parser.add_argument("--taus", default=",".join(f"{t:g}" for t in DEFAULT_TAUS))
    args = parser.parse_args(argv)
    params = TrainingParams.load(args.params) if args.params else TrainingParams()
    interactions, _ = read_interactions_csv(args.data)
    cutoff = parse_date(args.cutoff)
    if args.period == "validation":
        start, end = cutoff - args.validation_days * DAY_SECONDS, cutoff
    else:
        start, end = cutoff, np.inf
    taus = [float(t) for t in args.taus.split(",") if t]
    table, intervals, chosen = run(
        interactions,
        read_item_features_csv(args.items),
        params,
        start=start,
        end=end,
        k=args.k,
        taus=taus,
        relation=args.relation,
    )
    print(to_markdown(table, args.k))
    print(f"\n95% paired bootstrap interval of the precision@{args.k} gain over the model:")
    for name, row in intervals.items():
        cells = ", ".join(f"{b} {lo:+.4f} to {hi:+.4f}" for b, (lo, hi) in row.items())
        print(f"  {name}: {cells}")
    print(
        "\nchosen by the rule (best mean over the buckets, top bucket not below the model):"
        f" tau {chosen:g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
