"""Switching the live model version from the console: activate or roll back, audited."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shop.console import audit
from shop.recommendations import (
    ModelStore,
    ModelUnavailableError,
    NoActiveVersionError,
    VersionNotFoundError,
)


class NothingToRollBack(ValueError):
    """There is no earlier usable version to go back to."""


class RolledBackSince(ValueError):
    """The live version is not the one the page that asked for the roll-back showed."""


def active_version(store: ModelStore) -> str | None:
    """The live version id, or None when there is none (or its pointer is unreadable)."""
    try:
        return store.active()
    except ModelUnavailableError:
        return None


def active_problem(store: ModelStore) -> str | None:
    """Why the active version cannot be served (deleted, or its files damaged), or None.

    The shop then serves best sellers. An unreadable pointer is `store.pointer_error()`'s to
    report; the message names no server path.
    """
    version = active_version(store)
    if version is None:
        return None
    try:
        store.verify(version)
    except VersionNotFoundError:
        return "it is missing"
    except ModelUnavailableError as exc:
        return str(exc)
    return None


def activate(session: Session, actor: audit.Actor, store: ModelStore, version_id: str) -> bool:
    """Make a stored version the live one, auditing the change; False when it was live
    already (nothing changes, so nothing is audited).

    The store checks the version's files either way (and running apps look at it again).
    Raises VersionNotFoundError, or another ModelUnavailableError or ValueError.
    """
    before = active_version(store)
    store.activate(version_id)
    if before == version_id:
        return False
    audit.record(session, actor, "model.activate", f"version {version_id}", before, version_id)
    return True


def check_shown(live: str | None, shown: str) -> None:
    """Raise RolledBackSince unless `shown`, the live version a page showed, is still live."""
    if (shown or None) == live:
        return
    if not shown.strip():
        raise RolledBackSince("the page did not say which version it showed; reload it.")
    now = f"version {live} is live now" if live else "no version is live now"
    raise RolledBackSince(
        f"{now}, not version {shown} as on the page you sent this from (it was rolled "
        "back or changed since). Check the versions below and roll back again if you "
        "still mean to."
    )


def rollback(
    session: Session, actor: audit.Actor, store: ModelStore, shown: str | None = None
) -> str:
    """Go back to the version live before the current one, auditing it; return its id.

    `shown` is the live version the page showed (None: no page, nothing to check). When
    another version is live now (the same button sent twice, or a colleague's change), the
    roll-back would go back from a version nobody chose to leave: RolledBackSince is raised
    and nothing changes.

    Raises NothingToRollBack, RolledBackSince, or another ModelUnavailableError or ValueError.
    """
    before = active_version(store)
    if shown is not None:
        check_shown(before, shown)
    try:
        version = store.rollback()
    except NoActiveVersionError as exc:
        raise NothingToRollBack("there is no earlier version still stored.") from exc
    audit.record(session, actor, "model.rollback", f"version {version}", before, version)
    return version
