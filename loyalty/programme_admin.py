"""Console services for the programme: settings changes (reviewed, audited and told to
members) and tier membership counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import programme_news
from loyalty.models import Membership
from loyalty.settings import ProgrammeSettings, load_settings, save_settings
from loyalty.tier_news import count_members_to_tell
from loyalty.tiers import ChangedSinceOpened, Review
from shop.console import audit


class ProgrammeRefused(ValueError):
    """A change the programme's terms rule out; `field` is the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _members_hold_points(session: Session) -> bool:
    holding = Membership.status == "active", Membership.points_balance > 0
    return session.scalar(select(Membership.id).where(*holding).limit(1)) is not None


@dataclass(frozen=True)
class SavedProgramme:
    """Whether the settings changed and how many members were e-mailed about it; or, with
    `review`, nothing saved yet because the e-mail needs the admin's confirmation."""

    changed: bool
    members_told: int = 0
    review: Review | None = None


def save_programme(
    session: Session,
    actor: audit.Actor,
    new: ProgrammeSettings,
    opened: Mapping[str, Any] | None = None,
    confirmed: bool = False,
) -> SavedProgramme:
    """Store new programme settings with an audit entry, and tell every member what changed
    for them (`programme_news`), in the caller's transaction.

    `opened` is the settings as the form showed them: if they were saved differently since,
    raise ChangedSinceOpened and change nothing. A change that would e-mail members is only
    saved `confirmed`; before that, the result's `review` says what they would read. With
    members, a change to the terms needs a new terms version, and while members hold
    points a point cannot be made worth less: the terms promise that earned points keep
    their value (ProgrammeRefused).
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
    changes = programme_news.programme_changes(current, new)
    members = count_members_to_tell(session) if changes else 0
    if new.point_value_pence < current.point_value_pence and _members_hold_points(session):
        raise ProgrammeRefused(
            "point_value_pence",
            "The terms promise members that the points they have earned keep their value, "
            f"so a point cannot be worth less than {current.point_value_pence}p while "
            "members hold points.",
        )
    if members and new.terms_version == current.terms_version:
        raise ProgrammeRefused(
            "terms_version",
            "These changes rewrite the programme terms that members agreed to: give the "
            f"terms a new version (they are version {current.terms_version} now).",
        )
    if members and not confirmed:
        return SavedProgramme(
            changed=False, review=Review(programme_news.REVIEW_INTRO, changes, members)
        )
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
