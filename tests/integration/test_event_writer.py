"""The background event writer: batching, visibility of queued rows, retry after failure."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.db import db, utcnow
from shop.tracking.models import Event
from shop.tracking.writer import EventWriter


def _row(visitor: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": "product_view",
        "visitor_id": visitor,
        "user_id": None,
        "product_id": None,
        "category_id": None,
        "order_id": None,
        "query": None,
        "result_count": None,
        "quantity": None,
        "created_at": utcnow(),
    }
    row.update(fields)
    return row


def _count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Event)) or 0


@pytest.fixture
def writer(app: Flask) -> EventWriter:
    assert db.engine is not None
    # A long interval, so only a full batch or close() triggers a write.
    return EventWriter(db.engine, batch_size=3, interval_s=60)


def test_queued_rows_are_visible_until_written_and_close_writes_the_rest(
    writer: EventWriter, session: Session
) -> None:
    writer.submit([_row("v1"), _row("v2")])
    assert [r["visitor_id"] for r in writer.pending(lambda r: r["visitor_id"] == "v1")] == ["v1"]
    assert _count(session) == 0
    writer.close()
    assert _count(session) == 2
    assert writer.pending(lambda _r: True) == []


def test_a_full_batch_wakes_the_background_thread(writer: EventWriter, session: Session) -> None:
    writer.submit([_row("v1"), _row("v2"), _row("v3")])
    for _ in range(200):
        if not writer.pending(lambda _r: True):
            break
        time.sleep(0.01)
    writer.close()
    assert _count(session) == 3


def test_a_failed_write_keeps_the_rows_for_the_next_attempt(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.engine is not None
    sync = EventWriter(db.engine, background=False)

    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("shop.tracking.writer.insert", broken)
    sync.submit([_row("v1")])
    assert _count(session) == 0
    assert len(sync.pending(lambda _r: True)) == 1
    monkeypatch.undo()
    sync.submit([_row("v2")])
    assert _count(session) == 2


def test_the_buffer_is_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    assert db.engine is not None
    bounded = EventWriter(db.engine, background=False, max_pending=2)
    monkeypatch.setattr("shop.tracking.writer.insert", lambda *_a: 1 / 0)
    bounded.submit([_row("a"), _row("b"), _row("c")])
    assert [r["visitor_id"] for r in bounded.pending(lambda _r: True)] == ["b", "c"]


def test_signing_in_links_the_visitors_events_still_queued(
    writer: EventWriter, session: Session
) -> None:
    from shop.accounts.services import adopt_visitor
    from tests import factories

    ann = factories.user(session)
    session.commit()
    writer.submit([_row("v1")])  # stored a moment ago
    writer.flush()
    writer.submit([_row("v1"), _row("v2")])  # still queued when Ann signs in
    adopt_visitor(session, ann, "v1", writer)
    session.commit()
    writer.close()
    session.rollback()
    owners = session.execute(select(Event.visitor_id, Event.user_id).order_by(Event.id)).all()
    assert owners == [("v1", ann.id), ("v1", ann.id), ("v2", None)]


def _owners(session: Session) -> list[tuple[str, str, int | None]]:
    session.rollback()
    return [
        tuple(row)
        for row in session.execute(
            select(Event.kind, Event.visitor_id, Event.user_id).order_by(Event.id)
        )
    ]


@pytest.fixture
def two_processes(app: Flask) -> tuple[EventWriter, EventWriter]:
    """The event writers of two server processes, linking late rows as the app's does."""
    from shop.tracking.services import link_late_events

    assert db.engine is not None
    return tuple(  # type: ignore[return-value]
        EventWriter(db.engine, batch_size=50, interval_s=60, after_insert=link_late_events)
        for _ in range(2)
    )


def _views_then_sign_in(
    session: Session, first: EventWriter, second: EventWriter, views: list[str]
) -> int:
    """Views queued in process 1, then Ann signs in through process 2 (her sign-in event
    queued there too); returns Ann's id."""
    from shop.accounts.services import adopt_visitor
    from tests import factories

    ann = factories.user(session)
    session.commit()
    first.submit([_row(visitor) for visitor in views])
    adopt_visitor(session, ann, "v1", second)
    session.commit()
    second.submit([_row("v1", kind="login", user_id=ann.id)])
    return ann.id


def test_a_view_queued_in_another_process_is_linked_when_it_is_stored_after_the_sign_in(
    two_processes: tuple[EventWriter, EventWriter], session: Session
) -> None:
    first, second = two_processes
    ann = _views_then_sign_in(session, first, second, ["v1", "v2"])
    second.flush()
    first.flush()
    assert _owners(session) == [
        ("login", "v1", ann),
        ("product_view", "v1", ann),
        ("product_view", "v2", None),
    ]


def test_a_sign_in_stored_after_the_other_process_view_links_it(
    two_processes: tuple[EventWriter, EventWriter], session: Session
) -> None:
    first, second = two_processes
    ann = _views_then_sign_in(session, first, second, ["v1"])
    first.flush()  # the view is stored before the sign-in event
    assert _owners(session) == [("product_view", "v1", None)]
    second.flush()
    assert _owners(session) == [("product_view", "v1", ann), ("login", "v1", ann)]


def test_late_rows_after_the_sign_in_or_of_an_account_without_personalization_stay_anonymous(
    two_processes: tuple[EventWriter, EventWriter], session: Session
) -> None:
    from tests import factories

    first, second = two_processes
    ann = factories.user(session, "ann@example.com")
    bob = factories.user(session, "bob@example.com")
    bob.tracking_enabled = False
    session.commit()
    signed_in = utcnow()
    second.submit(
        [
            _row("v1", kind="login", user_id=ann.id, created_at=signed_in),
            _row("v2", kind="login", user_id=bob.id, created_at=signed_in),
        ]
    )
    second.flush()
    later = signed_in + timedelta(seconds=5)  # after Ann signed out again
    first.submit([_row("v1", created_at=later), _row("v2", created_at=signed_in)])
    first.flush()
    assert _owners(session) == [
        ("login", "v1", ann.id),
        ("login", "v2", bob.id),
        ("product_view", "v1", None),
        ("product_view", "v2", None),
    ]


def test_a_failed_link_keeps_the_stored_batch(
    app: Flask, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    assert db.engine is not None

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    writer = EventWriter(db.engine, background=False, after_insert=broken)
    writer.submit([_row("v1")])
    assert _owners(session) == [("product_view", "v1", None)]
    assert writer.pending(lambda _r: True) == []
    assert "follow-up of 1 stored events rows failed" in caplog.text


def test_the_apps_writer_links_late_rows(app: Flask, session: Session) -> None:
    from shop.tracking.recorder import event_writer
    from tests import factories

    ann = factories.user(session)
    session.commit()
    viewed = utcnow()
    writer = event_writer(app)
    writer.submit([_row("v1", kind="login", user_id=ann.id, created_at=viewed)])
    writer.submit([_row("v1", created_at=viewed - timedelta(seconds=1))])
    writer.flush()
    assert _owners(session) == [("login", "v1", ann.id), ("product_view", "v1", ann.id)]


def test_adopting_never_waits_for_a_batch_being_written(
    writer: EventWriter, session: Session
) -> None:
    from tests import factories

    ann = factories.user(session).id
    session.commit()
    writer.submit([_row("v1")])
    adopted: list[int] = []
    # As while the writer thread stores a batch (and, on SQLite, waits for the write lock
    # that the signing-in request holds).
    with writer._write_lock:
        signing_in = threading.Thread(target=lambda: adopted.append(writer.adopt("v1", ann)))
        signing_in.start()
        signing_in.join(timeout=2)
        assert not signing_in.is_alive()
    assert adopted == [1]
    assert [r["user_id"] for r in writer.pending(lambda _r: True)] == [ann]
    writer.close()
    assert _owners(session) == [("product_view", "v1", ann)]


def test_a_batch_being_stored_and_one_stored_a_moment_ago_stay_visible(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import insert as real_insert

    assert db.engine is not None
    writer = EventWriter(db.engine, background=False, recent_s=60)
    seen_while_storing: list[list[str]] = []

    def watched(table: Any) -> Any:
        # The batch has left the queue and is not committed: a reader must still find it.
        seen_while_storing.append([r["visitor_id"] for r in writer.pending(lambda _r: True)])
        return real_insert(table)

    monkeypatch.setattr("shop.tracking.writer.insert", watched)
    writer.submit([_row("v1")])
    assert seen_while_storing == [["v1"]]
    assert _count(session) == 1
    assert writer.pending(lambda _r: True) == []
    # A reader whose snapshot of the table predates the commit still finds it here.
    assert [r["visitor_id"] for r in writer.unsettled(lambda _r: True)] == ["v1"]


def test_rows_stored_longer_ago_than_recent_s_are_only_in_the_table(
    app: Flask, session: Session
) -> None:
    assert db.engine is not None
    writer = EventWriter(db.engine, background=False, recent_s=0)
    writer.submit([_row("v1")])
    time.sleep(0.01)
    assert writer.unsettled(lambda _r: True) == []
    assert _count(session) == 1
