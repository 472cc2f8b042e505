"""Console services for the programme: settings changes (audited) and tier membership counts."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.models import Membership
from loyalty.settings import ProgrammeSettings, load_settings, save_settings
from shop.console import audit


def save_programme(session: Session, actor: audit.Actor, new: ProgrammeSettings) -> bool:
    """Store new programme settings with an audit entry; False when nothing changed."""
    before, after = audit.changed(asdict(load_settings(session)), asdict(new))
    if not after:
        return False
    save_settings(session, new)
    audit.record(session, actor, "loyalty.settings.update", "loyalty programme", before, after)
    return True


def members_per_tier(session: Session) -> dict[int, int]:
    """How many active members each tier has (one grouped query)."""
    rows = session.execute(
        select(Membership.tier_id, func.count())
        .where(Membership.status == "active")
        .group_by(Membership.tier_id)
    )
    return {int(tier_id): int(count) for tier_id, count in rows}
