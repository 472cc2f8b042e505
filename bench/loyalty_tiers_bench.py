"""`flask loyalty evaluate-tiers` over every imported customer as a member
(`python -m bench.loyalty_tiers_bench`).

Three runs on a copy of the imported demo shop, every customer a member with a made-up
e-mail address (so every tier change also queues its e-mail, the costly case):
1. first evaluation: everyone starts at the entry tier, so all who qualify are upgraded;
2. a second run the same day: nothing changes (the daily steady state);
3. everyone at the top tier with an expired grace period: all below it are downgraded.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import String, cast, insert, select, update

from bench.common import (
    bench_config,
    copy_database,
    ensure_imported_database,
    log,
    sqlite_url,
    verdict,
)

TARGET_S = 10.0


@dataclass(frozen=True)
class Run:
    """One timed evaluation."""

    label: str
    seconds: float
    upgraded: int
    downgraded: int
    marked: int
    emails: int


@dataclass
class TiersResult:
    """The member count, the calibrated thresholds and the timed runs."""

    members: int
    thresholds: list[tuple[str, int]]
    spend_query_s: float
    runs: list[Run]

    @property
    def slowest_s(self) -> float:
        """The slowest of the runs."""
        return max(run.seconds for run in self.runs)


def _app(database: Path, instance: Path) -> Flask:
    from shop import create_app

    return create_app(bench_config(sqlite_url(database), instance))


def _members(app: Flask) -> tuple[int, list[tuple[str, int]]]:
    """Every customer (not staff) becomes a member at the entry tier; default tiers."""
    from loyalty import tiers
    from loyalty.models import Membership
    from shop.accounts.models import User
    from shop.db import db, utcnow

    long_ago = utcnow() - timedelta(days=400)
    with app.app_context(), db.transaction() as session:
        created = tiers.ensure_default_tiers(session)
        session.execute(
            update(User)
            .where(User.email.is_(None), User.role.is_(None))
            .values(email="customer-" + cast(User.id, String) + "@bench.example")
        )
        ids = list(session.scalars(select(User.id).where(User.role.is_(None)).order_by(User.id)))
        session.execute(
            insert(Membership),
            [
                {
                    "user_id": uid,
                    "number": f"HP-{uid:08d}",
                    "tier_id": created[0].id,
                    "status": "active",
                    "points_balance": 0,
                    "terms_version": "bench",
                    "joined_at": long_ago,
                    "tier_since": long_ago,
                }
                for uid in ids
            ],
        )
        return len(ids), [(t.name, t.threshold) for t in created]


def _spend_query(app: Flask) -> float:
    from loyalty import tiers
    from shop.db import db, utcnow

    with app.app_context(), db.transaction() as session:
        started = time.perf_counter()
        tiers.spend_by_membership(session, utcnow())
        return time.perf_counter() - started


def _evaluate(app: Flask, label: str) -> Run:
    from loyalty import tiers
    from shop.db import db

    with app.app_context():
        started = time.perf_counter()
        result = tiers.evaluate_tiers(db.transaction)
        seconds = time.perf_counter() - started
    log(f"loyalty tiers: {label}: {seconds:.2f} s ({result.summary()})")
    return Run(
        label, seconds, result.upgraded, result.downgraded, result.marked_below, result.emails
    )


def _all_at_top_in_grace(app: Flask) -> None:
    from loyalty.models import Membership, Tier
    from shop.db import db, utcnow

    with app.app_context(), db.transaction() as session:
        top = session.scalar(select(Tier.id).order_by(Tier.rank.desc()).limit(1))
        session.execute(
            update(Membership).values(
                tier_id=top,
                tier_since=utcnow() - timedelta(days=200),
                below_tier_since=utcnow() - timedelta(days=40),
            )
        )


def run() -> TiersResult:
    """Make every imported customer a member and time three evaluations."""
    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-tiers-") as tmp:
        root = Path(tmp)
        app = _app(copy_database(source, root), root / "instance")
        members, thresholds = _members(app)
        log(f"loyalty tiers: {members:,} members")
        spend_s = _spend_query(app)
        runs = [_evaluate(app, "first evaluation (upgrades)")]
        runs.append(_evaluate(app, "second run, nothing changes"))
        _all_at_top_in_grace(app)
        runs.append(_evaluate(app, "downgrades after the grace period"))
        return TiersResult(members, thresholds, spend_s, runs)


def report(result: TiersResult) -> str:
    """The markdown section for the report."""
    rows = [
        f"| {run.label} | {run.seconds:.2f} | {run.upgraded:,} | {run.downgraded:,} | "
        f"{run.emails:,} | {verdict(run.seconds < TARGET_S)} |"
        for run in result.runs
    ]
    tiers = ", ".join(f"{name} £{threshold / 100:,.0f}" for name, threshold in result.thresholds)
    return "\n".join(
        [
            "## Loyalty: evaluate-tiers over every imported customer",
            "",
            f"Every customer of the imported demo shop is a member ({result.members:,}), each "
            "with an e-mail address so that every tier change also queues its confirmation. "
            f"Default tiers calibrated on the data: {tiers}. The 12-month spend of all members "
            f"(one grouped query) takes {result.spend_query_s * 1000:.0f} ms; members are then "
            "updated in batches of 1,000 with set-based UPDATEs and bulk history inserts.",
            "",
            "| run | seconds | upgraded | downgraded | e-mails | < 10 s |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


def main() -> None:
    """Run this benchmark alone and print its section."""
    print(report(run()))


if __name__ == "__main__":
    main()
