"""Running actions in several threads at once, each in a transaction of its own (the
races only exist on PostgreSQL; SQLite's write transactions are serial)."""

from __future__ import annotations

import threading
import time
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


def while_locked(
    app: Flask,
    hold: Callable[[Session], object],
    then: Callable[[Session], str],
    *,
    after: Callable[[Session], object] | None = None,
) -> str:
    """Run `hold` in a transaction and keep it open for a moment while `then` starts in
    another thread, then run `after` (if given) in the same first transaction; return what
    `then` returned once both have committed. An exception in either thread is re-raised."""
    held = threading.Event()
    outcome: list[str] = []
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with app.app_context(), db.transaction() as tx:
                hold(tx)
                held.set()
                time.sleep(0.5)  # `then` starts and reaches the locked rows meanwhile
                if after is not None:
                    after(tx)
        except BaseException as exc:
            failures.append(exc)
        finally:
            held.set()

    def second() -> None:
        held.wait(timeout=30)
        try:
            with app.app_context(), db.transaction() as tx:
                outcome.append(then(tx))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if failures:
        raise failures[0]
    return outcome[0]
