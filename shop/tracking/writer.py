"""A process-wide batch writer: requests hand their rows over (clickstream events,
recommendation impressions), and one background thread inserts them in batches, so a page
view never waits for a database write."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert

from shop.tracking.models import Event

log = logging.getLogger(__name__)

EventRow = dict[str, Any]
AfterInsert = Callable[[Connection, list[EventRow]], object]


class EventWriter:
    """Buffers event rows and inserts them in one statement per batch.

    With `background=False` every `submit` writes at once (tests and the CLI use this).
    A failed insert keeps its rows for the next attempt, up to `max_pending` rows.
    `unsettled` also shows rows stored in the last `recent_s` seconds (see there).
    `after_insert` runs with each stored batch in a transaction of its own; if it fails, it
    is logged and the batch stays stored.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        table: Table | None = None,
        background: bool = True,
        batch_size: int = 200,
        interval_s: float = 0.5,
        max_pending: int = 50_000,
        recent_s: float = 2.0,
        after_insert: AfterInsert | None = None,
    ) -> None:
        self._engine = engine
        self._table = table if table is not None else Event.__table__
        self._background = background
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._max_pending = max_pending
        self._after_insert = after_insert
        self._pending: list[EventRow] = []
        # The batch being inserted (shown by `pending` and `unsettled`), and batches stored
        # in the last `recent_s` (shown by `unsettled`), so a reader whose snapshot of the
        # table predates the commit (SQLite keeps one per transaction) never finds a row in
        # neither place.
        self._in_flight: list[EventRow] = []
        self._recent_s = recent_s
        self._recent: deque[tuple[float, list[EventRow]]] = deque()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    @property
    def table_name(self) -> str:
        """The name of the table this writer stores rows in."""
        return self._table.name

    @property
    def background(self) -> bool:
        """True when rows are written by the background thread rather than at once."""
        return self._background

    def submit(self, rows: Sequence[EventRow]) -> None:
        """Queue rows for writing (or write them now when not in background mode)."""
        if not rows:
            return
        with self._lock:
            self._pending.extend(rows)
            overflow = len(self._pending) - self._max_pending
            if overflow > 0:
                del self._pending[:overflow]
                log.error("event buffer full: dropped the %d oldest events", overflow)
            full = len(self._pending) >= self._batch_size
        if not self._background or self._stopped:
            self.flush()
            return
        self._ensure_thread()
        if full:
            self._wake.set()

    def pending(self, keep: Callable[[EventRow], bool]) -> list[EventRow]:
        """Return copies of the rows that `keep` accepts and that are not stored yet
        (queued, or in the batch being inserted)."""
        with self._lock:
            return [dict(row) for row in chain(self._in_flight, self._pending) if keep(row)]

    def unsettled(self, keep: Callable[[EventRow], bool]) -> list[EventRow]:
        """Return copies of the rows `keep` accepts that a reader of the table may miss:
        those not stored yet and those stored in the last `recent_s` seconds.

        A reader that asks here first and then reads the table sees every row at least
        once; a row found in both is the same event (`created_at` tells them apart).
        """
        with self._lock:
            horizon = time.monotonic() - self._recent_s
            while self._recent and self._recent[0][0] < horizon:
                self._recent.popleft()
            stored = (row for _, batch in self._recent for row in batch)
            rows = chain(stored, self._in_flight, self._pending)
            return [dict(row) for row in rows if keep(row)]

    def adopt(self, visitor_id: str, user_id: int) -> int:
        """Give a visitor's queued anonymous rows to the account they signed in to.

        Never waits for a batch being written: on SQLite the signing-in request may hold the
        write lock that batch needs. Rows in that batch are linked once stored, by the
        follow-up (`after_insert`) of the batch that stores the sign-in event.
        """
        with self._lock:
            mine = [
                row
                for row in self._pending
                if row.get("visitor_id") == visitor_id and row.get("user_id") is None
            ]
            for row in mine:
                row["user_id"] = user_id
            return len(mine)

    def flush(self) -> int:
        """Write everything queued now; return how many rows were stored."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._in_flight = batch
            if not batch:
                return 0
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(self._table), batch)
            except Exception:
                log.exception(
                    "could not store %d %s rows; will retry", len(batch), self._table.name
                )
                with self._lock:
                    self._pending[:0] = batch
                    self._in_flight = []
                return 0
            with self._lock:
                self._in_flight = []
                self._recent.append((time.monotonic(), batch))
            if self._after_insert is not None:
                self._run_after_insert(batch)
            return len(batch)

    def _run_after_insert(self, batch: list[EventRow]) -> None:
        assert self._after_insert is not None
        try:
            with self._engine.begin() as conn:
                self._after_insert(conn, batch)
        except Exception:
            log.exception("follow-up of %d stored %s rows failed", len(batch), self._table.name)

    def close(self) -> None:
        """Stop the background thread and write what is left."""
        self._stopped = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="shop-event-writer", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self.flush()
