"""The console's preview page: live and draft lists for one shopper, every placement, on the
demo shop with a trained model and a draft with rules (`python -m bench.console_preview_bench`)."""

from __future__ import annotations

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
from bench.pages_bench import bare_app

REQUESTS = 60
WARMUP = 5
TARGET_MS = 300.0
SHOPPERS = ("regular@demo.shop", "occasional@demo.shop")


@dataclass
class PreviewResult:
    """Preview page latency per shopper kind, and a bare endpoint in the same run."""

    pages: dict[str, LatencyStats]
    bare: LatencyStats
    rules: int


def _app(database: Path, root: Path) -> Flask:
    from shop import create_app

    config = bench_config(
        sqlite_url(database),
        root / "instance",
        TRACKING_BACKGROUND=True,
        RECOMMENDER_MODEL_DIR=root / "models",
        RECOMMENDER_MODEL_CHECK_S=1.0,
    )
    return create_app(config)


def _prepare(app: Flask) -> int:
    """Train, create the demo staff and shoppers, and put rules in the draft."""
    from sqlalchemy import func, select

    from shop.accounts.services import create_demo_accounts
    from shop.catalog.models import Product
    from shop.console import audit
    from shop.console.staff import create_demo_staff
    from shop.db import db
    from shop.merchandising import editing, revisions
    from shop.personalization import service

    with app.app_context():
        service().train(db.session)
        with db.transaction() as session:
            create_demo_accounts(session)
            create_demo_staff(session)
            draft = service().config_from(revisions.draft_data(session))
            sizes = {name: placement.size for name, placement in draft.placements.items()}
            top = session.scalars(
                select(Product.id)
                .where(Product.active.is_(True), Product.stock_qty > 0)
                .order_by(Product.order_count.desc())
                .limit(3)
            ).all()
            category = session.scalar(select(func.min(Product.category_id)))
            rules = [
                editing.RuleInput("pin", ("home",), product_id=top[2], position=1),
                editing.RuleInput("boost", (), category_id=category, factor=2.0),
                editing.RuleInput("bury", (), product_id=top[0], factor=3.0),
                editing.RuleInput("exclude", ("cart",), product_id=top[1]),
                editing.RuleInput("diversity", (), max_per_category=2),
            ]
            for rule in rules:
                editing.add_rule(session, audit.CLI_ACTOR, rule, sizes)
    return len(rules)


def _time(client: FlaskClient, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return samples


def run() -> PreviewResult:
    """Time the preview page for a frequent and an occasional customer, and a session."""
    from shop.console.staff import DEMO_STAFF_PASSWORD

    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-preview-") as tmp:
        root = Path(tmp)
        app = _app(copy_database(source, root), root)
        log("preview: training and writing a draft with rules")
        rules = _prepare(app)
        merch = signed_in(app, "merchandiser@demo.shop", DEMO_STAFF_PASSWORD)
        bare = bare_app().test_client()
        urls = {
            f"customer {email}": f"/console/recommendations/preview?shopper={email}"
            for email in SHOPPERS
        }
        urls["anonymous session, 5 views"] = (
            "/console/recommendations/preview?viewed=85123A,71053,84406B,84029G,84029E"
        )
        pages: dict[str, list[float]] = {name: [] for name in urls}
        bare_samples: list[float] = []
        for url in urls.values():
            _time(merch, url, WARMUP)
        log(f"preview: {REQUESTS} requests per shopper, interleaved with a bare endpoint")
        for _ in range(REQUESTS // 10):
            for name, url in urls.items():
                pages[name] += _time(merch, url, 10)
            bare_samples += _time(bare, "/", 10)
        return PreviewResult(
            {name: LatencyStats.of(s) for name, s in pages.items()},
            LatencyStats.of(bare_samples),
            rules,
        )


def report(result: PreviewResult) -> str:
    """The markdown section for the report."""
    worst = max(stats.p99_ms for stats in result.pages.values())
    return "\n".join(
        [
            "## Console preview page",
            "",
            "`/console/recommendations/preview` signed in as the demo merchandiser: every "
            "placement (home, buy it again, cart, order, product page) rendered twice, with "
            f"the live settings and with a draft of {result.rules} rules (pin, boost, bury, "
            "exclude, diversity), on the imported demo shop with a trained model.",
            "",
            "| preview for | requests | p50 ms | p99 ms | mean ms | p50 / bare | mean / bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *(latency_row(name, stats, result.bare) for name, stats in result.pages.items()),
            latency_row("bare Flask endpoint", result.bare, result.bare),
            "",
            "| measure | value | target | result |",
            "|---|---:|---:|---|",
            f"| slowest p99 | {worst:.0f} ms | < {TARGET_MS:.0f} ms | "
            f"{verdict(worst < TARGET_MS)} |",
        ]
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    print(report(run()))


if __name__ == "__main__":
    main()
