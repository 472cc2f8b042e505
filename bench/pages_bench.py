"""Storefront page latency in process: product page, search, a bare Flask endpoint, and the
cost of event recording (tracking on vs off) on a product page.

Every request goes through `app.test_client()`: no network, no server, one thread.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bench.common import (
    LatencyStats,
    bench_config,
    copy_database,
    ensure_imported_database,
    latency_row,
    log,
    sqlite_url,
    verdict,
)

REQUESTS = 1_000  # measured requests per series
WARMUP = 100  # unmeasured requests per client before measuring
BLOCK = 50  # requests per block when series are interleaved
POPULAR_PRODUCTS = 200  # product ids are drawn from this many best sellers
SEED = 20111209
TRACKING_TARGET = 1.10  # mean latency with tracking on / off
SEARCH_QUERIES = (
    "heart",
    "lunch bag",
    "christmas",
    "candle holder",
    "vintage",
    "cake stand",
    "t-light",
    "jumbo bag red",
    "alarm clock",
    "doormat",
    "mug",
    "paper chain kit",
    "cushion cover",
    "tea towel",
    "bunting",
    "hot water bottle",
    "retrospot",
    "storage tin",
    "wrap",
    "lantern",
)

Request = Callable[[int], str]  # i -> URL of the i-th request of a series


@dataclass
class Series:
    """One kind of request against one client, measured in interleaved blocks."""

    name: str
    client: FlaskClient
    url: Request
    samples: list[float]

    def run_block(self, start: int, count: int) -> None:
        """Make requests start..start+count-1, recording each latency in seconds."""
        client, url, samples = self.client, self.url, self.samples
        for i in range(start, start + count):
            target = url(i)
            began = time.perf_counter()
            response = client.get(target)
            elapsed = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"{self.name}: GET {target} -> {response.status_code}")
            samples.append(elapsed)


@dataclass
class PagesResult:
    """Latency of each series and the derived ratios."""

    product: LatencyStats
    search: LatencyStats
    bare: LatencyStats
    tracking_on: LatencyStats
    tracking_off: LatencyStats
    events_per_on_request: float
    events_per_off_request: float
    products_sampled: int
    wal_mib: float  # size of the SQLite write-ahead log when the page benchmarks end

    @property
    def tracking_mean_ratio(self) -> float:
        """Mean product-page latency with tracking on over off."""
        return self.tracking_on.mean_ms / self.tracking_off.mean_ms

    @property
    def tracking_p50_ratio(self) -> float:
        """Median product-page latency with tracking on over off."""
        return self.tracking_on.p50_ms / self.tracking_off.p50_ms

    @property
    def tracking_ok(self) -> bool:
        """True when tracking costs at most 10% of a product page's mean latency."""
        return self.tracking_mean_ratio <= TRACKING_TARGET


def bare_app() -> Flask:
    """A tiny Flask app with one route returning a short string: the framework's floor."""
    app = Flask("bare")

    @app.get("/")
    def index() -> str:
        """Return a short string."""
        return "ok"

    return app


def shop_app(database: Path, instance: Path, *, tracking: bool) -> Flask:
    """A shop app on the given database with tracking switched on or off for everyone."""
    from shop import create_app

    # As in production: events go to the background writer (tests use the synchronous one).
    config = bench_config(
        sqlite_url(database), instance, TRACKING_ENABLED=tracking, TRACKING_BACKGROUND=True
    )
    return create_app(config)


def popular_product_ids(app: Flask, limit: int = POPULAR_PRODUCTS) -> list[int]:
    """The ids of the best-selling active products."""
    from shop.catalog.models import Product
    from shop.db import db

    with app.app_context():
        query = (
            select(Product.id)
            .where(Product.active.is_(True))
            .order_by(Product.order_count.desc(), Product.id)
            .limit(limit)
        )
        return list(db.session.scalars(query))


def count_events(database: Path) -> int:
    """How many event rows the database holds."""
    conn = sqlite3.connect(database)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def wal_size(database: Path) -> int:
    """Bytes in the database's write-ahead log file (0 when there is none)."""
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def interleave(series: Sequence[Series], requests: int, *, abba: bool = False) -> None:
    """Run every series in alternating blocks; ABBA order cancels linear drift for two."""
    blocks = requests // BLOCK
    for b in range(blocks):
        order = list(series)
        if abba and b % 2 == 1:
            order.reverse()
        for s in order:
            s.run_block(b * BLOCK, BLOCK)
        if (b + 1) % max(1, blocks // 4) == 0:
            names = ", ".join(s.name for s in series)
            log(f"  {names}: {(b + 1) * BLOCK}/{requests}")


def warm_up(series: Sequence[Series]) -> None:
    """Make unmeasured requests on every series (caches, pools, cookies, lazy imports)."""
    for s in series:
        s.run_block(0, WARMUP)
        s.samples.clear()


def run() -> PagesResult:
    """Run the page benchmarks on a copy of the imported database."""
    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-pages-") as tmp:
        database = copy_database(source, Path(tmp))
        instance = Path(tmp) / "instance"
        tracked = shop_app(database, instance, tracking=True)
        untracked = shop_app(database, instance, tracking=False)
        ids = popular_product_ids(tracked)
        rng = random.Random(SEED)
        product_ids = [rng.choice(ids) for _ in range(REQUESTS)]
        queries = [rng.choice(SEARCH_QUERIES) for _ in range(REQUESTS)]

        def product_url(i: int) -> str:
            """The i-th product page of the series."""
            return f"/products/{product_ids[i % REQUESTS]}"

        def search_url(i: int) -> str:
            """The i-th search of the series."""
            return "/search?" + urlencode({"q": queries[i % REQUESTS]})

        bare = Series("bare", bare_app().test_client(), lambda _i: "/", [])
        product = Series("product page", tracked.test_client(), product_url, [])
        search = Series("search", tracked.test_client(), search_url, [])
        on = Series("tracking on", tracked.test_client(), product_url, [])
        off = Series("tracking off", untracked.test_client(), product_url, [])

        log(f"pages: warm-up ({WARMUP} requests per series)")
        warm_up([bare, product, search, on, off])
        gc.collect()
        log(f"pages: product page, search and bare endpoint, {REQUESTS} requests each")
        interleave([bare, product, search], REQUESTS)
        gc.collect()
        log(f"pages: product page with tracking on vs off, {REQUESTS} requests each")
        # One unmeasured block each first, counting the event rows it writes.
        before = count_events(database)
        on_events = _events_during(database, tracked, lambda: on.run_block(0, BLOCK), before)
        off_events = _events_during(
            database, untracked, lambda: off.run_block(0, BLOCK), before + on_events
        )
        on.samples.clear()
        off.samples.clear()
        interleave([on, off], REQUESTS, abba=True)
        return PagesResult(
            product=LatencyStats.of(product.samples),
            search=LatencyStats.of(search.samples),
            bare=LatencyStats.of(bare.samples),
            tracking_on=LatencyStats.of(on.samples),
            tracking_off=LatencyStats.of(off.samples),
            events_per_on_request=on_events / BLOCK,
            events_per_off_request=off_events / BLOCK,
            products_sampled=len(set(product_ids)),
            wal_mib=wal_size(database) / 1024 / 1024,
        )


def _events_during(database: Path, app: Flask, block: Callable[[], None], before: int) -> int:
    """Run block, write out the app's queued events and return how many rows it added."""
    from shop.tracking.recorder import event_writer

    block()
    event_writer(app).flush()
    return count_events(database) - before


def report(result: PagesResult) -> str:
    """Return the page-latency section of the markdown report."""
    bare = result.bare

    mark = verdict(result.tracking_ok)
    return "\n".join(
        [
            "## Page latency (in process, `app.test_client()`, imported database)",
            "",
            f"Product ids drawn at random from the {POPULAR_PRODUCTS} best sellers "
            f"({result.products_sampled} distinct); search queries drawn from "
            f"{len(SEARCH_QUERIES)} phrases; {WARMUP} warm-up requests per series; series "
            f"interleaved in blocks of {BLOCK}. Tracking is on for the product page and search.",
            "",
            "| endpoint | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
            latency_row("product page `/products/<id>`", result.product, bare),
            latency_row("search `/search?q=...`", result.search, bare),
            latency_row("bare Flask endpoint", result.bare, bare),
            "",
            "### Event recording overhead on the product page",
            "",
            "Two apps on the same database, `TRACKING_ENABLED=True` and `False`, the same "
            f"product ids, in alternating blocks of {BLOCK} (ABBA order). Events written per "
            f"request: {result.events_per_on_request:g} with tracking on, "
            f"{result.events_per_off_request:g} with it off. Events go to the app's background "
            "writer, which inserts them in batches; its work runs in the same process during "
            "the measured requests, so it is part of the figures.",
            "",
            "| tracking | requests | p50 ms | p99 ms | mean ms |",
            "|---|---:|---:|---:|---:|",
            f"| on | {result.tracking_on.n:,} | {result.tracking_on.p50_ms:.2f} "
            f"| {result.tracking_on.p99_ms:.2f} | {result.tracking_on.mean_ms:.2f} |",
            f"| off | {result.tracking_off.n:,} | {result.tracking_off.p50_ms:.2f} "
            f"| {result.tracking_off.p99_ms:.2f} | {result.tracking_off.mean_ms:.2f} |",
            "",
            "| ratio on / off | value | target | result |",
            "|---|---:|---:|---|",
            f"| mean | {result.tracking_mean_ratio:.3f} | <= {TRACKING_TARGET:.2f} | {mark} |",
            f"| p50 | {result.tracking_p50_ratio:.3f} | | |",
            "",
            f"SQLite write-ahead log at the end of the page benchmarks: {result.wal_mib:.1f} MiB "
            "(it is checkpointed back to 0 when it can be; a WAL that only grows means every "
            "write happened while a read transaction was open).",
        ]
    )


def profile(kind: str, requests: int) -> None:
    """Profile requests of one kind with cProfile and print the costliest functions."""
    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-profile-") as tmp:
        database = copy_database(source, Path(tmp))
        app = shop_app(database, Path(tmp) / "instance", tracking=kind != "untracked")
        ids = popular_product_ids(app)
        client = app.test_client()
        urls = {
            "search": lambda i: "/search?" + urlencode({"q": SEARCH_QUERIES[i % 20]}),
        }.get(kind, lambda i: f"/products/{ids[i % len(ids)]}")
        for i in range(WARMUP):
            client.get(urls(i))
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(requests):
            client.get(urls(i))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    """Run the page benchmarks alone and print their report, or profile one kind of page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--profile",
        choices=("product", "untracked", "search"),
        help="profile this page with cProfile instead of benchmarking",
    )
    parser.add_argument("--requests", type=int, default=500, help="requests to profile")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.requests)
        return
    print(report(run()))


if __name__ == "__main__":
    main()
