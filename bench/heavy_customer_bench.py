"""A member's bought products on the product page: the demo's heaviest customer against a
member with no orders, each on a database with the covering index of migration 0018
(`ix_events_user_kind_product`) and on a copy with that index dropped, against a bare Flask
endpoint, all interleaved in one run; then `bought_products` alone and SQLite's plans for it
(`python -m bench.heavy_customer_bench`).

On every product page the recommendations leave out what a signed-in member already bought,
so the page asks the database which products that is (`recommendation_data.bought_products`).
The recommender is trained through the shop first, as the demo shop is; `--no-model` skips
that, and the pages then list best sellers from the catalogue.

`shop.db.db` holds one engine for the whole process: each app's engine and session
factories are kept when it is created and put back in place around that app's blocks
(untimed), so every series reads its own database file.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from bench.common import (
    LatencyStats,
    bench_config,
    checkpoint,
    copy_database,
    ensure_imported_database,
    latency_row,
    log,
    query_plan,
    signed_in,
    sqlite_url,
    table_row,
)
from bench.pages_bench import (
    BLOCK,
    WARMUP,
    Series,
    bare_app,
    interleave,
    popular_product_ids,
    warm_up,
)

REQUESTS = 1_000  # measured page requests per series
LOOKUPS = 2_000  # isolated `bought_products` calls per series
INDEX = "ix_events_user_kind_product"  # migration 0018
HEAVY_EMAIL = "regular@demo.shop"  # the demo customer with the most orders
NEW_EMAIL = "new@demo.shop"  # the demo shopper with no history


@dataclass
class Shop:
    """One app on one database file, with the `shop.db.db` state its creation set up."""

    name: str
    app: Flask
    database: Path
    state: tuple[Any, Any, Any]  # db.engine, db.session_factory, db.write_session_factory
    first_bench_event: int = 0  # events from this id on were written by the benchmark

    @classmethod
    def create(cls, name: str, database: Path, models: Path) -> Shop:
        """An app on `database` with tracking on (background writer) and recommendations
        from the models in `models`, as the shop runs in production."""
        from shop import create_app
        from shop.db import db

        config = bench_config(
            sqlite_url(database),
            database.parent / "instance",
            TRACKING_ENABLED=True,
            TRACKING_BACKGROUND=True,
            RECOMMENDATIONS_ENABLED=True,
            RECOMMENDER_MODEL_DIR=models,
            RECOMMENDER_MODEL_CHECK_S=1.0,  # as in production (tests check on every request)
        )
        app = create_app(config)
        return cls(name, app, database, (db.engine, db.session_factory, db.write_session_factory))

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Make `shop.db.db` this app's database while the block runs."""
        from shop.db import db

        before = (db.engine, db.session_factory, db.write_session_factory)
        db.engine, db.session_factory, db.write_session_factory = self.state
        try:
            yield
        finally:
            db.engine, db.session_factory, db.write_session_factory = before

    def forget_views(self, user_id: int) -> None:
        """Write out the queued events, then delete the member's events the benchmark made
        (their product views), so the next block starts from the imported history."""
        from shop.db import db
        from shop.tracking.models import Event
        from shop.tracking.recorder import event_writer

        event_writer(self.app).flush()
        with self.bound(), self.app.app_context(), db.transaction() as session:
            session.execute(
                delete(Event).where(Event.user_id == user_id, Event.id >= self.first_bench_event)
            )


class MemberSeries(Series):
    """A signed-in member's product pages on one shop; the member's own views are deleted
    after every block (untimed): without the covering index the query reads all of the
    member's event rows, so views piling up through the run would slow the page down."""

    def __init__(
        self, name: str, shop: Shop, client: FlaskClient, url: Callable[[int], str], user_id: int
    ) -> None:
        super().__init__(name, client, url, [])
        self.shop = shop
        self.user_id = user_id

    def run_block(self, start: int, count: int) -> None:
        """Make the block's requests on this series' database, then forget its views."""
        with self.shop.bound():
            super().run_block(start, count)
        self.shop.forget_views(self.user_id)


@dataclass
class Member:
    """A demo account as the benchmark uses it."""

    email: str
    user_id: int
    purchase_events: int
    products: int


@dataclass
class Lookups:
    """Isolated `bought_products` timings, in seconds."""

    heavy_with: list[float] = field(default_factory=list)
    heavy_without: list[float] = field(default_factory=list)
    new_with: list[float] = field(default_factory=list)
    new_without: list[float] = field(default_factory=list)
    driver_with: list[float] = field(default_factory=list)  # the same SQL, sqlite3 alone
    driver_without: list[float] = field(default_factory=list)


@dataclass
class HeavyResult:
    """Page latencies, isolated calls and query plans."""

    heavy: Member
    new: Member
    product_id: int
    product_name: str
    heavy_bought_it: bool
    bare: LatencyStats
    new_with: LatencyStats
    new_without: LatencyStats
    heavy_with: LatencyStats
    heavy_without: LatencyStats
    call_heavy_with: LatencyStats
    call_heavy_without: LatencyStats
    call_new_with: LatencyStats
    call_new_without: LatencyStats
    driver_with: LatencyStats
    driver_without: LatencyStats
    plans: list[tuple[str, str, list[str]]]  # (what, SQL, plan lines)
    model: bool  # False: no recommender model, the shop serves best sellers


def _prepare(shop: Shop, *, model: bool) -> None:
    """Give the demo accounts their logins and (with `model`) train the recommender through
    the shop."""
    from shop.accounts.services import create_demo_accounts
    from shop.db import db
    from shop.personalization import service
    from shop.tracking.recorder import event_writer

    with shop.bound():
        with shop.app.app_context(), db.transaction() as session:
            create_demo_accounts(session)
        if model:
            log("heavy customer: training the recommender through the shop")
            with shop.app.app_context():
                service().train(db.session)
        event_writer(shop.app).flush()
        db.dispose()


def _drop_index(database: Path) -> None:
    """Drop the covering index from a database file (nothing else changes)."""
    conn = sqlite3.connect(database)
    try:
        conn.execute(f"DROP INDEX {INDEX}")
        conn.commit()
    finally:
        conn.close()


def _indexes(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        return {str(row[1]) for row in conn.execute("PRAGMA index_list('events')")}
    finally:
        conn.close()


def _member(shop: Shop, email: str) -> Member:
    """The account with this e-mail and how much it bought."""
    from shop.accounts.models import User
    from shop.db import db
    from shop.tracking.models import Event

    with shop.bound(), shop.app.app_context():
        session = db.session
        user_id = session.scalar(select(User.id).where(User.email == email))
        if user_id is None:
            raise RuntimeError(f"no account {email}")
        bought = Event.user_id == user_id, Event.kind == "purchase"
        events = session.scalar(select(func.count(Event.id)).where(*bought)) or 0
        products = session.scalar(select(func.count(Event.product_id.distinct())).where(*bought))
        return Member(email, user_id, events, products or 0)


def _product(shop: Shop, heavy: Member) -> tuple[int, str, bool]:
    """The best-selling active product, its name and whether the heavy customer bought it."""
    from shop.catalog.models import Product
    from shop.db import db
    from shop.recommendation_data import Shopper, bought_products

    with shop.bound():
        product_id = popular_product_ids(shop.app, 1)[0]
        with shop.app.app_context():
            name = str(db.session.get_one(Product, product_id).name)
            bought = bought_products(db.session, Shopper("bench", heavy.user_id))
    return product_id, name, product_id in bought


def _newest_event(shop: Shop) -> int:
    from shop.db import db
    from shop.tracking.models import Event

    with shop.bound(), shop.app.app_context():
        return int(db.session.scalar(select(func.max(Event.id))) or 0)


def isolated_calls(
    shops: tuple[Shop, Shop], members: tuple[Member, Member], statement: str, calls: int
) -> Lookups:
    """`bought_products` for both members on both databases, and the heavy customer's
    statement run by the sqlite3 driver alone (no SQLAlchemy), interleaved in blocks of
    BLOCK (the shops' order reversed every other block); each block runs in one read
    transaction, opened untimed (in a request an earlier query opens it) and rolled back
    after it."""
    from shop.db import db
    from shop.recommendation_data import Shopper, bought_products

    heavy, new = members
    expected = {heavy.user_id: heavy.products, new.user_id: new.products}
    samples = Lookups()
    targets = {
        (shops[0].name, heavy.user_id): samples.heavy_with,
        (shops[1].name, heavy.user_id): samples.heavy_without,
        (shops[0].name, new.user_id): samples.new_with,
        (shops[1].name, new.user_id): samples.new_without,
    }
    driver = {shops[0].name: samples.driver_with, shops[1].name: samples.driver_without}
    perf = time.perf_counter
    for b, start in enumerate(range(-BLOCK, calls, BLOCK)):  # the first block warms up
        order = shops if b % 2 == 0 else shops[::-1]
        for shop in order:
            with shop.bound(), shop.app.app_context():
                session = db.session
                session.execute(select(1))
                for member in (heavy, new):
                    shopper = Shopper("bench", member.user_id)
                    target = targets[(shop.name, member.user_id)]
                    for _ in range(BLOCK):
                        began = perf()
                        found = bought_products(session, shopper)
                        elapsed = perf() - began
                        if len(found) != expected[member.user_id]:
                            raise RuntimeError(f"{shop.name}: {member.email} bought {len(found)}")
                        if start >= 0:
                            target.append(elapsed)
                raw = session.connection().connection.driver_connection
                assert isinstance(raw, sqlite3.Connection)
                for _ in range(BLOCK):
                    began = perf()
                    rows = raw.execute(statement, (heavy.user_id, "purchase")).fetchall()
                    elapsed = perf() - began
                    if len(rows) != heavy.products:
                        raise RuntimeError(f"{shop.name}: the driver found {len(rows)} products")
                    if start >= 0:
                        driver[shop.name].append(elapsed)
                session.rollback()
    return samples


def query_plans(shops: tuple[Shop, Shop], heavy: Member) -> list[tuple[str, str, list[str]]]:
    """SQLite's plan for the heavy customer's `bought_products` query on each database."""
    from shop.db import db
    from shop.recommendation_data import Shopper, bought_products

    plans = []
    for shop in shops:
        with shop.bound():
            plans.append(
                query_plan(
                    shop.app,
                    f"`bought_products`, {shop.name}",
                    lambda: bought_products(db.session, Shopper("bench", heavy.user_id)),
                )
            )
    return plans


def run(requests: int = REQUESTS, calls: int = LOOKUPS, *, model: bool = True) -> HeavyResult:
    """Two copies of the imported shop, one without the covering index; time the product
    page in interleaved blocks, then `bought_products` on its own. Without `model` nothing
    is trained and the pages list best sellers, as a shop does before its first training."""
    from shop.accounts.services import DEMO_PASSWORD
    from shop.tracking.recorder import event_writer

    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-heavy-") as tmp:
        root = Path(tmp)
        models = root / "models"
        with_db = copy_database(source, _mkdir(root / "with-index"))
        indexed = Shop.create("with the index", with_db, models)
        _prepare(indexed, model=model)
        checkpoint(with_db)
        without_db = copy_database(with_db, _mkdir(root / "without-index"))
        _drop_index(without_db)
        if INDEX not in _indexes(with_db) or INDEX in _indexes(without_db):
            raise RuntimeError(f"{INDEX} should be in the first copy only")
        unindexed = Shop.create("without the index", without_db, models)
        shops = (indexed, unindexed)
        heavy, new = _member(indexed, HEAVY_EMAIL), _member(indexed, NEW_EMAIL)
        if (heavy.purchase_events, new.purchase_events) != (
            _member(unindexed, HEAVY_EMAIL).purchase_events,
            _member(unindexed, NEW_EMAIL).purchase_events,
        ):
            raise RuntimeError("the two databases differ")
        log(
            f"heavy customer: {heavy.email} has {heavy.purchase_events:,} purchase events, "
            f"{heavy.products:,} products"
        )
        product_id, product_name, heavy_bought_it = _product(indexed, heavy)
        for shop in shops:
            shop.first_bench_event = _newest_event(shop) + 1

        def url(_i: int) -> str:
            """Every request of every series asks for the same product page."""
            return f"/products/{product_id}"

        clients: dict[tuple[str, str], FlaskClient] = {}
        for shop in shops:
            for member in (new, heavy):
                with shop.bound():
                    clients[(shop.name, member.email)] = signed_in(
                        shop.app, member.email, DEMO_PASSWORD
                    )
        series = [Series("bare", bare_app().test_client(), lambda _i: "/", [])]
        for member, label in ((new, "no orders"), (heavy, "heavy")):
            for shop in shops:
                client = clients[(shop.name, member.email)]
                name = f"{label}, {shop.name}"
                series.append(MemberSeries(name, shop, client, url, member.user_id))
        log(f"heavy customer: warm-up ({WARMUP} requests per series)")
        warm_up(series)
        gc.collect()
        log(f"heavy customer: product page {product_id}, {requests} requests per series")
        interleave(series, requests, abba=True)
        bare, new_with, new_without, heavy_with, heavy_without = (
            LatencyStats.of(s.samples) for s in series
        )
        for (shop_name, email), client in clients.items():  # still signed in, as themselves
            shop = indexed if shop_name == indexed.name else unindexed
            with shop.bound():
                page = client.get("/account")
            if page.status_code != 200 or email not in page.get_data(as_text=True):
                raise RuntimeError(f"{email} was not signed in on {shop_name} at the end")
        gc.collect()
        log(f"heavy customer: `bought_products` alone, {calls:,} calls per series")
        plans = query_plans(shops, heavy)
        lookups = isolated_calls(shops, (heavy, new), plans[0][1], calls)
        for shop in shops:
            event_writer(shop.app).flush()  # before the databases' directory goes
        return HeavyResult(
            heavy=heavy,
            new=new,
            product_id=product_id,
            product_name=product_name,
            heavy_bought_it=heavy_bought_it,
            bare=bare,
            new_with=new_with,
            new_without=new_without,
            heavy_with=heavy_with,
            heavy_without=heavy_without,
            call_heavy_with=LatencyStats.of(lookups.heavy_with),
            call_heavy_without=LatencyStats.of(lookups.heavy_without),
            call_new_with=LatencyStats.of(lookups.new_with),
            call_new_without=LatencyStats.of(lookups.new_without),
            driver_with=LatencyStats.of(lookups.driver_with),
            driver_without=LatencyStats.of(lookups.driver_without),
            plans=plans,
            model=model,
        )


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _ratio_row(name: str, top: LatencyStats, bottom: LatencyStats) -> str:
    cells = [
        name,
        f"{top.p50_ms / bottom.p50_ms:.2f}",
        f"{top.p99_ms / bottom.p99_ms:.2f}",
        f"{top.mean_ms / bottom.mean_ms:.2f}",
        f"{(top.p50_ms - bottom.p50_ms):+.2f}",
    ]
    return table_row(cells)


def _call_row(name: str, stats: LatencyStats, page: LatencyStats) -> str:
    cells = [
        name,
        f"{stats.n:,}",
        f"{stats.p50_ms:.3f}",
        f"{stats.p99_ms:.3f}",
        f"{stats.mean_ms:.3f}",
        f"{stats.p50_ms / page.p50_ms:.0%}",
    ]
    return table_row(cells)


def report(result: HeavyResult) -> str:
    """The markdown section for the report."""
    heavy, new, r = result.heavy, result.new, result
    bought = "which the heavy customer bought" if r.heavy_bought_it else "never bought by them"
    serving = (
        "a recommender trained through the shop and shared by both"
        if r.model
        else "no recommender model: the lists are best sellers from the catalogue"
    )
    lines = [
        "## A heavy customer's product page (bought products, covering index)",
        "",
        "Two copies of the imported demo shop: one as migrated, with "
        f"`{INDEX}` (migration 0018), one with that index dropped; one app on each "
        f"(tracking on, {serving}). "
        f"Product page `/products/{r.product_id}` ({r.product_name}, the best seller, "
        f"{bought}) for every request, signed in as `{new.email}` "
        f"({new.purchase_events} purchase events) and as `{heavy.email}` "
        f"({heavy.purchase_events:,} purchase events, {heavy.products:,} distinct products), "
        f"on each database. Series interleaved in blocks of {BLOCK} (order reversed every "
        f"other block) after {WARMUP} warm-up requests each; after every block the member's "
        "own product views are deleted (untimed), so each block starts from the imported "
        "history.",
        "",
        "| request | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
        "|---|---:|---:|---:|---:|---:|---:|",
        latency_row("product page, no orders, with the index", r.new_with, r.bare),
        latency_row("product page, no orders, without the index", r.new_without, r.bare),
        latency_row("product page, heavy customer, with the index", r.heavy_with, r.bare),
        latency_row("product page, heavy customer, without the index", r.heavy_without, r.bare),
        latency_row("bare Flask endpoint", r.bare, r.bare),
        "",
        "| ratio (same run) | p50 | p99 | mean | p50 difference ms |",
        "|---|---:|---:|---:|---:|",
        _ratio_row("heavy / no orders, with the index", r.heavy_with, r.new_with),
        _ratio_row("heavy / no orders, without the index", r.heavy_without, r.new_without),
        _ratio_row("heavy: without / with the index", r.heavy_without, r.heavy_with),
        _ratio_row("no orders: without / with the index", r.new_without, r.new_with),
        "",
        f"`bought_products(session, shopper)` alone, in an app context on each database, "
        f"{r.call_heavy_with.n:,} calls per series, interleaved in blocks of {BLOCK}; each "
        "block runs in one read transaction, opened untimed and rolled back after it. Every "
        "call's answer is checked (the heavy customer's products on both databases). The "
        "driver rows run the statement `bought_products` sends (below) on the sqlite3 "
        "connection alone: the query without SQLAlchemy's statement and row handling.",
        "",
        "| call | calls | p50 ms | p99 ms | mean ms | p50 / its page's p50 |",
        "|---|---:|---:|---:|---:|---:|",
        _call_row("heavy customer, with the index", r.call_heavy_with, r.heavy_with),
        _call_row("heavy customer, without the index", r.call_heavy_without, r.heavy_without),
        _call_row("no orders, with the index", r.call_new_with, r.new_with),
        _call_row("no orders, without the index", r.call_new_without, r.new_without),
        _call_row("heavy customer, with the index, driver only", r.driver_with, r.heavy_with),
        _call_row(
            "heavy customer, without the index, driver only", r.driver_without, r.heavy_without
        ),
        "",
        "The heavy customer's call, without / with the index (same run): p50 "
        f"{r.call_heavy_without.p50_ms / r.call_heavy_with.p50_ms:.2f}, p99 "
        f"{r.call_heavy_without.p99_ms / r.call_heavy_with.p99_ms:.2f}; driver only: p50 "
        f"{r.driver_without.p50_ms / r.driver_with.p50_ms:.2f}, p99 "
        f"{r.driver_without.p99_ms / r.driver_with.p99_ms:.2f}.",
        "",
        "Query plans (SQLite `EXPLAIN QUERY PLAN`):",
        "",
    ]
    for what, statement, plan in r.plans:
        lines += [f"- {what}: `{statement}`"] + [f"  - `{step}`" for step in plan]
    return "\n".join(lines)


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--requests", type=int, default=REQUESTS, help="measured page requests per series"
    )
    parser.add_argument(
        "--calls", type=int, default=LOOKUPS, help="isolated bought_products calls per series"
    )
    parser.add_argument(
        "--no-model",
        action="store_true",
        help="train no recommender: the pages list best sellers (a shop before its first training)",
    )
    args = parser.parse_args()
    for name in ("requests", "calls"):
        value = getattr(args, name)
        if value < BLOCK or value % BLOCK:
            parser.error(f"--{name} must be a positive multiple of {BLOCK}")
    print(report(run(args.requests, args.calls, model=not args.no_model)))


if __name__ == "__main__":
    main()
