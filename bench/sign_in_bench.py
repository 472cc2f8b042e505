"""The per-request sign-in check: a signed-in product page against the same page for an
anonymous visitor, against the same signed-in page with the check skipped, and against a
bare Flask endpoint, all in one run on one app; then the check's query alone
(`python -m bench.sign_in_bench`).

Every signed-in request asks the database whether its sign-in is still live
(`sign_ins.is_live`, called from the accounts blueprint's `before_app_request` hook right
after flask-login's user loader). `sign_ins` is first filled for 10,000 members with a few
sign-ins each, most of them ended, as a shop that has run for a while would have it.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from bench.common import (
    LatencyStats,
    copy_database,
    ensure_imported_database,
    log,
    query_plan,
    signed_in,
    table_row,
)
from bench.members import top_up_accounts
from bench.pages_bench import (
    BLOCK,
    SEED,
    WARMUP,
    Series,
    bare_app,
    interleave,
    popular_product_ids,
    shop_app,
    warm_up,
)

REQUESTS = 1_000  # measured page requests per series
MEMBERS = 10_000
SIGN_INS_PER_MEMBER = (2, 8)  # each member has between this many sign-ins (uniform)
ENDED_SHARE = 0.6  # of the filled sign-ins, this share has ended (signed out, or ended elsewhere)
HISTORY_DAYS = 90  # filled sign-ins started within this many days
LOOKUPS = 5_000  # isolated look-ups per kind
MEMBER_CLIENTS = 6  # signed-in browsers, one member each
MEMBER_PASSWORD = "bench-member-2026"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


class RotatingSeries(Series):
    """A series whose requests come from several clients in turn, one client per block."""

    def __init__(self, name: str, clients: list[FlaskClient], url: Callable[[int], str]) -> None:
        super().__init__(name, clients[0], url, [])
        self.clients = clients

    def run_block(self, start: int, count: int) -> None:
        """Make the block's requests from the next client."""
        self.client = self.clients[(start // BLOCK) % len(self.clients)]
        super().run_block(start, count)


class VisitorSeries(Series):
    """Anonymous requests, a new visitor for every block: a visitor's product page reads all
    of that visitor's events, so one visitor making every request would get slower through
    the run, while a member's page reads none of their views."""

    def __init__(self, name: str, app: Flask, url: Callable[[int], str]) -> None:
        super().__init__(name, app.test_client(), url, [])
        self.app = app

    def run_block(self, start: int, count: int) -> None:
        """Make the block's requests as a visitor who has not been here before."""
        self.client = self.app.test_client()
        super().run_block(start, count)


class CheckSkippedSeries(RotatingSeries):
    """Signed-in requests with `sign_ins.is_live` replaced by `True` while the block runs:
    the same page without the check's hashing and query."""

    def run_block(self, start: int, count: int) -> None:
        """Make the block's requests with the check stubbed out."""
        with check_skipped():
            super().run_block(start, count)


@contextmanager
def check_skipped() -> Iterator[None]:
    """Make every sign-in count as live, without looking it up."""
    from shop.accounts import sign_ins

    original = sign_ins.is_live
    sign_ins.is_live = lambda _session, _user_id, _key, **_kw: True
    try:
        yield
    finally:
        sign_ins.is_live = original


@dataclass
class Population:
    """The filled `sign_ins` rows, with the keys the bench made for them."""

    members: int
    rows: int
    ended: int
    live_keys: list[tuple[int, str]] = field(repr=False)  # (user_id, key)
    ended_keys: list[tuple[int, str]] = field(repr=False)


@dataclass
class Lookups:
    """Isolated timings of the check and of the loader's own query, in seconds."""

    live: list[float] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)
    unknown: list[float] = field(default_factory=list)
    loader: list[float] = field(default_factory=list)


@dataclass
class SignInResult:
    """Page latencies, isolated look-ups and the query plans."""

    population: Population
    signed_in: LatencyStats
    check_skipped: LatencyStats
    anonymous: LatencyStats
    bare: LatencyStats
    live: LatencyStats
    ended: LatencyStats
    unknown: LatencyStats
    loader: LatencyStats
    plans: list[tuple[str, str, list[str]]]  # (what, SQL, plan lines)
    clients: int


def fill_sign_ins(app: Flask, now: datetime, rng: random.Random) -> Population:
    """Top the accounts up to MEMBERS and give each a few sign-ins, most of them ended."""
    from shop.accounts.models import SignIn, User
    from shop.db import db

    with app.app_context(), db.transaction() as session:
        ids = list(session.scalars(select(User.id).order_by(User.id)))
        ids = top_up_accounts(session, ids, MEMBERS, now)[:MEMBERS]
        rows: list[dict[str, object]] = []
        live: list[tuple[int, str]] = []
        ended: list[tuple[int, str]] = []
        for user_id in ids:
            for n in range(rng.randint(*SIGN_INS_PER_MEMBER)):
                key = f"bench-{user_id}-{n}-{rng.getrandbits(64):016x}"
                started = now - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86_400))
                end = None
                # Live ones were used within the idle limit (up to 29 days ago).
                seen = max(started, now - timedelta(days=rng.uniform(0, 29)))
                if rng.random() < ENDED_SHARE:
                    end = started + (now - started) * rng.random()
                    ended.append((user_id, key))
                else:
                    live.append((user_id, key))
                rows.append(
                    {
                        "user_id": user_id,
                        "key_hash": hashlib.sha256(key.encode()).hexdigest(),
                        "browser": rng.choice(BROWSERS),
                        "created_at": started,
                        "last_seen_at": seen,
                        "ended_at": end,
                    }
                )
        session.execute(insert(SignIn), rows)
        total = session.scalar(select(func.count(SignIn.id))) or 0
    return Population(len(ids), total, len(ended), live, ended)


def query_plans(app: Flask, population: Population) -> list[tuple[str, str, list[str]]]:
    """SQLite's plan for the check's query and for the user loader's query."""
    from shop.accounts import sign_ins
    from shop.accounts.models import User
    from shop.db import db

    user_id, key = population.live_keys[0]

    def check() -> None:
        if not sign_ins.is_live(db.session, user_id, key):
            raise RuntimeError("a live sign-in of the fill was not found")

    def load() -> None:
        db.session.expunge_all()
        db.session.get(User, user_id)

    return [
        query_plan(app, "sign-in check `sign_ins.is_live`", check),
        query_plan(app, "user loader `session.get(User, id)`", load),
    ]


def isolated_lookups(app: Flask, population: Population, rng: random.Random) -> Lookups:
    """Time the check for live, ended and unknown keys, and the loader's query, interleaved."""
    from shop.accounts import sign_ins
    from shop.accounts.models import User
    from shop.db import db

    live = [rng.choice(population.live_keys) for _ in range(LOOKUPS)]
    ended = [rng.choice(population.ended_keys) for _ in range(LOOKUPS)]
    unknown = [(uid, f"unknown-{rng.getrandbits(128):032x}") for uid, _ in live]
    result = Lookups()
    perf = time.perf_counter
    with app.app_context():
        session = db.session
        for start in range(-BLOCK, LOOKUPS, BLOCK):  # the first block warms up, unmeasured
            stop = max(start, 0) + BLOCK
            # In a request the check runs in the read transaction the loader's query opened:
            # open it untimed, so that no timed call pays for BEGIN.
            session.execute(select(1))
            for samples, keys, expected in (
                (result.live, live, True),
                (result.ended, ended, False),
                (result.unknown, unknown, False),
            ):
                for user_id, key in keys[max(start, 0) : stop]:
                    began = perf()
                    found = sign_ins.is_live(session, user_id, key)
                    elapsed = perf() - began
                    if found is not expected:
                        raise RuntimeError(f"is_live({user_id}, ...) gave {found}")
                    if start >= 0:
                        samples.append(elapsed)
            for user_id, _key in live[max(start, 0) : stop]:
                session.expunge_all()  # as in a request: the identity map starts empty
                began = perf()
                user = session.get(User, user_id)
                elapsed = perf() - began
                if user is None:
                    raise RuntimeError(f"user {user_id} not found")
                if start >= 0:
                    result.loader.append(elapsed)
            session.rollback()  # a request's read transaction lasts one request
    return result


def _members(app: Flask, count: int) -> list[FlaskClient]:
    """Clients signed in through the login form as `count` of the members the fill added
    (no order history, so their product page has no bought products to leave out)."""
    from werkzeug.security import generate_password_hash

    from shop.accounts.models import User
    from shop.db import db

    password_hash = generate_password_hash(MEMBER_PASSWORD)
    with app.app_context(), db.transaction() as session:
        members = list(
            session.scalars(
                select(User).where(User.email.like("new-%@bench.example")).order_by(User.id)
            ).all()[:count]
        )
        for member in members:
            member.password_hash = password_hash
        emails = [str(member.email) for member in members]
    if len(emails) < count:
        raise RuntimeError(f"only {len(emails)} members without history to sign in as")
    return [signed_in(app, email, MEMBER_PASSWORD) for email in emails]


def run(requests: int = REQUESTS) -> SignInResult:
    """Fill `sign_ins`, time the pages in interleaved blocks, then the check on its own."""
    from shop.db import utcnow
    from shop.tracking.recorder import event_writer

    source = ensure_imported_database()
    with tempfile.TemporaryDirectory(prefix="shop-bench-sign-in-") as tmp:
        root = Path(tmp)
        database = copy_database(source, root)
        app = shop_app(database, root / "instance", tracking=True)
        rng = random.Random(SEED)
        log(f"sign-in: filling sign_ins for {MEMBERS:,} members")
        population = fill_sign_ins(app, utcnow(), rng)
        log(f"sign-in: {population.rows:,} sign-ins, {population.ended:,} of them ended")
        members = _members(app, MEMBER_CLIENTS)
        ids = popular_product_ids(app)
        product_ids = [rng.choice(ids) for _ in range(requests)]

        def product_url(i: int) -> str:
            """The i-th product page of every series."""
            return f"/products/{product_ids[i % requests]}"

        series = [
            Series("bare", bare_app().test_client(), lambda _i: "/", []),
            VisitorSeries("anonymous", app, product_url),
            RotatingSeries("signed in", members, product_url),
            CheckSkippedSeries("signed in, check skipped", members, product_url),
        ]
        log(f"sign-in: warm-up ({WARMUP} requests per series)")
        warm_up(series)
        gc.collect()
        log(f"sign-in: product page, {requests} requests per series, {len(members)} members")
        interleave(series, requests, abba=True)
        bare, anonymous, member, skipped = (LatencyStats.of(s.samples) for s in series)
        for client in members:  # the check really ran: every member is still signed in
            if client.get("/account").status_code != 200:
                raise RuntimeError("a member was signed out during the benchmark")
        gc.collect()
        log(f"sign-in: the check alone, {LOOKUPS:,} look-ups per kind")
        lookups = isolated_lookups(app, population, rng)
        plans = query_plans(app, population)
        event_writer(app).flush()  # before the database's directory goes
        return SignInResult(
            population=population,
            signed_in=member,
            check_skipped=skipped,
            anonymous=anonymous,
            bare=bare,
            live=LatencyStats.of(lookups.live),
            ended=LatencyStats.of(lookups.ended),
            unknown=LatencyStats.of(lookups.unknown),
            loader=LatencyStats.of(lookups.loader),
            plans=plans,
            clients=len(members),
        )


def _page_row(name: str, stats: LatencyStats, result: SignInResult) -> str:
    rate = 1000 / stats.mean_ms
    cells = [
        name,
        f"{stats.n:,}",
        f"{stats.p50_ms:.2f}",
        f"{stats.p99_ms:.2f}",
        f"{stats.mean_ms:.2f}",
        f"{rate:,.0f}",
        f"{result.anonymous.mean_ms / stats.mean_ms:.3f}",
        f"{stats.mean_ms / result.bare.mean_ms:.1f}x",
    ]
    return table_row(cells)


def _lookup_row(name: str, stats: LatencyStats, result: SignInResult) -> str:
    cells = [
        name,
        f"{stats.n:,}",
        f"{stats.p50_ms * 1000:.0f}",
        f"{stats.p99_ms * 1000:.0f}",
        f"{stats.mean_ms * 1000:.0f}",
        f"{stats.mean_ms / result.loader.mean_ms:.2f}",
        f"{stats.mean_ms / result.signed_in.mean_ms:.1%}",
    ]
    return table_row(cells)


def report(result: SignInResult) -> str:
    """The markdown section for the report."""
    pop = result.population
    page_gap = result.signed_in.mean_ms - result.check_skipped.mean_ms
    p50_gap = result.signed_in.p50_ms - result.check_skipped.p50_ms
    lines = [
        "## Sign-in check on every signed-in request",
        "",
        f"`sign_ins` filled for {pop.members:,} members with {SIGN_INS_PER_MEMBER[0]} to "
        f"{SIGN_INS_PER_MEMBER[1]} sign-ins each over {HISTORY_DAYS} days: {pop.rows:,} rows, "
        f"{pop.ended:,} ended. Product page `/products/<id>` on one app, the same product ids "
        f"for every series; {result.clients} signed-in clients (members of the fill with "
        "a password and no order history) taking turns by block, and a new anonymous "
        "visitor for every block (a visitor's page reads all of that visitor's events); "
        "the check skipped means `sign_ins.is_live` replaced by `True` for that series' "
        "blocks. Series "
        f"interleaved in blocks of {BLOCK} (order reversed every other block) after "
        f"{WARMUP} warm-up requests each.",
        "",
        "| request | requests | p50 ms | p99 ms | mean ms | req/s | throughput / anonymous "
        "| mean / bare |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _page_row("product page, signed in", result.signed_in, result),
        _page_row("product page, signed in, check skipped", result.check_skipped, result),
        _page_row("product page, anonymous", result.anonymous, result),
        _page_row("bare Flask endpoint", result.bare, result),
        "",
        "Throughput (mean) signed in / anonymous: "
        f"{result.anonymous.mean_ms / result.signed_in.mean_ms:.3f}, signed in / check "
        f"skipped: {result.check_skipped.mean_ms / result.signed_in.mean_ms:.3f} "
        f"({page_gap * 1000:+.0f} us a request); at the median: "
        f"{result.anonymous.p50_ms / result.signed_in.p50_ms:.3f} and "
        f"{result.check_skipped.p50_ms / result.signed_in.p50_ms:.3f} ({p50_gap * 1000:+.0f} us).",
        "",
        f"The check alone: `sign_ins.is_live(session, user_id, key)` in one app context, "
        f"{LOOKUPS:,} look-ups per kind with keys drawn from the fill, interleaved in blocks "
        f"of {BLOCK} with the user loader's own query (`session.get(User, id)` on an empty "
        "identity map); each block runs in one read transaction, opened untimed (in a request "
        "the loader's query opens it) and rolled back after the block.",
        "",
        "| look-up | calls | p50 us | p99 us | mean us | mean / loader | of a signed-in page |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _lookup_row("check, live sign-in", result.live, result),
        _lookup_row("check, ended sign-in", result.ended, result),
        _lookup_row("check, unknown key", result.unknown, result),
        _lookup_row("user loader query", result.loader, result),
        "",
        "Query plans (SQLite `EXPLAIN QUERY PLAN`):",
        "",
    ]
    for what, statement, plan in result.plans:
        lines += [f"- {what}: `{statement}`"] + [f"  - `{step}`" for step in plan]
    return "\n".join(lines)


def main() -> None:
    """Run this benchmark alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--requests", type=int, default=REQUESTS, help="measured page requests per series"
    )
    args = parser.parse_args()
    if args.requests < BLOCK or args.requests % BLOCK:
        parser.error(f"--requests must be a positive multiple of {BLOCK}")
    print(report(run(args.requests)))


if __name__ == "__main__":
    main()
