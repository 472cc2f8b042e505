"""Running actions in several threads at once, each in a transaction of its own (the
races only exist on PostgreSQL; SQLite's write transactions are serial)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from flask import Flask
from sqlalchemy.orm import Session

from shop.db import db

RACERS = 8
Action = Callable[[Session], object]


def race(
    app: Flask, action: Action, refusals: tuple[type[Exception], ...] = (), racers: int = RACERS
) -> list[str]:
    """Run `action` in `racers` threads at once (see `race_all`)."""
    return race_all(app, [action] * racers, refusals)


def race_all(
    app: Flask, actions: Sequence[Action], refusals: tuple[type[Exception], ...] = ()
) -> list[str]:
    """Run each action in a thread of its own, all at once; return "done", the message of
    an expected refusal, or "error: ..." for anything else, for each thread, sorted."""
    barrier = threading.Barrier(len(actions))
    results: list[str] = []
    lock = threading.Lock()

    def run(action: Action) -> None:
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

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)
