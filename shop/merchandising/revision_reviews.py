"""What publishing the draft, discarding it or reverting to an earlier revision will change,
shown to the merchandiser before they confirm it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from shop.console.reviews import CANNOT_BE_UNDONE, ActionReview
from shop.merchandising import revisions
from shop.merchandising.changes import describe_changes
from shop.merchandising.config import MerchConfig
from shop.merchandising.editing import rule_targets
from shop.merchandising.experiments import running_rules_arms

ConfigFrom = Callable[[Mapping[str, Any]], MerchConfig]
REVERTIBLE = (
    "Nothing has happened yet. Any published revision can be made live again later from "
    "the history on the settings page."
)


def live_name(session: Session) -> str:
    """The live revision, or the defaults, in words."""
    live = revisions.live_revision_id(session)
    return f"revision {live}" if live is not None else "the default settings"


def changes_from_live(
    session: Session, config_from: ConfigFrom, after: Mapping[str, Any]
) -> list[str]:
    """What differs from the live settings to the document `after`, one line each."""
    old, new = config_from(revisions.live_data(session)), config_from(after)
    lines = describe_changes(old, new, rule_targets(session, [*old.rules, *new.rules]))
    if old.training != new.training:
        lines.append("The training settings apply from the model's next training.")
    return lines or ["Nothing differs from what is live: the lists stay as they are."]


def _arms_note(session: Session) -> list[str]:
    arms = running_rules_arms(session)
    if not arms:
        return []
    return [
        f"{len(arms)} arm(s) of running A/B tests keep serving their own revision until their "
        "experiment stops; only the live never-recommend and exclude rules reach them."
    ]


def publish_review(session: Session, config_from: ConfigFrom, note: str) -> ActionReview:
    """What publishing the draft changes; RevisionError when there is no draft."""
    draft = revisions.draft_revision(session)
    if draft is None:
        raise revisions.RevisionError("There are no draft changes to publish.")
    lines = [f"The storefront serves the draft from now on, instead of {live_name(session)}."]
    lines += changes_from_live(session, config_from, draft.data)
    lines += _arms_note(session)
    if note:
        lines.append(f"Note on the revision: {note}")
    return ActionReview("Publish the draft?", lines, "Publish", "Not now", REVERTIBLE)


def discard_review(session: Session, config_from: ConfigFrom) -> ActionReview:
    """What discarding the draft throws away; RevisionError when there is no draft."""
    draft = revisions.draft_revision(session)
    if draft is None:
        raise revisions.RevisionError("There is no draft to discard.")
    lines = [
        f"The draft's unpublished changes are thrown away; the storefront keeps serving "
        f"{live_name(session)}. The changes:"
    ]
    lines += changes_from_live(session, config_from, draft.data)
    return ActionReview("Discard the draft?", lines, "Discard the draft", "Keep the draft")


def revert_review(
    session: Session, config_from: ConfigFrom, revision_id: int, discard_draft: bool
) -> ActionReview:
    """What reverting to a published revision changes; RevisionError when it cannot be
    done (no such revision, live already, or a draft the merchandiser did not let go)."""
    data = revisions.revision_data(session, revision_id)
    if revisions.live_revision_id(session) == revision_id:
        raise revisions.RevisionError(f"Revision {revision_id} is already live.")
    draft = revisions.draft_revision(session)
    if draft is not None and not discard_draft:
        raise revisions.RevisionError(revisions.DRAFT_IN_THE_WAY)
    lines = [
        f"The storefront serves revision {revision_id}'s settings and rules again, instead "
        f"of {live_name(session)}, published as a new revision."
    ]
    lines += changes_from_live(session, config_from, data)
    if draft is not None:
        lines.append("Your draft is thrown away with its unpublished changes.")
    lines += _arms_note(session)
    # A thrown-away draft cannot be brought back; the revert itself can.
    undo = CANNOT_BE_UNDONE if draft is not None else REVERTIBLE
    return ActionReview(f"Revert to revision {revision_id}?", lines, "Revert", "Not now", undo)
