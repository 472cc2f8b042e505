"""Saving a tier in the console when its members are told by e-mail (`tier_news`)
(`python -m bench.loyalty_tier_news_bench`).

On a copy of the imported demo shop, every customer (topped up with new accounts to 5,000)
is an active member of one tier with a made-up e-mail address and "Tier news" confirmed.
`tiers.save_tier` is then called as the console's POST does it (in a POST request context,
on the request's write session, committed), for three kinds of change, in rounds so that
noise hits all alike:

a. the threshold only: nobody is told (the baseline: validation, audit, commit);
b. an improvement (a bigger discount): tier news to every opted-in member, as a campaign;
c. a reduction (the discount back down): a service notice to every active member.

`--profile news|notice` profiles one save of that kind with cProfile instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask
from sqlalchemy import String, cast, func, select, update

from bench.common import (
    bench_config,
    copy_database,
    ensure_imported_database,
    log,
    sqlite_url,
    verdict,
)
from bench.members import enrol_members, top_up_accounts

if TYPE_CHECKING:
    from loyalty.rules import TierSpec

MEMBERS = 5_000
ROUNDS = 5
TARGET_S = 10.0  # a save that tells 5,000 members, inside the console's POST request
TIER_NAME = "Gold"
DISCOUNT_STEP_BP = 100
KINDS = ("threshold", "news", "notice")
LABELS = {
    "threshold": "a. threshold only (nobody told)",
    "news": "b. improvement: tier news to opted-in members",
    "notice": "c. reduction: service notice to all members",
}


@dataclass
class Kind:
    """The timed saves of one kind of change."""

    seconds: list[float] = field(default_factory=list)
    commit_seconds: list[float] = field(default_factory=list)
    told: list[int] = field(default_factory=list)

    @property
    def mean_s(self) -> float:
        """Mean time of one save, commit included."""
        return sum(self.seconds) / len(self.seconds)

    @property
    def commit_s(self) -> float:
        """Mean time of the commit alone."""
        return sum(self.commit_seconds) / len(self.commit_seconds)

    @property
    def emails(self) -> int:
        """E-mails one save queued (the same every round; the largest if they differ)."""
        return max(self.told)


@dataclass
class TierNewsResult:
    """The members, what the saves queued and how long they took."""

    members: int
    customers: int
    tier: str
    rounds: int
    kinds: dict[str, Kind]
    outbox_rows: dict[str, int]
    campaign_sends: int

    @property
    def baseline_s(self) -> float:
        """Mean time of a save that tells nobody."""
        return self.kinds["threshold"].mean_s

    def per_member_ms(self, kind: str) -> float:
        """Mean time per e-mail queued by one save of this kind."""
        entry = self.kinds[kind]
        return entry.mean_s * 1000 / max(1, entry.emails)

    def ok(self, kind: str) -> bool:
        """Whether the slowest save of this kind met the target, extrapolated to 5,000."""
        entry = self.kinds[kind]
        slowest = max(entry.seconds)
        if entry.emails and entry.emails < MEMBERS:
            slowest = slowest * MEMBERS / entry.emails
        return slowest < TARGET_S


def _app(database: Path, instance: Path) -> Flask:
    from shop import create_app

    return create_app(bench_config(sqlite_url(database), instance))


def _members(app: Flask, count: int) -> tuple[int, int, int]:
    """Every customer (not staff) becomes an active member of one tier with tier news
    confirmed, each with a made-up e-mail address (imported customers have none), topped
    up with new accounts to `count`. Returns (members, imported customers, tier id)."""
    from loyalty import tiers
    from loyalty.tier_news import TOPIC
    from shop.accounts.models import User
    from shop.db import db, utcnow

    now = utcnow()
    with app.app_context(), db.transaction() as session:
        tier_id = next(t.id for t in tiers.ensure_default_tiers(session) if t.name == TIER_NAME)
        customers = User.role.is_(None), User.deleted_at.is_(None)
        session.execute(
            update(User)
            .where(*customers)
            .values(email="customer-" + cast(User.id, String) + "@bench.example")
        )
        ids = list(session.scalars(select(User.id).where(*customers).order_by(User.id)))
        imported = len(ids)
        ids = top_up_accounts(session, ids, count, now)
        enrol_members(session, ids, tier_id, TOPIC, now, "TN-")
        return len(ids), imported, tier_id


def _next_spec(app: Flask, tier_id: int, kind: str, round_no: int) -> TierSpec:
    """The tier as the console's form would post it for this kind of change."""
    from loyalty import tiers
    from loyalty.models import Tier
    from loyalty.rules import TierSpec
    from shop.db import db

    with app.app_context():
        spec = asdict(tiers.tier_spec(db.session.get(Tier, tier_id)))
        db.session.rollback()
    if kind == "threshold":  # up one pence, then back down: stays between its neighbours
        spec["threshold"] += 1 if round_no % 2 == 0 else -1
    elif kind == "news":
        spec["discount_bp"] += DISCOUNT_STEP_BP
    else:
        spec["discount_bp"] -= DISCOUNT_STEP_BP
    return TierSpec(**spec)


def _save(app: Flask, tier_id: int, spec: TierSpec) -> tuple[float, float, int]:
    """One save as the console's POST does it: (seconds with commit, commit, members told).

    A POST request context, so that `db.session` is the request's write session (BEGIN
    IMMEDIATE on SQLite: the write lock is held from the first statement to the commit).
    """
    from loyalty import tiers
    from shop.console import audit
    from shop.db import db

    actor = audit.Actor(None, "bench merchandiser")
    with app.test_request_context(f"/console/loyalty/tiers/{tier_id}", method="POST"):
        started = time.perf_counter()
        saved = tiers.save_tier(db.session, actor, tier_id, spec)
        told = saved.members_told
        before_commit = time.perf_counter()
        db.session.commit()
        ended = time.perf_counter()
    return ended - started, ended - before_commit, told


def _queued(app: Flask) -> tuple[dict[str, int], int]:
    """Outbox rows per kind, and campaign sends, written by the saves."""
    from loyalty.models import CampaignSend
    from loyalty.tier_news import NEWS_KIND, NOTICE_KIND
    from shop.db import db
    from shop.mail.models import OutboxEmail

    with app.app_context():
        rows = dict(
            db.session.execute(
                select(OutboxEmail.kind, func.count())
                .where(OutboxEmail.kind.in_((NEWS_KIND, NOTICE_KIND)))
                .group_by(OutboxEmail.kind)
            ).all()
        )
        sends = db.session.scalar(select(func.count()).select_from(CampaignSend))
        return {k: int(v) for k, v in rows.items()}, int(sends or 0)


def _prepared(root: Path) -> tuple[Flask, int, int, int]:
    app = _app(copy_database(ensure_imported_database(), root), root / "instance")
    members, customers, tier_id = _members(app, MEMBERS)
    log(f"tier news: {members:,} members of {TIER_NAME} with tier news on")
    return app, members, customers, tier_id


def run(rounds: int = ROUNDS) -> TierNewsResult:
    """Make the members, then time `rounds` of: threshold, improvement, reduction."""
    with tempfile.TemporaryDirectory(prefix="shop-bench-tier-news-") as tmp:
        app, members, customers, tier_id = _prepared(Path(tmp))
        _save(app, tier_id, _next_spec(app, tier_id, "threshold", 1))  # warm-up, tells nobody
        kinds = {kind: Kind() for kind in KINDS}
        for round_no in range(rounds):
            for kind in KINDS:
                seconds, commit_s, told = _save(
                    app, tier_id, _next_spec(app, tier_id, kind, round_no)
                )
                kinds[kind].seconds.append(seconds)
                kinds[kind].commit_seconds.append(commit_s)
                kinds[kind].told.append(told)
                log(f"tier news: round {round_no + 1}, {kind}: {told:,} told in {seconds:.2f} s")
        outbox_rows, sends = _queued(app)
        return TierNewsResult(members, customers, TIER_NAME, rounds, kinds, outbox_rows, sends)


def profile(kind: str, top: int = 30) -> None:
    """Profile one save of this kind ("news" or "notice") with cProfile."""
    with tempfile.TemporaryDirectory(prefix="shop-bench-tier-news-") as tmp:
        app, _members_count, _customers, tier_id = _prepared(Path(tmp))
        if kind == "notice":  # a reduction needs something to reduce first
            _save(app, tier_id, _next_spec(app, tier_id, "news", 0))
        spec = _next_spec(app, tier_id, kind, 0)
        profiler = cProfile.Profile()
        profiler.enable()
        _save(app, tier_id, spec)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


def report(result: TierNewsResult) -> str:
    """The markdown section for the report."""
    rows = []
    for kind in KINDS:
        entry = result.kinds[kind]
        per_member = f"{result.per_member_ms(kind):.2f}" if entry.emails else "-"
        ratio = entry.mean_s / result.baseline_s
        rows.append(
            f"| {LABELS[kind]} | {entry.emails:,} | {entry.mean_s:.3f} "
            f"({min(entry.seconds):.3f} to {max(entry.seconds):.3f}) | {entry.commit_s:.3f} | "
            f"{per_member} | {ratio:,.0f}x | {verdict(result.ok(kind))} |"
        )
    news = result.outbox_rows.get("tier_news", 0)
    notices = result.outbox_rows.get("loyalty_tier_benefits", 0)
    return "\n".join(
        [
            "## Loyalty: tier news on a tier save",
            "",
            "`tiers.save_tier` as the console's POST calls it (POST request context, the "
            "request's write session, committed) on a copy of the imported demo shop: "
            f"{result.members:,} active members of {result.tier} ({result.customers:,} "
            f"imported customers and {result.members - result.customers:,} new accounts), "
            "each with a made-up e-mail address and tier news confirmed. "
            f"{result.rounds} rounds of a, b, c (b raises the discount by "
            f"{DISCOUNT_STEP_BP / 100:.0f} percentage point, c lowers it back). Seconds: mean "
            f"(min to max), commit included. In all: {news:,} tier news e-mails with "
            f"{result.campaign_sends:,} campaign sends, {notices:,} service notices.",
            "",
            "| save | e-mails | seconds | of which commit | ms per member | vs a | "
            f"< {TARGET_S:.0f} s for {MEMBERS:,} |",
            "|---|---:|---:|---:|---:|---:|---|",
            *rows,
        ]
    )


def main() -> None:
    """Run this benchmark alone and print its section, or profile one kind of save."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of a, b, c")
    parser.add_argument(
        "--profile",
        choices=("news", "notice"),
        help="profile one save of this kind with cProfile instead of benchmarking",
    )
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    print(report(run(args.rounds)))


if __name__ == "__main__":
    main()
