"""The console's online-metrics page on 90 days of recommendation traffic
(`python -m bench.console_metrics_bench`).

On a copy of the imported demo shop it adds, for the 90 days up to today:

* 2,000 lists shown per day (180,000 impressions) over the six placements;
* 4% of lists clicked (each click is a `rec_click` and a `product_view` carrying the list id),
  a quarter of clicks added to the cart, and 40% of those bought in a paid order of their own;
* 5,000 ordinary product views per day with no list id (storefront traffic).

Then it times the page through Flask's test client, signed in as a merchandiser, for the
default 30 days, all 90 days, and 90 days of one placement, alongside a bare Flask endpoint
in the same run; and the aggregation alone (`online_report`) for 90 days.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select, text

from bench.common import (
    LatencyStats,
    bench_config,
    copy_database,
    ensure_imported_database,
    latency_row,
    log,
    signed_in,
    sqlite_url,
    verdict,
)
from bench.pages_bench import bare_app

DAYS = 90
IMPRESSIONS_PER_DAY = 2_000
CTR = 0.04
CART_PER_CLICK = 0.25
PURCHASE_PER_CART = 0.40
VIEWS_PER_DAY = 5_000
PLACEMENT_MIX = {
    "product": 0.40,
    "home": 0.25,
    "cart": 0.15,
    "buy_again": 0.10,
    "order": 0.07,
    "order_email": 0.03,
}
REQUESTS = 30  # per page series
BARE_REQUESTS = 300
WARMUP = 3
TARGET_S = 1.0
SEED = 20261123
BATCH = 20_000
STAFF_EMAIL = "bench-merch@example.com"
STAFF_PASSWORD = "bench merchandiser password"


@dataclass
class Volume:
    """What the benchmark added to the database."""

    impressions: int
    clicks: int
    cart_adds: int
    purchases: int
    plain_views: int
    seconds: float

    @property
    def events(self) -> int:
        """Event rows added (clicks count twice: the click and its product view)."""
        return 2 * self.clicks + self.cart_adds + self.purchases + self.plain_views


@dataclass
class MetricsResult:
    """Latencies of the online-metrics page and the bare endpoint."""

    volume: Volume
    total_events: int
    page_30: LatencyStats
    page_90: LatencyStats
    page_90_one: LatencyStats
    report_90: LatencyStats
    bare: LatencyStats

    @property
    def worst_s(self) -> float:
        """The slowest page request measured, in seconds."""
        return max(s.max_ms for s in (self.page_30, self.page_90, self.page_90_one)) / 1000


def _app(database: Path, instance: Path) -> Flask:
    from shop import create_app

    return create_app(bench_config(sqlite_url(database), instance, TRACKING_BACKGROUND=True))


def _rec_id(n: int) -> str:
    return f"bench{n:027x}"


def fill(app: Flask, today: datetime, rng: random.Random) -> Volume:
    """Add 90 days of impressions, clicks, cart adds and paid purchases (see the module doc)."""
    from werkzeug.security import generate_password_hash

    from shop.accounts.models import User
    from shop.catalog.models import Product
    from shop.db import db
    from shop.orders.models import Order, OrderLine
    from shop.recommendation_models import Impression
    from shop.tracking.models import Event

    started = time.perf_counter()
    placements = list(PLACEMENT_MIX)
    weights = list(PLACEMENT_MIX.values())
    impressions: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    purchases: list[tuple[int, datetime, int, int, int]] = []  # rec, time, product, qty, price
    counts = dict.fromkeys(("clicks", "cart_adds", "views"), 0)
    with app.app_context(), db.transaction() as session:
        session.add(
            User(
                email=STAFF_EMAIL,
                name="Bench merchandiser",
                role="merchandiser",
                password_hash=generate_password_hash(STAFF_PASSWORD, method="pbkdf2:sha256:1000"),
            )
        )
        products = list(
            session.execute(
                select(Product.id, Product.price_pence)
                .where(Product.active.is_(True), Product.price_pence > 0)
                .order_by(Product.order_count.desc())
                .limit(500)
            )
        )

        def flush(force: bool = False) -> None:
            if impressions and (force or len(impressions) >= BATCH):
                session.execute(insert(Impression), impressions)
                impressions.clear()
            if events and (force or len(events) >= BATCH):
                session.execute(insert(Event), events)
                events.clear()

        n = 0
        start = today - timedelta(days=DAYS - 1)
        for day in range(DAYS):
            midnight = start + timedelta(days=day)
            for _ in range(IMPRESSIONS_PER_DAY):
                n += 1
                shown = midnight + timedelta(seconds=rng.randrange(86_400))
                shown_ids = [pid for pid, _price in rng.sample(products, 6)]
                impressions.append(
                    {
                        "rec_id": _rec_id(n),
                        "placement": rng.choices(placements, weights)[0],
                        "model_version": "bench",
                        "strategy": "personal",
                        "variant": None,
                        "visitor_id": f"bench-{n % 9_000}",
                        "user_id": None,
                        "product_ids": shown_ids,
                        "created_at": shown,
                    }
                )
                if rng.random() >= CTR:
                    continue
                product_id, price = products[rng.randrange(len(products))]
                clicked = shown + timedelta(seconds=rng.randrange(5, 120))
                for kind in ("rec_click", "product_view"):
                    events.append(_event(kind, clicked, n, product_id))
                counts["clicks"] += 1
                if rng.random() >= CART_PER_CLICK:
                    continue
                added = clicked + timedelta(seconds=rng.randrange(10, 600))
                events.append(_event("cart_add", added, n, product_id, quantity=1))
                counts["cart_adds"] += 1
                if rng.random() < PURCHASE_PER_CART:
                    paid = added + timedelta(seconds=rng.randrange(60, 3_600))
                    purchases.append((n, paid, product_id, rng.randint(1, 4), price))
            for _ in range(VIEWS_PER_DAY):
                product_id, _price = products[rng.randrange(len(products))]
                moment = midnight + timedelta(seconds=rng.randrange(86_400))
                events.append(_event("product_view", moment, None, product_id))
                counts["views"] += 1
            flush()
        flush(force=True)
        for number, (rec, paid, product_id, quantity, price) in enumerate(purchases):
            order = Order(
                number=f"BENCH-{number:06d}",
                status="paid",
                source="web",
                subtotal_pence=quantity * price,
                total_pence=quantity * price,
                placed_at=paid,
                visitor_id=f"bench-{rec % 9_000}",
            )
            order.lines.append(
                OrderLine(
                    product_id=product_id,
                    sku=f"B{product_id}",
                    name="bench",
                    quantity=quantity,
                    unit_price_pence=price,
                    line_total_pence=quantity * price,
                )
            )
            session.add(order)
            session.flush()
            events.append(
                _event("purchase", paid, rec, product_id, order_id=order.id, quantity=quantity)
            )
        flush(force=True)
    return Volume(
        impressions=n,
        clicks=counts["clicks"],
        cart_adds=counts["cart_adds"],
        purchases=len(purchases),
        plain_views=counts["views"],
        seconds=time.perf_counter() - started,
    )


def _event(
    kind: str, at: datetime, rec: int | None, product_id: int, **extra: Any
) -> dict[str, Any]:
    row = {
        "kind": kind,
        "visitor_id": f"bench-{(rec or 0) % 9_000}",
        "user_id": None,
        "product_id": product_id,
        "order_id": None,
        "quantity": None,
        "rec_id": _rec_id(rec) if rec is not None else None,
        "created_at": at,
    }
    row.update(extra)
    return row


def _time_get(client: FlaskClient, url: str, requests: int, warmup: int = WARMUP) -> LatencyStats:
    samples = []
    for i in range(warmup + requests):
        began = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}")
        if i >= warmup:
            samples.append(elapsed)
    return LatencyStats.of(samples)


def _time_report(app: Flask, start: str, end: str) -> LatencyStats:
    from datetime import date

    from shop.analytics.online import Period, online_report
    from shop.db import db

    period = Period(date.fromisoformat(start), date.fromisoformat(end))
    samples = []
    with app.app_context():
        for i in range(WARMUP + REQUESTS):
            began = time.perf_counter()
            online_report(db.session, period)
            elapsed = time.perf_counter() - began
            db.session.rollback()
            if i >= WARMUP:
                samples.append(elapsed)
    return LatencyStats.of(samples)


def run() -> MetricsResult:
    """Fill a copy of the demo shop with 90 days of recommendation traffic and time the page."""
    from shop.db import utcnow

    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-metrics-") as tmp:
        root = Path(tmp)
        database = copy_database(source, root)
        app = _app(database, root / "instance")
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        log(f"metrics: adding {DAYS} days x {IMPRESSIONS_PER_DAY:,} impressions and events")
        volume = fill(app, today, random.Random(SEED))
        log(f"metrics: added {volume.impressions:,} impressions in {volume.seconds:.0f} s")
        with app.app_context():
            from shop.db import db

            total_events = int(db.session.scalar(text("SELECT count(*) FROM events")) or 0)
            db.session.rollback()
        client = signed_in(app, STAFF_EMAIL, STAFF_PASSWORD)
        first = (today - timedelta(days=DAYS - 1)).date().isoformat()
        last = today.date().isoformat()
        url_90 = f"/console/metrics/online?start={first}&end={last}"
        log(f"metrics: {REQUESTS} requests per page series")
        page_30 = _time_get(client, "/console/metrics/online", REQUESTS)
        page_90 = _time_get(client, url_90, REQUESTS)
        page_90_one = _time_get(client, url_90 + "&placement=home", REQUESTS)
        report_90 = _time_report(app, first, last)
        bare = _time_get(bare_app().test_client(), "/", BARE_REQUESTS, warmup=50)
        return MetricsResult(volume, total_events, page_30, page_90, page_90_one, report_90, bare)


def report(result: MetricsResult) -> str:
    """The markdown section for the report."""
    v = result.volume
    bare = result.bare
    return "\n".join(
        [
            "## Console: online metrics page",
            "",
            f"Data: the imported demo shop plus {DAYS} days of recommendation traffic: "
            f"{v.impressions:,} lists shown ({IMPRESSIONS_PER_DAY:,} a day over six placements), "
            f"{v.clicks:,} clicks, {v.cart_adds:,} cart adds, {v.purchases:,} paid order lines "
            f"from lists, and {v.plain_views:,} ordinary product views; {result.total_events:,} "
            f"event rows in all (filled in {v.seconds:.0f} s).",
            "",
            f"`GET /console/metrics/online` as a signed-in merchandiser, {REQUESTS} requests per "
            f"row after {WARMUP} warm-up requests; bare Flask endpoint in the same run.",
            "",
            "| request | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
            latency_row("online metrics, default 30 days", result.page_30, bare),
            latency_row(f"online metrics, {DAYS} days", result.page_90, bare),
            latency_row(f"online metrics, {DAYS} days, placement home", result.page_90_one, bare),
            latency_row(f"`online_report()` alone, {DAYS} days", result.report_90, bare),
            latency_row("bare Flask endpoint", bare, bare),
            "",
            "| measure | value | target | result |",
            "|---|---:|---:|---|",
            f"| slowest page request | {result.worst_s * 1000:.0f} ms | < {TARGET_S * 1000:.0f} ms "
            f"| {verdict(result.worst_s < TARGET_S)} |",
        ]
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    print(report(run()))


if __name__ == "__main__":
    main()
