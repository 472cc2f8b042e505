"""Shared benchmark helpers: statistics, timers, machine facts and the imported database."""

from __future__ import annotations

import hashlib
import math
import os
import platform
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from shop.config import PROJECT_ROOT, TestConfig

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

DATASET_RELATIVE = Path("online-retail") / "online_retail.csv.gz"
CACHE_ROOT = Path(tempfile.gettempdir()) / "shop-bench"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
# Files whose content decides what an import produces; a change invalidates the cached copy.
IMPORT_INPUTS = ("migrations/versions", "shop/importer", "shop/catalog/categories.py")


def log(message: str) -> None:
    """Print a progress line to stderr at once (the report itself goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the pct-th percentile (0-100) of values, interpolating linearly between ranks."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one series of request latencies, in milliseconds."""

    n: int
    mean_ms: float
    p50_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> LatencyStats:
        """Summarise latencies given in seconds."""
        ms = [s * 1000 for s in seconds]
        return cls(
            n=len(ms),
            mean_ms=sum(ms) / len(ms),
            p50_ms=percentile(ms, 50),
            p99_ms=percentile(ms, 99),
            min_ms=min(ms),
            max_ms=max(ms),
        )


def latency_row(name: str, stats: LatencyStats, bare: LatencyStats | None = None) -> str:
    """A markdown row: requests, p50, p99 and mean, plus p50 and mean ratios to `bare`."""
    cells = [name, f"{stats.n:,}", f"{stats.p50_ms:.2f}", f"{stats.p99_ms:.2f}"]
    cells.append(f"{stats.mean_ms:.2f}")
    if bare is not None:
        cells += [f"{stats.p50_ms / bare.p50_ms:.1f}x", f"{stats.mean_ms / bare.mean_ms:.1f}x"]
    return table_row(cells)


def table_row(cells: Sequence[str]) -> str:
    """A markdown table row of these cells."""
    return "| " + " | ".join(cells) + " |"


def verdict(ok: bool) -> str:
    """The result column of a target row."""
    return "pass" if ok else "**FAIL**"


def timed(call: Callable[[], object]) -> float:
    """Run call once and return how long it took, in seconds."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Yield a function returning the seconds elapsed since the block started."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def bench_config(database_url: str, instance_path: Path, **overrides: object) -> TestConfig:
    """Return test settings for a benchmark app on the given database."""
    config = TestConfig()
    config.DATABASE_URL = database_url
    config.INSTANCE_PATH = instance_path
    config.LOG_LEVEL = "WARNING"
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


def dataset_path(data_dir: str | Path | None = None) -> Path:
    """Return where the Online Retail file is under SHOP_DATA_DIR (the config's by default)."""
    return Path(data_dir or TestConfig().SHOP_DATA_DIR) / DATASET_RELATIVE


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def migrated_database(directory: Path, name: str = "shop.sqlite3") -> Path:
    """Create a fresh SQLite file in directory, migrated to head, and return its path."""
    from shop.migrate import upgrade

    path = directory / name
    if path.exists():
        raise FileExistsError(path)
    upgrade(sqlite_url(path))
    return path


def checkpoint(path: Path) -> None:
    """Fold a SQLite file's write-ahead log into the main file, so one file holds it all."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def import_cache_key() -> str:
    """Hash of the dataset file's identity and the code that shapes an import."""
    digest = hashlib.sha256()
    data = dataset_path()
    stat = data.stat()
    digest.update(f"{data}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for entry in IMPORT_INPUTS:
        root = PROJECT_ROOT / entry
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for file in files:
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def cached_import_path() -> Path:
    """Return where the imported database for the current code and data is cached."""
    return CACHE_ROOT / f"imported-{import_cache_key()}.sqlite3"


def store_imported(path: Path) -> Path:
    """Move a freshly imported SQLite file into the cache, dropping stale copies."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    target = cached_import_path()
    checkpoint(path)
    for stale in CACHE_ROOT.glob("imported-*.sqlite3*"):
        stale.unlink(missing_ok=True)
    shutil.copyfile(path, target.with_suffix(".tmp"))
    os.replace(target.with_suffix(".tmp"), target)
    return target


def ensure_imported_database() -> Path:
    """Return the cached imported database, running the import (in a child) if needed."""
    target = cached_import_path()
    if target.exists():
        log(f"using the cached imported database {target}")
        return target
    from bench.import_bench import run_import_child

    log("no cached imported database: running the import once")
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as tmp:
        result = run_import_child(Path(tmp))
        return store_imported(Path(result.database))


def copy_database(source: Path, directory: Path) -> Path:
    """Copy a (checkpointed) SQLite file into directory and return the copy's path."""
    target = directory / "shop.sqlite3"
    shutil.copyfile(source, target)
    return target


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_facts() -> dict[str, str]:
    """Return the facts a reader needs to compare figures: CPU, RAM, versions and date."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} cores, {_cpu_model()}",
        "memory": f"{_memory_gib():.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "flask": version("flask"),
        "sqlalchemy": version("sqlalchemy"),
    }


CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def signed_in(app: Flask, email: str, password: str) -> FlaskClient:
    """A test client signed in through the login form; RuntimeError if that fails."""
    client = app.test_client()
    match = CSRF_RE.search(client.get("/account/login").get_data(as_text=True))
    if match is None:
        raise RuntimeError("no CSRF token on the login page")
    response = client.post(
        "/account/login",
        data={"csrf_token": match.group(1), "email": email, "password": password},
    )
    if response.status_code != 302:
        raise RuntimeError(f"could not sign in as {email}")
    return client


def query_plan(app: Flask, what: str, call: Callable[[], object]) -> tuple[str, str, list[str]]:
    """Run call once in the app, capture its one SELECT and return SQLite's plan for it."""
    from shop.db import db

    captured: list[tuple[str, Any]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    with app.app_context():
        engine = db.engine
        assert engine is not None
        event.listen(engine, "before_cursor_execute", remember)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", remember)
        if len(captured) != 1:
            raise RuntimeError(f"{what}: expected one SELECT, saw {len(captured)}")
        statement, parameters = captured[0]
        raw = db.session.connection().connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        plan = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        db.session.rollback()
    return what, " ".join(statement.split()), [str(row[-1]) for row in plan]
