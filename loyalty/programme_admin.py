"""Console services for the programme: settings changes (audited, and told to members) and
tier membership counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import programme_news
from loyalty.models import Membership
from loyalty.settings import ProgrammeSettings, load_settings, save_settings
from loyalty.tiers import ChangedSinceOpened
from shop.console import audit


@dataclass(frozen=True)
class SavedProgramme:
    """Whether the settings changed, and how many members were e-mailed about it."""

    changed: bool
    members_told: int = 0


def save_programme(
    session: Session,
    actor: audit.Actor,
    new: ProgrammeSettings,
    opened: Mapping[str, Any] | None = None,
) -> SavedProgramme:
    """Store new programme settings with an audit entry, and tell every member what changed
    for them (`programme_news`), in the caller's transaction.

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
        return SavedProgramme(changed=False)
    save_settings(session, new)
    audit.record(session, actor, "loyalty.settings.update", "loyalty programme", before, after)
    return SavedProgramme(
        changed=True, members_told=programme_news.tell_members(session, current, new)
    )


def members_per_tier(session: Session) -> dict[int, int]:
    """How many active members each tier has (one grouped query)."""
    rows = session.execute(
        select(Membership.tier_id, func.count())
        .where(Membership.status == "active")
        .group_by(Membership.tier_id)
    )
    return {int(tier_id): int(count) for tier_id, count in rows}
