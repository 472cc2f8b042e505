"""The early-access benefit: members whose tier has it buy new products before launch.

The catalogue does not know about tiers; `init_app` registers `member_early_access` as its
answer to how early a user may buy (`shop.catalog.availability`).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import Membership, Tier
from loyalty.settings import load_settings
from shop.catalog import availability


def member_early_access(session: Session, user_id: int) -> timedelta | None:
    """How long before launches this user may buy: the programme's early-access hours for an
    active member of a tier with early access, otherwise None."""
    has_it = session.scalar(
        select(Tier.early_access)
        .join(Membership, Membership.tier_id == Tier.id)
        .where(Membership.user_id == user_id, Membership.status == "active")
    )
    if not has_it:
        return None
    return timedelta(hours=load_settings(session).early_access_hours)


def init_app(app: Flask) -> None:
    """Tell the catalogue who has early access."""
    availability.register(app, member_early_access)
