"""The console's customer analytics: the RFM overview, one segment's page and CSV, retention
by cohort and the shopping funnel, against a bare Flask endpoint, in one interleaved run on
three copies of the imported demo shop (`python -m bench.customer_analytics_bench`).

* **demo**: as imported (Online Retail: about 4,400 customers and 23,000 orders);
* **10x**: the demo's customer accounts and orders copied nine more times, in SQL (new ids,
  order numbers and customer references; the k-th copy placed k days earlier). Only
  `users` and `orders` are copied: the overview and the cohorts read nothing else;
* **clickstream**: the demo plus 60 days of synthetic storefront traffic, 50,000 visitors
  per 30 days with 20 events each on average (about 1M events per 30 days, written in order
  of visit), and a guest order for each visitor who got that far. The funnel page reads
  its period (the last 30 days by default) and the 30 days before it.

Every page is requested through Flask's test client, signed in as the demo merchandiser
(created in each copy with `create_demo_staff`). Series run in rounds, each series making a
block of requests per round, the order of the series reversed every other round; the bare
one-route Flask app runs in the same rounds. The pages load every kept order into Python, so
each series' CPU time (steadier than wall time on a shared machine) and the time the cyclic
garbage collector takes during it (`gc` callbacks) are measured too. `--profile PAGE` runs
cProfile on one page instead.

`shop.db.db` holds one engine per process: each app's database state is put in place around
its blocks (`heavy_customer_bench.Shop.bound`), untimed.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from bench.common import (
    LatencyStats,
    bench_config,
    copy_database,
    ensure_imported_database,
    latency_row,
    log,
    machine_facts,
    signed_in,
    sqlite_url,
    table_row,
)
from bench.heavy_customer_bench import Shop
from bench.pages_bench import Series, bare_app

ROUNDS = 10  # short rounds: the machine's load drifts within a minute
DEMO_BLOCK = 5  # requests per round on the demo shop: 50 per series
LARGE_BLOCK = 2  # on the 10x shop and the clickstream: 20 per series (about 1 s each)
WARMUP = 2  # unmeasured requests per series before the first round
SCALE = 10
CLICK_DAYS = 60  # two funnel periods of 30 days
VISITORS_PER_30_DAYS = 50_000
MEAN_EVENTS = 20  # per visitor
# Furthest step a visitor reaches: visited only, viewed a product, added to cart, placed an
# order left unpaid, paid. About 3.5% of visitors order and 13% add to the cart.
FURTHEST = (0.35, 0.52, 0.095, 0.01, 0.025)
SEED = 20261125
DEMO_PAGES = (
    ("overview", "/console/customers/"),
    ("segment Champions", "/console/customers/segments/champions"),
    ("segment Champions, CSV", "/console/customers/segments/champions.csv"),
    ("cohorts, 12 months", "/console/customers/cohorts"),
    ("cohorts, 36 months", "/console/customers/cohorts?months=36"),
    ("funnel, 30 days", "/console/customers/funnel"),
)
SCALED_PAGES = ("overview", "cohorts, 12 months")


class GcClock:
    """Seconds the cyclic garbage collector has spent since `running()` began (all
    generations), read through `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began

    @contextmanager
    def running(self) -> Iterator[GcClock]:
        """Count collections while the block runs."""
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


@dataclass
class ShopSeries(Series):
    """Requests to one shop (None: the bare app), a block of `per_block` per round, with the
    process's CPU time and the collector's time during its blocks."""

    shop: Shop | None = None
    per_block: int = DEMO_BLOCK
    clock: GcClock | None = None
    cpu_seconds: float = 0.0
    gc_seconds: float = 0.0
    done: int = 0

    def run_block(self, start: int, count: int) -> None:
        """Make the block's requests on this series' database."""
        with self.shop.bound() if self.shop else nullcontext():
            gc_before = self.clock.seconds if self.clock else 0.0
            cpu_before = time.process_time()
            super().run_block(start, count)
            self.cpu_seconds += time.process_time() - cpu_before
            if self.clock:
                self.gc_seconds += self.clock.seconds - gc_before

    def reset(self) -> None:
        """Forget what was measured so far (after the warm-up)."""
        self.samples.clear()
        self.cpu_seconds = self.gc_seconds = 0.0

    def next_block(self) -> None:
        """The series' next block of `per_block` requests."""
        self.run_block(self.done, self.per_block)
        self.done += self.per_block


@dataclass(frozen=True)
class Measured:
    """One series' latencies, and its CPU time and the collector's time per request (means:
    CPU time counts only while this process runs, so it is steadier than wall time on a
    shared machine)."""

    stats: LatencyStats
    cpu_ms: float
    gc_ms: float


@dataclass(frozen=True)
class Volume:
    """What one database holds that the pages read."""

    customers: int  # accounts and guest e-mails with a kept sale
    orders: int
    events: int


@dataclass(frozen=True)
class Clickstream:
    """The synthetic traffic added to the clickstream copy."""

    visitors: int
    events: int
    orders: int
    seconds: float
    steps: list[tuple[str, int]]  # the funnel page's figures for the last 30 days


@dataclass
class AnalyticsResult:
    """Every series, the data behind them and the set-up times."""

    demo: dict[str, Measured]
    large: dict[str, Measured]
    funnel_large: Measured
    bare: Measured
    volumes: dict[str, Volume]
    clickstream: Clickstream
    scale_seconds: float
    csv_rows: int


def _shop(name: str, database: Path) -> Shop:
    """An app on `database` as the console runs (events to the background writer)."""
    from shop import create_app
    from shop.db import db

    app = create_app(
        bench_config(sqlite_url(database), database.parent / "instance", TRACKING_BACKGROUND=True)
    )
    return Shop(name, app, database, (db.engine, db.session_factory, db.write_session_factory))


def _merchandiser(shop: Shop) -> FlaskClient:
    """Create the demo staff in the shop's database and sign in as its merchandiser."""
    from shop.console.staff import DEMO_STAFF_PASSWORD, create_demo_staff
    from shop.db import db
    from shop.tracking.recorder import event_writer

    with shop.bound():
        with shop.app.app_context(), db.transaction() as session:
            create_demo_staff(session)
        client = signed_in(shop.app, "merchandiser@demo.shop", DEMO_STAFF_PASSWORD)
        event_writer(shop.app).flush()
    return client


def _copy_rows(conn: sqlite3.Connection, table: str, where: str, exprs: dict[str, str]) -> None:
    """INSERT ... SELECT every column of `table`, `exprs` replacing some by SQL expressions."""
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(exprs.get(c, f'"{c}"') for c in columns)
    conn.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {table} WHERE {where}")


def multiply_orders(database: Path, factor: int) -> float:
    """Copy the customer accounts and all orders `factor - 1` more times, in SQL: copy k
    gets ids shifted by k times the largest id, suffixed unique values (NULL stays NULL) and
    orders placed k days earlier. Return the seconds it took."""
    started = time.perf_counter()
    conn = sqlite3.connect(database)
    try:
        top_user = conn.execute("SELECT max(id) FROM users").fetchone()[0]
        top_order = conn.execute("SELECT max(id) FROM orders").fetchone()[0]
        with conn:
            for k in range(1, factor):
                _copy_rows(
                    conn,
                    "users",
                    f"role IS NULL AND id <= {top_user}",
                    {
                        "id": f"id + {k * top_user}",
                        "email": f"'copy{k}-' || email",
                        "external_ref": f"external_ref || '-{k}'",
                        "stripe_customer_id": f"stripe_customer_id || '-{k}'",
                    },
                )
                _copy_rows(
                    conn,
                    "orders",
                    f"id <= {top_order}",
                    {
                        "id": f"id + {k * top_order}",
                        "number": f"number || '-{k}'",
                        "user_id": f"user_id + {k * top_user}",
                        "email": f"'copy{k}-' || email",
                        "access_token": f"access_token || '-{k}'",
                        "checkout_token": f"checkout_token || '-{k}'",
                        # Keeps the stored form, microseconds included.
                        "placed_at": f"strftime('%Y-%m-%d %H:%M:%S', placed_at, '-{k} days')"
                        " || substr(placed_at, 20)",
                    },
                )
    finally:
        conn.close()
    return time.perf_counter() - started


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # how the schema stores times on SQLite


def _visits(
    rng: random.Random, now: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each visitor's session (start, visitor id, furthest step, events) in order of start,
    and the orders of those who got that far."""
    visitors = VISITORS_PER_30_DAYS * CLICK_DAYS // 30
    window = CLICK_DAYS * 86_400
    sessions, orders = [], []
    for n in range(visitors):
        step = rng.choices(range(len(FURTHEST)), FURTHEST)[0]
        events = max(1, round(rng.expovariate(1 / MEAN_EVENTS)))
        began = (
            now
            - timedelta(seconds=window)
            + timedelta(seconds=rng.randrange(window - 60 * events - 600))
        )
        visitor = f"bench-visitor-{n:06d}"
        sessions.append((began, visitor, step, events))
        if step >= 3:
            placed = began + timedelta(seconds=30 * events + 120)
            status = "paid" if step == 4 else "pending_payment"
            orders.append((f"BENCH-F{n:06d}", f"{visitor}@bench.example", status, placed, visitor))
    sessions.sort()
    return sessions, sorted(orders, key=lambda order: order[3])


def _events(
    rng: random.Random,
    sessions: Sequence[tuple[Any, ...]],
    products: Sequence[int],
    categories: Sequence[int],
) -> Iterator[tuple[Any, ...]]:
    """Event rows, session by session: browsing, product views for those who got that far,
    and cart adds for those who got further."""
    for began, visitor, step, events in sessions:
        for i in range(events):
            at = began + timedelta(seconds=30 * i + rng.randrange(30))
            r = rng.random()
            product = category = query = quantity = None
            if step >= 2 and r < 0.08:
                kind, product, quantity = "cart_add", rng.choice(products), 1
            elif step >= 1 and r < 0.65:
                kind, product = "product_view", rng.choice(products)
            elif r < 0.85:
                kind, category = "category_view", rng.choice(categories)
            else:
                kind, query = "search", "heart"
            yield kind, visitor, product, category, query, quantity, _stamp(at)


def add_clickstream(database: Path, now: datetime) -> tuple[int, int, int, float]:
    """Write the synthetic traffic (see the module doc) with the sqlite3 driver; return
    (visitors, events, orders, seconds)."""
    started = time.perf_counter()
    rng = random.Random(SEED)
    conn = sqlite3.connect(database)
    try:
        products = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM products WHERE active ORDER BY order_count DESC LIMIT 1000"
            )
        ]
        categories = [row[0] for row in conn.execute("SELECT id FROM categories")]
        sessions, orders = _visits(rng, now)
        before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        # A copy made for this run: no need to survive a crash, and building the indexes
        # once afterwards is about twice as fast as keeping them up to date row by row.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL"
        ).fetchall()
        with conn:
            for name, _sql in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            conn.executemany(
                'INSERT INTO events (kind, visitor_id, product_id, category_id, "query", '
                "quantity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                _events(rng, sessions, products, categories),
            )
            conn.executemany(
                "INSERT INTO orders (number, kind, email, status, source, currency, "
                "subtotal_pence, shipping_pence, total_pence, placed_at, visitor_id) "
                "VALUES (?, 'sale', ?, ?, 'web', 'GBP', 2495, 0, 2495, ?, ?)",
                [(number, email, status, _stamp(at), v) for number, email, status, at, v in orders],
            )
            for _name, sql in indexes:
                conn.execute(sql)
        added = conn.execute("SELECT count(*) FROM events").fetchone()[0] - before
    finally:
        conn.close()
    return len(sessions), added, len(orders), time.perf_counter() - started


def volume(database: Path) -> Volume:
    """Customers with a kept sale, orders and events in a database file."""
    from shop.orders import states

    kept = ", ".join(f"'{status}'" for status in states.KEPT)
    conn = sqlite3.connect(database)
    try:
        customers = conn.execute(
            "SELECT count(DISTINCT coalesce(CAST(user_id AS TEXT), lower(email))) FROM orders "
            f"WHERE kind = 'sale' AND status IN ({kept}) "
            "AND (user_id IS NOT NULL OR coalesce(email, '') != '')"
        ).fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()
    return Volume(customers, orders, events)


def _funnel_steps(shop: Shop) -> list[tuple[str, int]]:
    """The funnel page's figures for the last 30 days (a check that the traffic looks real)."""
    from shop.analytics.online import parse_period
    from shop.analytics.shopping_funnel import shopping_funnel
    from shop.db import db, utcnow

    with shop.bound(), shop.app.app_context():
        found = shopping_funnel(db.session, parse_period(None, None, today=utcnow().date()))
        db.session.rollback()
    return [(step.label, step.visitors) for step in found.steps]


@dataclass
class Shops:
    """The three databases and an app on each, with a merchandiser signed in."""

    demo: Shop
    large: Shop
    clicks: Shop
    clients: dict[str, FlaskClient]
    scale_seconds: float
    clickstream: tuple[int, int, int, float]


def prepare(root: Path) -> Shops:
    """Copy the imported shop three times, grow two of the copies, and start an app on each."""
    from shop.db import utcnow

    source = ensure_imported_database()
    files = {}
    for name in ("demo", "large", "clicks"):
        (root / name).mkdir()
        files[name] = copy_database(source, root / name)
    log(f"customer analytics: copying the demo's customers and orders {SCALE - 1} more times")
    scale_seconds = multiply_orders(files["large"], SCALE)
    log(f"customer analytics: writing {CLICK_DAYS} days of storefront traffic")
    clickstream = add_clickstream(files["clicks"], utcnow())
    log(f"customer analytics: {clickstream[1]:,} events in {clickstream[3]:.0f} s")
    shops = {name: _shop(name, path) for name, path in files.items()}
    clients = {name: _merchandiser(shop) for name, shop in shops.items()}
    return Shops(
        shops["demo"], shops["large"], shops["clicks"], clients, scale_seconds, clickstream
    )


def _measured(series: ShopSeries) -> Measured:
    n = len(series.samples)
    return Measured(
        LatencyStats.of(series.samples), series.cpu_seconds * 1000 / n, series.gc_seconds * 1000 / n
    )


def run() -> AnalyticsResult:
    """Build the three databases and time every page in interleaved rounds."""
    with tempfile.TemporaryDirectory(prefix="shop-bench-customers-") as tmp:
        shops = prepare(Path(tmp))
        clock = GcClock()

        def page(name: str, shop: Shop, url: str, per_block: int) -> ShopSeries:
            client = shops.clients[shop.name]
            return ShopSeries(name, client, lambda _i: url, [], shop, per_block, clock)

        demo = [page(name, shops.demo, url, DEMO_BLOCK) for name, url in DEMO_PAGES]
        urls = dict(DEMO_PAGES)
        large = [page(name, shops.large, urls[name], LARGE_BLOCK) for name in SCALED_PAGES]
        funnel = page("funnel", shops.clicks, urls["funnel, 30 days"], LARGE_BLOCK)
        bare = ShopSeries("bare", bare_app().test_client(), lambda _i: "/", [], clock=clock)
        series = [bare, *demo, *large, funnel]
        log(f"customer analytics: warm-up ({WARMUP} requests per series)")
        for s in series:
            s.run_block(0, WARMUP)
            s.reset()
        gc.collect()
        with clock.running():
            for r in range(ROUNDS):
                for s in series if r % 2 == 0 else reversed(series):
                    s.next_block()
                log(f"customer analytics: round {r + 1}/{ROUNDS}")
        csv = shops.clients["demo"]
        with shops.demo.bound():
            csv_rows = csv.get(urls["segment Champions, CSV"]).data.count(b"\r\n") - 1
        visitors, events, orders, seconds = shops.clickstream
        return AnalyticsResult(
            demo={s.name: _measured(s) for s in demo},
            large={s.name: _measured(s) for s in large},
            funnel_large=_measured(funnel),
            bare=_measured(bare),
            volumes={
                "demo": volume(shops.demo.database),
                "10x": volume(shops.large.database),
                "clickstream": volume(shops.clicks.database),
            },
            clickstream=Clickstream(visitors, events, orders, seconds, _funnel_steps(shops.clicks)),
            scale_seconds=shops.scale_seconds,
            csv_rows=csv_rows,
        )


def report(result: AnalyticsResult) -> str:
    """The markdown section for the report."""
    bare = result.bare.stats
    demo, large, v, c = result.demo, result.large, result.volumes, result.clickstream
    named = [
        *((f"{name} (demo)", m) for name, m in demo.items()),
        *((f"{name} (10x)", m) for name, m in large.items()),
        ("funnel, 30 days (clickstream)", result.funnel_large),
    ]
    cpu_rows = [
        table_row(
            [
                name,
                f"{m.stats.mean_ms:.0f}",
                f"{m.cpu_ms:.0f}",
                f"{m.gc_ms:.0f}",
                f"{m.gc_ms / m.cpu_ms:.0%}" if m.cpu_ms else "",
            ]
        )
        for name, m in named
    ]
    scale_rows = []
    for name in SCALED_PAGES:
        small, big = demo[name], large[name]
        scale_rows.append(
            table_row(
                [
                    name,
                    f"{small.stats.p50_ms:.0f} / {big.stats.p50_ms:.0f}",
                    f"{big.stats.p50_ms / small.stats.p50_ms:.1f}x",
                    f"{small.stats.mean_ms:.0f} / {big.stats.mean_ms:.0f}",
                    f"{big.stats.mean_ms / small.stats.mean_ms:.1f}x",
                    f"{small.cpu_ms:.0f} / {big.cpu_ms:.0f}",
                    f"{big.cpu_ms / small.cpu_ms:.1f}x",
                ]
            )
        )
    steps = ", ".join(f"{label.lower()} {n:,}" for label, n in c.steps)
    return "\n".join(
        [
            "## Customer analytics (console)",
            "",
            "| database | customers with a kept sale | orders | events |",
            "|---|---:|---:|---:|",
            *(
                table_row([name, f"{x.customers:,}", f"{x.orders:,}", f"{x.events:,}"])
                for name, x in v.items()
            ),
            "",
            f"10x: the demo's accounts and orders copied {SCALE - 1} more times in SQL "
            f"({result.scale_seconds:.1f} s). Clickstream: {c.visitors:,} visitors over "
            f"{CLICK_DAYS} days, {c.events:,} events and {c.orders:,} guest orders added in "
            f"{c.seconds:.0f} s; the funnel for the last 30 days: {steps}.",
            "",
            f"Signed in as the demo merchandiser; {ROUNDS} interleaved rounds of {DEMO_BLOCK} "
            f"requests per demo series and {LARGE_BLOCK} per 10x and clickstream series, after "
            f"{WARMUP} warm-up requests each. The Champions CSV had {result.csv_rows:,} customers.",
            "",
            "| request | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *(latency_row(name, m.stats, bare) for name, m in named),
            latency_row("bare Flask endpoint", bare, bare),
            "",
            "| demo / 10x | p50 ms | p50 growth | mean ms | mean growth | CPU ms | CPU growth |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *scale_rows,
            "",
            "| request (means per request) | wall ms | CPU ms | garbage collector ms "
            "| collector / CPU |",
            "|---|---:|---:|---:|---:|",
            *cpu_rows,
        ]
    )


PROFILED = {
    "overview": ("demo", "/console/customers/"),
    "segment": ("demo", "/console/customers/segments/champions"),
    "csv": ("demo", "/console/customers/segments/champions.csv"),
    "cohorts": ("demo", "/console/customers/cohorts?months=36"),
    "overview-10x": ("large", "/console/customers/"),
    "funnel-clickstream": ("clicks", "/console/customers/funnel"),
}


def profile(kind: str, requests: int) -> None:
    """Profile one page with cProfile, on the database the benchmark measures it on."""
    with tempfile.TemporaryDirectory(prefix="shop-bench-customers-") as tmp:
        shops = prepare(Path(tmp))
        name, url = PROFILED[kind]
        shop = {"demo": shops.demo, "large": shops.large, "clicks": shops.clicks}[name]
        client = shops.clients[name]
        with shop.bound():
            for _ in range(WARMUP):
                client.get(url)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                client.get(url)
            profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    """Run this benchmark alone and print its section, or profile one page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILED), help="profile this page instead")
    parser.add_argument("--requests", type=int, default=20, help="requests to profile")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.requests)
        return
    print("\n".join(f"- {name}: {value}" for name, value in machine_facts().items()) + "\n")
    print(report(run()))


if __name__ == "__main__":
    main()
