"""Draft and published states of the merchandising settings and rules.

Every edit changes the single draft. Publishing copies the draft into a new published
revision (the newest published revision is live) and removes the draft; reverting publishes
a copy of an earlier revision, so the history only ever grows.

Changes take turns. Every function here that changes the draft or publishes (and every
edit in `editing`) first calls `lock_drafts`, then reads the draft and the live revision
afresh, so two merchandisers adding a rule at the same moment both keep theirs, and a
fingerprint a page sent (`opened`) is compared with what is stored now, not with what
another transaction is about to overwrite.

Why a lock on the table and not on the draft row: there is no draft row before the first
edit (two first edits would each insert one: a unique violation on `draft_slot`), a
publish or a discard deletes the row (whoever waited on it would then find nothing and
insert a second draft next to a later editor's), and the live revision is replaced by each
publish (waiting on the old one would not keep out an editor who locks the new one). The
revisions table always exists, so on PostgreSQL a change locks it in SHARE ROW EXCLUSIVE
mode: changes wait for each other until the first one commits or rolls back, while readers
(the storefront, pages, previews) never wait. SQLite needs no lock: its write transactions
(a POST request's session, `db.transaction()`) begin with BEGIN IMMEDIATE and are serial.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from shop.console import audit
from shop.db import utcnow
from shop.merchandising.models import MerchRevision
from shop.merchandising.rebase import rebase_draft


class RevisionError(ValueError):
    """A draft or publish action that cannot be done; the message is safe to show."""


class ChangedSinceOpened(RevisionError):
    """The draft changed after the page that sent this change was opened."""


NOT_SAID = "The form did not say what it showed, so it cannot be checked: reload the page."


def check_said(opened: str | None) -> None:
    """ChangedSinceOpened when a page's form sent no `opened` fingerprint (an empty one).
    None is a caller with no page (the CLI, a script): there is nothing to check."""
    if opened is not None and not opened.strip():
        raise ChangedSinceOpened(NOT_SAID)


def fingerprint(data: object) -> str:
    """A short digest of a document (or part of one), for pages to say what they showed."""
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def live_revision(session: Session) -> MerchRevision | None:
    """The newest published revision, or None before the first publish."""
    return session.scalar(
        select(MerchRevision)
        .where(MerchRevision.state == "published")
        .order_by(MerchRevision.id.desc())
        .limit(1)
    )


def live_revision_id(session: Session) -> int | None:
    """The id of the live revision (a cheap query, used to notice a publish)."""
    return session.scalar(
        select(MerchRevision.id)
        .where(MerchRevision.state == "published")
        .order_by(MerchRevision.id.desc())
        .limit(1)
    )


def draft_revision(session: Session) -> MerchRevision | None:
    """The draft, or None when there are no unpublished changes.

    Read as stored now even if this session loaded it before: after `lock_drafts`, that
    is what another transaction committed while this one waited."""
    return session.scalar(
        select(MerchRevision)
        .where(MerchRevision.draft_slot == 1)
        .execution_options(populate_existing=True)
    )


def live_data(session: Session) -> dict[str, Any]:
    """The live document ({} before the first publish: every default applies)."""
    live = live_revision(session)
    return copy.deepcopy(live.data) if live else {}


def lock_drafts(session: Session) -> None:
    """Wait for any other draft change or publish to end, and keep them waiting until this
    transaction ends (see the module docstring). Call it before reading what to change."""
    if session.get_bind().dialect.name == "postgresql":
        table = MerchRevision.__tablename__
        session.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


def draft_to_edit(session: Session) -> dict[str, Any]:
    """`lock_drafts`, then a copy of the draft document as stored now (the live one when
    there is no draft), to change and store with `save_draft`."""
    lock_drafts(session)
    return draft_data(session)


def draft_data(session: Session) -> dict[str, Any]:
    """The draft document, or a copy of the live one when there is no draft."""
    draft = draft_revision(session)
    return copy.deepcopy(draft.data) if draft else live_data(session)


def revision_data(session: Session, revision_id: int) -> dict[str, Any]:
    """The document of a published revision; RevisionError if there is none."""
    revision = session.get(MerchRevision, revision_id)
    if revision is None or revision.state != "published":
        raise RevisionError(f"There is no published revision {revision_id}.")
    return copy.deepcopy(revision.data)


def published_history(session: Session, limit: int = 50) -> list[MerchRevision]:
    """Published revisions, newest first."""
    return list(
        session.scalars(
            select(MerchRevision)
            .where(MerchRevision.state == "published")
            .order_by(MerchRevision.id.desc())
            .limit(limit)
        )
    )


def save_draft(
    session: Session,
    actor: audit.Actor,
    data: dict[str, Any],
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
) -> MerchRevision:
    """Store `data` as the draft and audit the edit (in the caller's transaction).

    `data` must have been read with `draft_to_edit` in this transaction: the lock it took
    is what keeps another edit from being overwritten (and a second draft from being
    started) between that read and this write."""
    lock_drafts(session)
    draft = draft_revision(session)
    if draft is None:
        draft = MerchRevision(state="draft", draft_slot=1, data=data, author_id=actor.id)
        session.add(draft)
    else:
        draft.data = data
        draft.author_id = actor.id
        draft.created_at = utcnow()
    audit.record(session, actor, action, target, before, after)
    session.flush()
    return draft


def publish(
    session: Session, actor: audit.Actor, note: str = "", opened: str | None = None
) -> MerchRevision:
    """Make the draft live; RevisionError when there is nothing to publish, and
    ChangedSinceOpened when `opened` (the draft's fingerprint the page showed) is stale or
    empty (None: no page, nothing to check)."""
    lock_drafts(session)
    draft = draft_revision(session)
    if draft is None:
        raise RevisionError("There are no draft changes to publish.")
    check_said(opened)
    if opened is not None and opened != fingerprint(draft.data):
        raise ChangedSinceOpened(
            "The draft changed after you opened this page (someone else edited it). "
            "Look at it again, preview it, then publish."
        )
    previous = live_revision_id(session)
    revision = _published(session, actor, draft.data, note or "published the draft")
    session.delete(draft)
    audit.record(session, actor, "merch.publish", f"revision {revision.id}", previous, revision.id)
    session.flush()
    return revision


def discard_draft(session: Session, actor: audit.Actor, opened: str | None = None) -> None:
    """Throw the draft away; the live state is unchanged. ChangedSinceOpened when `opened`
    (the draft's fingerprint the page showed) is stale or empty (None: nothing to check),
    so that nobody throws away a colleague's edits they have not seen."""
    lock_drafts(session)
    draft = draft_revision(session)
    if draft is None:
        raise RevisionError("There is no draft to discard.")
    _check_draft_unchanged(draft, opened, "discarded")
    audit.record(session, actor, "merch.discard", "draft", draft.data, None)
    session.execute(delete(MerchRevision).where(MerchRevision.id == draft.id))
    session.flush()


DRAFT_IN_THE_WAY = (
    'There are unpublished changes in the draft. Tick "Discard my draft" to revert anyway, '
    "or publish or discard the draft first."
)


def _check_draft_unchanged(draft: MerchRevision, opened: str | None, what: str) -> None:
    check_said(opened)
    if opened is not None and opened != fingerprint(draft.data):
        raise ChangedSinceOpened(
            f"The draft changed after you opened this page (someone else edited it), so it "
            f"was not {what}. Look at it again first."
        )


def revert_to(
    session: Session,
    actor: audit.Actor,
    revision_id: int,
    *,
    discard_draft: bool = False,
    opened: str | None = None,
) -> MerchRevision:
    """Publish a copy of an earlier revision. A pending draft is only thrown away when the
    merchandiser said so, and is then audited as discarded; `opened` is the draft's
    fingerprint their page showed, as for `discard_draft`."""
    lock_drafts(session)
    data = revision_data(session, revision_id)
    previous = live_revision_id(session)
    if previous == revision_id:
        raise RevisionError(f"Revision {revision_id} is already live.")
    draft = draft_revision(session)
    if draft is not None:
        if not discard_draft:
            raise RevisionError(DRAFT_IN_THE_WAY)
        _check_draft_unchanged(draft, opened, "discarded, and nothing was reverted")
        audit.record(
            session,
            actor,
            "merch.discard",
            f"draft, reverting to revision {revision_id}",
            draft.data,
            None,
        )
        session.delete(draft)
    revision = _published(session, actor, data, f"reverted to revision {revision_id}")
    audit.record(session, actor, "merch.revert", f"revision {revision_id}", previous, revision.id)
    session.flush()
    return revision


def publish_change(
    session: Session,
    actor: audit.Actor,
    note: str,
    change: Callable[[dict[str, Any]], None],
) -> MerchRevision:
    """Publish the live document changed by `change` (used to roll out an A/B winner).

    A pending draft is rebased onto the new live document, keeping its own edits (audited
    as "merch.draft_change"), so publishing it later neither undoes what was just published
    nor loses the draft's unpublished work.
    """
    lock_drafts(session)
    data = live_data(session)
    before = copy.deepcopy(data)
    change(data)
    revision = _published(session, actor, data, note)
    audit.record(session, actor, "merch.publish_change", note, before, data)
    draft = draft_revision(session)
    if draft is not None:
        draft_before = copy.deepcopy(draft.data)
        changed = rebase_draft(before, data, draft.data)
        draft.data = changed
        audit.record(session, actor, "merch.draft_change", note, draft_before, changed)
    session.flush()
    return revision


def _published(
    session: Session, actor: audit.Actor, data: dict[str, Any], note: str
) -> MerchRevision:
    revision = MerchRevision(
        state="published",
        data=copy.deepcopy(data),
        note=note[:200],
        author_id=actor.id,
        published_at=utcnow(),
    )
    session.add(revision)
    session.flush()
    return revision
