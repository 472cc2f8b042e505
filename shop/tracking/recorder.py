"""Request-side event recording: events are buffered during a request and handed to the
app's event writer after it. A tracking failure is logged, never raised."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g
from flask_login import current_user

from shop.db import WRITE_OPTION, db, utcnow
from shop.tracking.services import after_events_stored
from shop.tracking.writer import EventRow, EventWriter
from shop.visitor import staff_signed_in

log = logging.getLogger(__name__)


def record(kind: str, **fields: Any) -> None:
    """Buffer an event for the current visitor, unless tracking is off for them or they
    are signed in as staff."""
    if not g.get("tracking_on", False) or staff_signed_in():
        return
    user_id = current_user.get_id() if current_user.is_authenticated else None
    event = {
        "kind": kind,
        "visitor_id": g.visitor_id,
        "user_id": int(user_id) if user_id else None,
        "product_id": None,
        "category_id": None,
        "order_id": None,
        "query": None,
        "result_count": None,
        "quantity": None,
        "rec_id": None,
        "campaign": g.get("campaign"),  # set from ?cmp= by loyalty.preference_views
        "created_at": utcnow(),
    }
    event.update(fields)
    g.setdefault("pending_events", []).append(event)


def flush() -> None:
    """Hand the buffered events of this request to the event writer."""
    hand_over(event_writer(), g.pop("pending_events", None))


def hand_over(writer: EventWriter, rows: list[EventRow] | None) -> None:
    """Give rows gathered during a request to their writer once the request is done with
    the database; a failure is logged, never raised."""
    if not rows:
        return
    if not writer.background:
        # End the request's transaction first: a writer that writes at once would wait for
        # the request's SQLite write lock, and an open reader stops SQLite from resetting
        # its write-ahead log, which would otherwise grow with every page view.
        db.session.close()
    try:
        writer.submit(rows)
    except Exception:
        log.exception("could not store %d %s rows", len(rows), writer.table_name)


def event_writer(app: Flask | None = None) -> EventWriter:
    """Return the app's event writer."""
    return (app or current_app).extensions["event_writer"]


def init_app(app: Flask) -> None:
    """Create the app's event writer and flush buffered events after every request."""
    if db.engine is None:
        raise RuntimeError("db.init_app() must run before the recorder is set up")
    app.extensions["event_writer"] = EventWriter(
        db.engine.execution_options(**{WRITE_OPTION: True}),
        background=app.config.get("TRACKING_BACKGROUND", True),
        after_insert=after_events_stored,
    )

    @app.after_request
    def _flush_events(response: Any) -> Any:
        if current_app.config.get("TRACKING_ENABLED", True):
            flush()
        return response
