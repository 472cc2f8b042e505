"""Recommender speed and memory: training on Online Retail, `for_user` latency with request-time
recalculation at the demo size and at 100,000 items x 1,000,000 users, and model memory.

The library only; no app, no database. Online Retail is converted to the generic CSV (and
its product descriptions to the item features CSV) once (`bench.online_retail_interactions`),
outside the timings.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from bench.common import LatencyStats, dataset_path, log, verdict
from bench.online_retail_interactions import convert
from recommender import (
    ALSModel,
    BasketRules,
    ContentIndex,
    ContentParams,
    IdMap,
    Interactions,
    NeighbourIndex,
    NeighbourParams,
    Recommender,
    TrainingParams,
    read_interactions_csv,
    read_item_features_csv,
    train,
)
from shop.recommendation_types import DEFAULT_PARAMS

TRAIN_TARGET_S = 20.0
DEMO_P99_TARGET_MS = 5.0
LARGE_P99_TARGET_MS = 25.0
REQUESTS = 2_000
WARMUP = 200
SEED = 20111209
K = 10
LARGE_ITEMS = 100_000
LARGE_USERS = 1_000_000
LARGE_FACTORS = 64
LARGE_HISTORY = (5, 60)  # interactions per synthetic shopper, uniform in this range
ANN_LIBRARIES = ("annoy", "nmslib", "faiss")
History = list[tuple[object, ...]]  # one shopper's interactions, as the shop would pass them
# Chosen by `python -m recommender tune ... --cutoff 2011-09-01 --validation-days 90 --items
# ...` on the data before the cutoff (see docs/RECOMMENDER.md): the shop's defaults.
TUNED = DEFAULT_PARAMS


@dataclass
class ServingResult:
    """for_user latency and memory of one model size."""

    items: int
    users: int
    factors: int
    requests: int
    interactions_per_request: float
    latency: LatencyStats
    latency_repurchase: LatencyStats
    model_mib: float
    rss_load_mib: float
    load_s: float
    artifact_mib: float


@dataclass
class RecommenderResult:
    """Every recommender figure."""

    cores: int
    rows: int
    read_s: float
    train_s: float
    train_users: int
    train_items: int
    train_nonzeros: int
    demo: ServingResult
    large: ServingResult
    ann_available: list[str]

    @property
    def train_ok(self) -> bool:
        """Training takes under TRAIN_TARGET_S."""
        return self.train_s < TRAIN_TARGET_S

    @property
    def demo_ok(self) -> bool:
        """p99 of for_user at the demo size is under its target."""
        return self.demo.latency.p99_ms < DEMO_P99_TARGET_MS

    @property
    def large_ok(self) -> bool:
        """p99 of for_user at 100k items x 1M users is under its target."""
        return self.large.latency.p99_ms < LARGE_P99_TARGET_MS


def rss_mib() -> float:
    """The process's resident memory now, in MiB (Linux; NaN elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(call: Callable[[int], None], requests: int) -> LatencyStats:
    """Run call(i) for i in range(requests) after a warm-up and summarise the latencies."""
    for i in range(WARMUP):
        call(i)
    gc.collect()
    samples = []
    for i in range(requests):
        began = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - began)
    return LatencyStats.of(samples)


def serve(
    recommender: Recommender, histories: list[History], now: float, directory: Path
) -> ServingResult:
    """Time for_user over the histories (each with a click a minute ago) and measure memory."""
    rng = random.Random(SEED)
    order = [rng.randrange(len(histories)) for _ in range(REQUESTS)]
    items = recommender.items

    def request(i: int, repurchase: bool = False) -> None:
        """One for_user call: a stored history plus a view a minute ago."""
        history = histories[order[i % len(order)]]
        clicked = items.key_of(order[i % len(order)] % len(items))
        live = [*history, ("shopper", clicked, "view", now - 60)]
        results = recommender.for_user(live, k=K, repurchase=repurchase, now=now)
        if len(results) != K:
            raise RuntimeError(f"for_user returned {len(results)} items, not {K}")

    latency = measure(request, REQUESTS)
    latency_repurchase = measure(lambda i: request(i, repurchase=True), REQUESTS)
    path = directory / "model.npz"
    recommender.save(path)
    gc.collect()
    before = rss_mib()
    began = time.perf_counter()
    loaded = Recommender.load(path)
    load_s = time.perf_counter() - began
    rss_load = rss_mib() - before
    result = ServingResult(
        items=len(items),
        users=len(recommender.users),
        factors=int(getattr(recommender.model, "factors", 0)),
        requests=REQUESTS,
        interactions_per_request=float(np.mean([len(histories[j]) + 1 for j in order])),
        latency=latency,
        latency_repurchase=latency_repurchase,
        model_mib=loaded.nbytes / 2**20,
        rss_load_mib=rss_load,
        load_s=load_s,
        artifact_mib=path.stat().st_size / 2**20,
    )
    del loaded
    path.unlink()
    return result


def user_histories(data: Interactions, limit: int = 5_000) -> list[History]:
    """Each customer's interactions as plain tuples, as the shop would pass them."""
    order = np.argsort(data.users, kind="stable")
    users = data.users[order]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1, len(users)]
    histories = []
    for a, b in itertools.pairwise(starts):
        rows = order[a:b]
        histories.append(
            list(
                zip(
                    data.users[rows].tolist(),
                    data.items[rows].tolist(),
                    data.kinds[rows].tolist(),
                    data.timestamps[rows].tolist(),
                    data.quantities[rows].tolist(),
                    strict=True,
                )
            )
        )
        if len(histories) >= limit:
            break
    return histories


def synthetic_content(rng: np.random.Generator) -> ContentIndex:
    """A content index with random item-item similarities, as many per item as TUNED keeps."""
    neighbours = int(TUNED["content"]["neighbours"])  # type: ignore[index]
    columns = rng.integers(0, LARGE_ITEMS, (LARGE_ITEMS, neighbours)).astype(np.int32)
    values = rng.random((LARGE_ITEMS, neighbours), dtype=np.float32)
    indptr = np.arange(0, LARGE_ITEMS * neighbours + 1, neighbours)
    similarity = csr_matrix((values.ravel(), columns.ravel(), indptr), (LARGE_ITEMS,) * 2)
    similarity.sum_duplicates()
    vectors = csr_matrix((LARGE_ITEMS, 1), dtype=np.float32)
    return ContentIndex(vectors, np.array(["synthetic"]), ContentParams(neighbours), similarity)


def synthetic_neighbours(rng: np.random.Generator) -> NeighbourIndex:
    """Random training rows for every synthetic shopper (as many items as LARGE_HISTORY
    allows), one in six of them also a recent purchase."""
    counts = rng.integers(*LARGE_HISTORY, LARGE_USERS)
    indptr = np.r_[0, np.cumsum(counts)]
    items = rng.integers(0, LARGE_ITEMS, int(indptr[-1])).astype(np.int32)
    weights = rng.random(len(items), dtype=np.float32) + 0.1
    rows = csr_matrix((weights, items, indptr), shape=(LARGE_USERS, LARGE_ITEMS))
    rows.sum_duplicates()
    recent = rows.copy()
    recent.data = (rng.random(recent.nnz) < 1 / 6).astype(np.float32)
    recent.eliminate_zeros()
    params = NeighbourParams.from_dict(TUNED["neighbours"])  # type: ignore[arg-type]
    return NeighbourIndex.build(rows, recent, params)


def synthetic_recommender() -> Recommender:
    """An ALS recommender with random factors, random content similarities and random
    shoppers for the shoppers-like-you signal: 100,000 items x 1,000,000 users, served with
    the TUNED blend."""
    rng = np.random.default_rng(SEED)
    factors = (rng.standard_normal((LARGE_ITEMS, LARGE_FACTORS)) * 0.1).astype(np.float32)
    model = ALSModel.from_factors(factors, regularization=1.0, alpha=1.0)
    popularity = rng.pareto(1.5, LARGE_ITEMS).astype(np.float32)
    tuned = TrainingParams.from_dict(TUNED)
    content = synthetic_content(rng)
    neighbours = synthetic_neighbours(rng)
    return Recommender(
        model,
        IdMap(np.arange(LARGE_ITEMS)),
        IdMap(np.arange(LARGE_USERS)),
        TrainingParams(blend=tuned.blend, content=tuned.content, neighbours=tuned.neighbours),
        popularity,
        BasketRules.empty(LARGE_ITEMS),
        np.full(LARGE_ITEMS, 0.5, dtype=np.float32),
        {"synthetic": True},
        content,
        neighbours=neighbours,
        item_users=np.diff(neighbours.item_users.indptr),
    )


def synthetic_histories(now: float, count: int = 2_000) -> list[History]:
    """Random shoppers: views and purchases of random items over the last 180 days."""
    rng = np.random.default_rng(SEED + 1)
    kinds = np.array(["view", "cart_add", "purchase"])
    histories = []
    for user in range(count):
        n = int(rng.integers(*LARGE_HISTORY))
        histories.append(
            list(
                zip(
                    [user] * n,
                    rng.integers(0, LARGE_ITEMS, n).tolist(),
                    kinds[rng.integers(0, 3, n)].tolist(),
                    (now - rng.random(n) * 180 * 86_400).tolist(),
                    strict=True,
                )
            )
        )
    return histories


def run() -> RecommenderResult:
    """Train on Online Retail, then time serving at both sizes."""
    with tempfile.TemporaryDirectory(prefix="shop-bench-recommender-") as tmp:
        directory = Path(tmp)
        csv_path = directory / "interactions.csv"
        items_path = directory / "items.csv"
        log("recommender: converting Online Retail to the generic CSV")
        convert(dataset_path(), csv_path, items_path)
        began = time.perf_counter()
        data, report = read_interactions_csv(csv_path)
        features = read_item_features_csv(items_path)
        read_s = time.perf_counter() - began
        log(f"recommender: {report.summary()} in {read_s:.1f} s; training")
        params = TrainingParams.from_dict(TUNED)
        began = time.perf_counter()
        demo_model = train(data, params, item_features=features)
        train_s = time.perf_counter() - began
        info = demo_model.info
        log(f"recommender: trained in {train_s:.1f} s; for_user at the demo size")
        now = float(np.nanmax(data.timestamps)) + 86_400
        demo = serve(demo_model, user_histories(data), now, directory)
        del demo_model
        gc.collect()
        log("recommender: building the 100,000 x 1,000,000 synthetic model")
        large_model = synthetic_recommender()
        log("recommender: for_user on the synthetic model")
        large = serve(large_model, synthetic_histories(now), now, directory)
    return RecommenderResult(
        cores=os.cpu_count() or 0,
        rows=len(data),
        read_s=read_s,
        train_s=train_s,
        train_users=info["users"],
        train_items=info["items"],
        train_nonzeros=info["nonzeros"],
        demo=demo,
        large=large,
        ann_available=[name for name in ANN_LIBRARIES if find_spec(name) is not None],
    )


def report(result: RecommenderResult) -> str:
    """Return the recommender section of the markdown report."""

    def row(name: str, s: ServingResult) -> str:
        """A latency table row."""
        return (
            f"| {name} | {s.items:,} x {s.users:,} | {s.interactions_per_request:.0f} "
            f"| {s.latency.p50_ms:.2f} | {s.latency.p99_ms:.2f} "
            f"| {s.latency_repurchase.p50_ms:.2f} | {s.latency_repurchase.p99_ms:.2f} |"
        )

    def memory(name: str, s: ServingResult) -> str:
        """A memory table row."""
        return (
            f"| {name} | {s.model_mib:.1f} | {s.rss_load_mib:.1f} | {s.artifact_mib:.1f} "
            f"| {s.load_s:.2f} |"
        )

    ann = ", ".join(result.ann_available) or "none"
    return "\n".join(
        [
            "## Recommender (library, in process)",
            "",
            f"Training: `train()` on the {result.rows:,} Online Retail purchase interactions "
            f"({result.train_users:,} users x {result.train_items:,} items, "
            f"{result.train_nonzeros:,} non-zeros), ALS with the tuned parameters "
            f"({TUNED['model_params']}), plus popularity, co-purchase rules, re-buy rates and "
            f"the content similarity of the product descriptions ({TUNED['content']}) and the "
            f"shoppers-like-you index ({TUNED['neighbours']}). "
            f"Reading the CSV took {result.read_s:.1f} s (not part of training).",
            "",
            "| check | value | target | result |",
            "|---|---:|---:|---|",
            f"| training on {result.cores} cores | {result.train_s:.1f} s "
            f"| < {TRAIN_TARGET_S:.0f} s | {verdict(result.train_ok)} |",
            f"| for_user p99, demo size | {result.demo.latency.p99_ms:.2f} ms "
            f"| < {DEMO_P99_TARGET_MS:.0f} ms | {verdict(result.demo_ok)} |",
            f"| for_user p99, {LARGE_ITEMS:,} items x {LARGE_USERS:,} users "
            f"| {result.large.latency.p99_ms:.2f} ms | < {LARGE_P99_TARGET_MS:.0f} ms "
            f"| {verdict(result.large_ok)} |",
            "",
            f"`for_user` latency: {REQUESTS:,} requests per series after {WARMUP} warm-up ones, "
            f"k = {K}. Each request passes the shopper's whole history plus a view a minute ago; "
            "the user's vector is recomputed from it (implicit's `recalculate_user`), every item "
            "is scored, the content similarity and what the 200 most similar shoppers bought "
            "recently are blended in with the popularity penalty (blend "
            f"{TUNED['blend']}), and reasons are computed. "
            "Demo size: the histories of Online Retail customers drawn at random, on the "
            f"trained model. Large: random factors ({LARGE_FACTORS} per item), random content "
            "similarities and random training rows for all 1,000,000 users (the "
            f"shoppers-like-you index), shoppers with {LARGE_HISTORY[0]}-{LARGE_HISTORY[1]} "
            "random interactions.",
            "",
            "| model | items x users | interactions per request | p50 ms | p99 ms "
            "| p50 ms, buy again | p99 ms, buy again |",
            "|---|---|---:|---:|---:|---:|---:|",
            row("demo (Online Retail)", result.demo),
            row("large (synthetic)", result.large),
            "",
            f"Nearest-neighbour indexes: ANN libraries installed: {ann}. Scoring is exact "
            f"(a float32 matrix-vector product over every item, then `argpartition`), so the "
            "recall lost to approximation is 0.",
            "",
            "| model | loaded arrays MiB | RSS growth on load MiB | artifact MiB | load s |",
            "|---|---:|---:|---:|---:|",
            memory("demo (Online Retail)", result.demo),
            memory("large (synthetic)", result.large),
            "",
            "Only item factors are kept (a shopper's vector is recomputed per request); what "
            "grows with the users is the key map (8 bytes per integer key) and the "
            "shoppers-like-you index: every training user's normalised row (8 bytes per "
            "non-zero) and recent purchases (4 bytes each).",
        ]
    )


def main() -> None:
    """Run the recommender benchmarks alone and print their report."""
    argparse.ArgumentParser(description=__doc__).parse_args()
    print(report(run()))


if __name__ == "__main__":
    main()
