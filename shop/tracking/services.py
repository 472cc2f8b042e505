"""Linking a visitor's anonymous events to an account."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from shop.tracking.models import Event


def link_visitor_events(session: Session, visitor_id: str, user_id: int) -> int:
    """Attach a visitor's earlier anonymous events to an account; return how many moved."""
    result = session.execute(
        update(Event)
        .where(Event.visitor_id == visitor_id, Event.user_id.is_(None))
        .values(user_id=user_id)
    )
    return int(result.rowcount or 0)
