"""Model versions on disk: save, activate atomically, roll back, load.

Layout of a store directory::

    versions/<version id>/model.npz       the artifact (`Recommender.save`)
    versions/<version id>/metadata.json   params, data window, counts, metrics, timings, sha256
    ACTIVE                                 JSON pointer: the active id and the ids before it

A version directory is written under a temporary name and renamed into place, and the pointer
is replaced with `os.replace`, so a reader sees either the old state or the new one. Changes
to the pointer (activate, rollback) read, then rewrite it while holding an exclusive lock on
`ACTIVE.lock` (`fcntl.flock`, where the platform has it), so two processes changing it at
once (a training job activating while someone rolls back) never lose each other's change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.errors import (
    ArtifactError,
    ModelUnavailableError,
    NoActiveVersionError,
    VersionNotFoundError,
)
from recommender.serving import Recommender

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only this process's threads are kept apart
    fcntl = None  # type: ignore[assignment]

ARTIFACT = "model.npz"
METADATA = "metadata.json"
POINTER = "ACTIVE"
POINTER_LOCK = "ACTIVE.lock"
_LOCAL_POINTER_LOCK = threading.Lock()
HISTORY_LIMIT = 50
# Ids made by `save` look like "20240131T120000Z-1a2b3c"; anything else is refused before it
# reaches the file system (no separators, no leading dot, not too long for a file name).
VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class ModelVersion:
    """One saved version.

    Attributes
    ----------
    id : str
        Sortable by creation time ("20240131T120000Z-1a2b3c").
    created_at : str
        ISO 8601, UTC.
    metadata : dict
        What `ModelStore.save` was given, plus the artifact's size and sha256.
    active : bool
    """

    id: str
    created_at: str
    metadata: dict[str, Any]
    active: bool


class ModelStore:
    """Trained recommenders as versions in a directory.

    Parameters
    ----------
    directory : str or pathlib.Path
        Created when the first version is saved; reading a store that does not exist finds
        no versions.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.versions_dir = self.directory / "versions"

    # --- writing ------------------------------------------------------------------------

    def save(self, recommender: Recommender, metadata: Mapping[str, Any] | None = None) -> str:
        """Write recommender as a new (inactive) version and return its id.

        Parameters
        ----------
        recommender : Recommender
        metadata : mapping, optional
            JSON-serialisable facts to keep with it (metrics, data window, ...). The
            recommender's own training info and params are added under "training" and
            "params" unless given.

        Raises
        ------
        ValueError
            When metadata cannot be written as JSON.
        """
        created = datetime.now(UTC)
        version_id = f"{created:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
        document = {
            "params": recommender.params.to_dict(),
            "training": dict(recommender.info),
            **dict(metadata or {}),
            "version": version_id,
            "created_at": created.isoformat(timespec="seconds"),
            "model": recommender.model.name,
        }
        try:
            text = json.dumps(document, indent=2, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata must be JSON-serialisable: {exc}") from exc
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.versions_dir))
        try:
            artifact = staging / ARTIFACT
            with artifact.open("wb") as out:
                recommender.save(out)
                out.flush()
                os.fsync(out.fileno())
            document["artifact"] = {
                "file": ARTIFACT,
                "bytes": artifact.stat().st_size,
                "sha256": _sha256(artifact),
            }
            text = json.dumps(document, indent=2, sort_keys=True)
            (staging / METADATA).write_text(text + "\n")
            os.replace(staging, self.versions_dir / version_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version_id

    def activate(self, version_id: str) -> None:
        """Make version_id the active version, after checking its artifact is intact.

        An unreadable pointer file is replaced (without the earlier versions to roll back to).

        Raises
        ------
        VersionNotFoundError, ArtifactError
        """
        self.verify(version_id)
        with self._pointer_lock():
            try:
                pointer = self._read_pointer()
            except ArtifactError:
                pointer = {}  # an unreadable pointer is replaced; its history is lost with it
            history = list(pointer.get("history", []))
            current = pointer.get("active")
            if current and current != version_id:
                history = [*history, current][-HISTORY_LIMIT:]
            self._write_pointer({"active": version_id, "history": history})

    def rollback(self) -> str:
        """Re-activate the version that was active before the current one; return its id.

        Versions deleted or corrupted since are skipped.

        Raises
        ------
        NoActiveVersionError
            When there is no earlier usable version.
        """
        if not (self.directory / POINTER).exists():  # nothing to roll back; create nothing
            raise NoActiveVersionError("no earlier version to roll back to")
        with self._pointer_lock():
            found = self._previous(list(self._read_pointer().get("history", [])))
            if found is None:
                raise NoActiveVersionError("no earlier version to roll back to")
            candidate, history = found
            self._write_pointer({"active": candidate, "history": history})
            return candidate

    def _previous(self, history: list[str]) -> tuple[str, list[str]] | None:
        """The newest usable version in `history`, and the history left before it."""
        while history:
            candidate = history.pop()
            try:
                self.verify(candidate)
            except (VersionNotFoundError, ArtifactError):
                continue
            return candidate, history
        return None

    # --- reading ------------------------------------------------------------------------

    def active(self) -> str | None:
        """The active version id, or None."""
        return self._read_pointer().get("active")

    def previous(self) -> str | None:
        """The version `rollback` would re-activate now, or None when there is none."""
        found = self._previous(list(self._read_pointer().get("history", [])))
        return found[0] if found is not None else None

    def pointer_error(self) -> str | None:
        """Why the pointer to the active version cannot be read, or None when it can."""
        try:
            self._read_pointer()
        except ArtifactError as exc:
            return str(exc)
        return None

    def versions(self) -> list[ModelVersion]:
        """Every saved version, oldest first (none is active while the pointer is
        unreadable; see `pointer_error`)."""
        try:
            active = self.active()
        except ArtifactError:
            active = None
        if not self.versions_dir.is_dir():
            return []
        found = []
        for path in sorted(self.versions_dir.iterdir()):
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                metadata = self._metadata(path)
            except ArtifactError as exc:
                metadata = {"error": str(exc)}  # still listed, so it can be seen and removed
            found.append(
                ModelVersion(
                    path.name, str(metadata.get("created_at", "")), metadata, path.name == active
                )
            )
        return found

    def metadata(self, version_id: str) -> dict[str, Any]:
        """The metadata saved with a version.

        Raises
        ------
        VersionNotFoundError
        """
        return self._metadata(self._path(version_id))

    def verify(self, version_id: str) -> None:
        """Check a version's artifact exists and matches its recorded sha256.

        Raises
        ------
        VersionNotFoundError, ArtifactError
        """
        path = self._path(version_id)
        artifact = path / ARTIFACT
        if not artifact.is_file():
            raise ArtifactError(f"version {version_id}: artifact {ARTIFACT} is missing")
        expected = self._metadata(path).get("artifact", {}).get("sha256")
        if expected is None:
            raise ArtifactError(f"version {version_id}: metadata records no artifact checksum")
        if _sha256(artifact) != expected:
            raise ArtifactError(f"version {version_id}: artifact checksum mismatch (corrupt)")

    def load(self, version_id: str | None = None) -> Recommender:
        """Load a version (the active one by default).

        Raises
        ------
        NoActiveVersionError
            With no version_id and no active version.
        VersionNotFoundError
        ArtifactError
            When the artifact is missing or corrupt: serve popular items instead.
        """
        if version_id is None:
            version_id = self.active()
            if version_id is None:
                raise NoActiveVersionError(f"no active model version in {self.directory}")
        self.verify(version_id)
        return Recommender.load(self._path(version_id) / ARTIFACT)

    def file_state(self, version_id: str) -> tuple[object, ...]:
        """What changes when the pointer is rewritten or a version's files are replaced or
        edited: (version id, then device, inode, size and mtime of each file; None if
        missing)."""
        directory = self.versions_dir / version_id if VERSION_ID.fullmatch(version_id) else None
        files = [self.directory / POINTER]
        if directory is not None:
            files += [directory / ARTIFACT, directory / METADATA]
        return (version_id, *(_stat(path) for path in files))

    # --- internals ----------------------------------------------------------------------

    def _path(self, version_id: str) -> Path:
        if not isinstance(version_id, str) or not VERSION_ID.fullmatch(version_id):
            shown = version_id if len(str(version_id)) <= 80 else f"{str(version_id)[:80]}..."
            raise VersionNotFoundError(f"not a version id: {shown!r}")
        path = self.versions_dir / version_id
        if not path.is_dir():
            raise VersionNotFoundError(f"no model version {version_id!r} in {self.directory}")
        return path

    def _metadata(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads((path / METADATA).read_text())
        except FileNotFoundError as exc:
            raise ArtifactError(f"version {path.name}: {METADATA} is missing") from exc
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"version {path.name}: unreadable {METADATA}: {exc}") from exc
        if not isinstance(data, dict):
            raise ArtifactError(f"version {path.name}: {METADATA} is not a JSON object")
        return data

    def _read_pointer(self) -> dict[str, Any]:
        try:
            data = json.loads((self.directory / POINTER).read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"unreadable pointer file {POINTER}: {exc}") from exc
        problem = _pointer_problem(data)
        if problem is not None:
            raise ArtifactError(f"unreadable pointer file {POINTER}: {problem}")
        return data

    @contextmanager
    def _pointer_lock(self) -> Iterator[None]:
        """Hold the pointer for a read-then-rewrite, against other processes and threads."""
        if fcntl is None:  # pragma: no cover
            with _LOCAL_POINTER_LOCK:
                yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / POINTER_LOCK, "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _write_pointer(self, data: Mapping[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".active-", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(data, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, self.directory / POINTER)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


class ActiveModel:
    """The store's active recommender, reloaded when another process activates a new one.

    `get()` costs one small file read per call and a full load only after a change, so a
    running web app picks up a new version without a restart.
    """

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._version: str | None = None
        self._recommender: Recommender | None = None
        self._failed: tuple[tuple[object, ...], ModelUnavailableError] | None = None

    def get(self) -> tuple[str, Recommender]:
        """Return (version id, recommender) of the active version.

        Raises
        ------
        ModelUnavailableError
            (NoActiveVersionError, VersionNotFoundError, ArtifactError) when there is no
            usable active model; the caller serves popular items instead.
        """
        version = self.store.active()
        if version is None:
            raise NoActiveVersionError(f"no active model version in {self.store.directory}")
        with self._lock:
            if version == self._version and self._recommender is not None:
                return version, self._recommender
            # A broken version is not re-read on every request, only once its files or the
            # pointer change (it was mended, or activated again).
            state = self.store.file_state(version)
            if self._failed and self._failed[0] == state:
                raise self._failed[1]
            try:
                self._recommender = self.store.load(version)
            except ModelUnavailableError as exc:
                self._failed = (state, exc)
                raise
            self._failed = None
            self._version = version
            return version, self._recommender


def _pointer_problem(data: Any) -> str | None:
    """What is wrong with the pointer file's JSON, or None when its shape is usable."""
    if not isinstance(data, dict):
        return "not a JSON object"
    active = data.get("active")
    if active is not None and not isinstance(active, str):
        return f"the active version is not a version id: {active!r:.80}"
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(v, str) for v in history):
        return "the history is not a list of version ids"
    return None


def _stat(path: Path) -> tuple[int, int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
