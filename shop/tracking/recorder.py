"""Request-side event recording: events are buffered during a request and written in
one insert after it, in their own transaction. A tracking failure is logged, never raised."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, g
from flask_login import current_user

from shop.db import db, utcnow
from shop.tracking.services import store_events

log = logging.getLogger(__name__)


def record(kind: str, **fields: Any) -> None:
    """Buffer an event for the current visitor, unless tracking is off for them."""
    if not g.get("tracking_on", False):
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
        "created_at": utcnow(),
    }
    event.update(fields)
    g.setdefault("pending_events", []).append(event)


def flush() -> None:
    """Write the buffered events of this request; log and drop them if the write fails."""
    events = g.pop("pending_events", None)
    if not events:
        return
    # End the request's read transaction first: an open reader stops SQLite from
    # resetting its write-ahead log, which would otherwise grow with every page view.
    db.session.close()
    try:
        with db.transaction() as session:
            store_events(session, events)
    except Exception:
        log.exception("could not store %d tracking events", len(events))


def init_app(app: Flask) -> None:
    """Flush buffered events after every request."""

    @app.after_request
    def _flush_events(response: Any) -> Any:
        if current_app.config.get("TRACKING_ENABLED", True):
            flush()
        return response
