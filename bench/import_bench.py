"""The full Online Retail import into a fresh SQLite file, timed in a child process.

The parent starts `python -m bench.import_bench --child ...` and reaps it with `os.wait4`,
so the wall time and the peak RSS (`ru_maxrss`, KiB on Linux) are the import's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    bench_config,
    dataset_path,
    log,
    migrated_database,
    sqlite_url,
    store_imported,
    verdict,
)
from shop.config import PROJECT_ROOT

TIME_TARGET_S = 60.0
RSS_TARGET_KIB = 1024 * 1024  # 1 GiB
CHILD_TIMEOUT_S = 600.0


@dataclass
class ImportResult:
    """What one import run cost and what it produced."""

    database: str
    dataset: str
    wall_s: float  # the child process from start to exit (interpreter, imports, migration)
    import_s: float  # import_online_retail() plus the commit
    migrate_s: float
    peak_rss_kib: int
    database_mib: float
    summary: dict[str, object]
    rows_skipped: int
    phases_s: dict[str, float] = field(default_factory=dict)

    @property
    def time_ok(self) -> bool:
        """True when the whole child process met the time target."""
        return self.wall_s < TIME_TARGET_S

    @property
    def rss_ok(self) -> bool:
        """True when the child's peak RSS met the memory target."""
        return self.peak_rss_kib < RSS_TARGET_KIB


class ProgressPrinter:
    """Print the importer's progress now and then, and time each phase.

    A phase lasts from its first progress report to its last; the gaps between phases
    (planning, id look-ups, the commit) are counted apart.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phase: str | None = None
        self.phase_started = self.last_report = self.started
        self.next_report = 0.0
        self.phases: dict[str, float] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        """Record a progress report from the importer."""
        now = time.perf_counter()
        if phase != self.phase:
            self.finish()
            self.phase, self.phase_started, self.next_report = phase, now, 0.0
        self.last_report = now
        fraction = done / total if total else 1.0
        if fraction >= self.next_report:
            print(
                f"  import {phase:<10} {fraction:6.1%}  ({now - self.started:5.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            self.next_report = fraction + 0.25

    def finish(self) -> None:
        """Close the current phase at its last progress report."""
        if self.phase is not None:
            spent = self.last_report - self.phase_started
            self.phases[self.phase] = self.phases.get(self.phase, 0.0) + spent
            self.phase = None


def child_main(database: Path, result_path: Path) -> None:
    """In the child: migrate a fresh file, import the dataset, commit and write the figures."""
    from shop import create_app
    from shop.db import db
    from shop.importer.online_retail import import_online_retail

    started = time.perf_counter()
    migrated_database(database.parent, database.name)
    migrate_s = time.perf_counter() - started
    app = create_app(bench_config(sqlite_url(database), database.parent / "instance"))
    data = dataset_path(app.config["SHOP_DATA_DIR"])
    progress = ProgressPrinter()
    with app.app_context():
        started = time.perf_counter()
        with db.transaction() as session:
            summary = import_online_retail(session, data, progress=progress)
        progress.finish()
        import_s = time.perf_counter() - started
        in_phases = sum(progress.phases.values())
        progress.phases["between phases (planning, id look-ups, commit)"] = import_s - in_phases
    db.dispose()
    payload = {
        "dataset": str(data),
        "import_s": import_s,
        "migrate_s": migrate_s,
        "summary": summary.as_dict(),
        "rows_skipped": summary.rows_skipped,
        "phases_s": progress.phases,
    }
    result_path.write_text(json.dumps(payload))


def run_import_child(directory: Path) -> ImportResult:
    """Import into a fresh file in directory, in a child process; return its figures."""
    database = directory / "shop.sqlite3"
    result_path = directory / "import-result.json"
    command = [
        sys.executable,
        "-m",
        "bench.import_bench",
        "--child",
        "--database",
        str(database),
        "--result",
        str(result_path),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=PROJECT_ROOT)
    watchdog = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        # wait4 gives this child's own resource usage; ru_maxrss is its peak RSS in KiB.
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    wall_s = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the import child failed with exit code {proc.returncode}")
    payload = json.loads(result_path.read_text())
    return ImportResult(
        database=str(database),
        wall_s=wall_s,
        peak_rss_kib=usage.ru_maxrss,
        database_mib=database.stat().st_size / 1024 / 1024,
        **payload,
    )


def run() -> ImportResult:
    """Run the import benchmark and leave its database in the cache for the page benchmarks."""
    log(f"import: the full Online Retail import from {dataset_path()} (child process)")
    with tempfile.TemporaryDirectory(prefix="shop-bench-") as tmp:
        result = run_import_child(Path(tmp))
        cached = store_imported(Path(result.database))
    result.database = str(cached)
    log(
        f"import: {result.wall_s:.1f} s wall ({result.import_s:.1f} s importing), "
        f"peak RSS {result.peak_rss_kib / 1024:.0f} MiB"
    )
    return result


def report(result: ImportResult) -> str:
    """Return the import section of the markdown report."""
    s = result.summary

    lines = [
        "## Import (Online Retail, full file, fresh SQLite)",
        "",
        "| measure | value | target | result |",
        "|---|---:|---:|---|",
        f"| wall time, whole child process | {result.wall_s:.1f} s | < {TIME_TARGET_S:.0f} s "
        f"| {verdict(result.time_ok)} |",
        f"| of which `import_online_retail` + commit | {result.import_s:.1f} s | | |",
        f"| of which migrations | {result.migrate_s:.1f} s | | |",
        f"| peak RSS (ru_maxrss) | {result.peak_rss_kib / 1024:.0f} MiB | < 1024 MiB "
        f"| {verdict(result.rss_ok)} |",
        f"| database file | {result.database_mib:.0f} MiB | | |",
        "",
        "| rows | count |",
        "|---|---:|",
        f"| read | {s['rows_read']:,} |",
        f"| imported (order lines) | {s['rows_imported']:,} |",
        f"| skipped | {result.rows_skipped:,} |",
    ]
    skipped = s.get("skipped") or {}
    assert isinstance(skipped, dict)
    lines += [f"| &nbsp;&nbsp;{reason} | {n:,} |" for reason, n in skipped.items()]
    lines += [
        f"| {name} created | {s[name]:,} |"
        for name in ("categories", "products", "customers", "orders", "returns", "lines", "events")
        if name in s
    ]
    lines += ["", "| import phase | seconds |", "|---|---:|"]
    lines += [f"| {phase} | {secs:.1f} |" for phase, secs in result.phases_s.items()]
    return "\n".join(lines)


def main() -> None:
    """Run as the child (`--child`) or run the import benchmark alone and print its report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true", help="internal: be the import child")
    parser.add_argument("--database", type=Path, help="with --child: the SQLite file to create")
    parser.add_argument("--result", type=Path, help="with --child: where to write the figures")
    args = parser.parse_args()
    if args.child:
        if args.database is None or args.result is None:
            parser.error("--child needs --database and --result")
        child_main(args.database, args.result)
        return
    print(report(run()))


if __name__ == "__main__":
    main()
