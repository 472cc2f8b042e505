"""Bench set-up shared by the loyalty benches: accounts made opted-in members of a tier."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session


def top_up_accounts(session: Session, ids: list[int], count: int, now: datetime) -> list[int]:
    """`ids` plus new accounts with no history (new-N@bench.example) up to `count`."""
    from shop.accounts.models import User

    extra = count - len(ids)
    if extra <= 0:
        return ids
    session.execute(
        insert(User),
        [
            {"email": f"new-{n}@bench.example", "name": f"New {n}", "created_at": now}
            for n in range(extra)
        ],
    )
    return ids + list(
        session.scalars(select(User.id).where(User.email.like("new-%@bench.example")))
    )


def enrol_members(
    session: Session, ids: list[int], tier_id: int, topic: str, now: datetime, prefix: str
) -> None:
    """Make these accounts active members of a tier (numbers `prefix` + id) with `topic`
    confirmed."""
    from loyalty.models import CommunicationPreference, Membership

    session.execute(
        insert(Membership),
        [
            {
                "user_id": i,
                "number": f"{prefix}{i:08d}",
                "tier_id": tier_id,
                "status": "active",
                "points_balance": 0,
                "terms_version": "bench",
                "joined_at": now,
                "tier_since": now,
            }
            for i in ids
        ],
    )
    session.execute(
        insert(CommunicationPreference),
        [
            {"user_id": i, "topic": topic, "status": "on", "confirmed_at": now, "updated_at": now}
            for i in ids
        ],
    )
