"""Running one action in several threads at once, each in a transaction of its own (the
races only exist on PostgreSQL; SQLite's write transactions are serial)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.orm import Session

from shop.db import db

RACERS = 8


def race(
    app: Flask,
    action: Callable[[Session], object],
    refusals: tuple[type[Exception], ...] = (),
    racers: int = RACERS,
) -> list[str]:
    """Run `action` in `racers` threads at once; return "done", the message of an expected
    refusal, or "error: ..." for anything else, for each thread, sorted."""
    barrier = threading.Barrier(racers)
    results: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                with db.transaction() as tx:
                    action(tx)
                outcome = "done"
            except refusals as exc:
                outcome = str(exc)
            except Exception as exc:  # a lock timeout, deadlock or constraint would show here
                outcome = f"error: {type(exc).__name__}: {exc}"
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)
