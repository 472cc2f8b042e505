"""Console services for the programme: settings changes (audited) and tier membership counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty.models import Membership
from loyalty.settings import ProgrammeSettings, load_settings, save_settings
from loyalty.tiers import ChangedSinceOpened
from shop.console import audit


def save_programme(
    session: Session,
    actor: audit.Actor,
    new: ProgrammeSettings,
    opened: Mapping[str, Any] | None = None,
) -> bool:
    """Store new programme settings with an audit entry; False when nothing changed.

    `opened` is the settings as the form showed them: if they were saved differently since,
    raise ChangedSinceOpened and change nothing.
    """
    current = load_settings(session, for_update=opened is not None)
    if opened is not None and current.as_dict() != dict(opened):
        raise ChangedSinceOpened(
            "Another admin saved the programme settings after you opened this page, so "
            "nothing was saved. The form now shows the settings as saved: make your change "
            "again."
        )
    before, after = audit.changed(asdict(current), asdict(new))
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
