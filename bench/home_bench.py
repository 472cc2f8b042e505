"""The personalized home page against the same page without recommendations, and training
through the shop on the demo data (`python -m bench.home_bench`)."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

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
from bench.pages_bench import BLOCK, WARMUP, Series, interleave, popular_product_ids, warm_up

REQUESTS = 600
THROUGHPUT_TARGET = 0.75
TRAINING_TARGET_S = 20.0
DEMO_PASSWORD = "demo-shopper-2026"


@dataclass
class HomeResult:
    """Training time and the home page with and without recommendations."""

    training_s: float
    model_mib: float
    with_recs: LatencyStats
    without_recs: LatencyStats
    shoppers: int

    @property
    def throughput_ratio(self) -> float:
        """Requests per second with recommendations over without (1.0 means free)."""
        return self.without_recs.mean_ms / self.with_recs.mean_ms


def _app(database: Path, instance: Path, models: Path, *, recommendations: bool) -> Flask:
    from shop import create_app

    config = bench_config(
        sqlite_url(database),
        instance,
        TRACKING_BACKGROUND=True,
        RECOMMENDATIONS_ENABLED=recommendations,
        RECOMMENDER_MODEL_DIR=models,
        RECOMMENDER_MODEL_CHECK_S=1.0,  # as in production (tests check on every request)
    )
    return create_app(config)


def _train(app: Flask) -> tuple[float, float]:
    from shop.db import db
    from shop.personalization import service

    with app.app_context():
        started = time.perf_counter()
        service().train(db.session)
        seconds = time.perf_counter() - started
        _version, model = service().active.get()
        return seconds, model.nbytes / 1024 / 1024


def _shoppers(app: Flask, product_ids: list[int]) -> list[FlaskClient]:
    """A mix: two real customers, and anonymous visitors who viewed a few products."""
    from shop.accounts.services import create_demo_accounts
    from shop.db import db

    with app.app_context(), db.transaction() as session:
        create_demo_accounts(session)
    clients = [
        signed_in(app, "regular@demo.shop", DEMO_PASSWORD),
        signed_in(app, "occasional@demo.shop", DEMO_PASSWORD),
    ]
    rng = random.Random(7)
    for views in (0, 1, 3, 5):
        visitor = app.test_client()
        for product_id in rng.sample(product_ids, views):
            visitor.get(f"/products/{product_id}")
        clients.append(visitor)
    return clients


def run() -> HomeResult:
    """Train through the shop, then time the home page with and without recommendations."""
    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-home-") as tmp:
        root = Path(tmp)
        database = copy_database(source, root)
        models = root / "models"
        with_recs = _app(database, root / "instance", models, recommendations=True)
        log("home: training the recommender through the shop")
        training_s, model_mib = _train(with_recs)
        without = _app(database, root / "instance", models, recommendations=False)
        products = popular_product_ids(with_recs)
        on_clients = _shoppers(with_recs, products)
        off_clients = _shoppers(without, products)
        on_samples: list[float] = []
        off_samples: list[float] = []
        on_series = [Series("with", c, lambda _i: "/", on_samples) for c in on_clients]
        off_series = [Series("without", c, lambda _i: "/", off_samples) for c in off_clients]
        warm_up(on_series + off_series)
        log(f"home: {REQUESTS} requests each way, {len(on_clients)} shoppers, blocks of {BLOCK}")
        per_shopper = max(BLOCK, REQUESTS // len(on_clients))
        for on_one, off_one in zip(on_series, off_series, strict=True):
            interleave([on_one, off_one], per_shopper, abba=True)
        return HomeResult(
            training_s=training_s,
            model_mib=model_mib,
            with_recs=LatencyStats.of(on_samples),
            without_recs=LatencyStats.of(off_samples),
            shoppers=len(on_clients),
        )


def report(result: HomeResult) -> str:
    """The markdown section for the report."""
    ratio_ok = verdict(result.throughput_ratio >= THROUGHPUT_TARGET)
    train_ok = verdict(result.training_s < TRAINING_TARGET_S)
    return "\n".join(
        [
            "## Personalized home page and training through the shop",
            "",
            f"Training: `RecommendationService.train` on every view, cart addition and purchase "
            f"of the imported demo shop (reading the events included): {result.training_s:.1f} s "
            f"(target < {TRAINING_TARGET_S:.0f} s: {train_ok}); loaded model "
            f"{result.model_mib:.1f} MiB.",
            "",
            f"Home page `/` for {result.shoppers} shoppers (two real customers signed in, four "
            "anonymous visitors with 0, 1, 3 and 5 product views), each against an app on the "
            "same database with `RECOMMENDATIONS_ENABLED=False`, interleaved in ABBA blocks of "
            f"{BLOCK} after {WARMUP} warm-up requests each.",
            "",
            "| home page | requests | p50 ms | p99 ms | mean ms |",
            "|---|---:|---:|---:|---:|",
            latency_row("with recommendations", result.with_recs),
            latency_row("without", result.without_recs),
            "",
            "| measure | value | target | result |",
            "|---|---:|---:|---|",
            f"| throughput with / without | {result.throughput_ratio:.2f} | "
            f">= {THROUGHPUT_TARGET} | {ratio_ok} |",
        ]
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    print(report(run()))


if __name__ == "__main__":
    main()
