"""Model versions: save, activate atomically, roll back, load, and fail clearly."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from recommender import (
    ActiveModel,
    ArtifactError,
    ModelStore,
    ModelUnavailableError,
    NoActiveVersionError,
    Recommender,
    VersionNotFoundError,
)


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    """An empty store."""
    return ModelStore(tmp_path / "models")


def test_save_writes_artifact_and_metadata(store: ModelStore, trained: Recommender) -> None:
    version = store.save(trained, {"metrics": {"precision@10": 0.12}})
    metadata = store.metadata(version)
    assert metadata["version"] == version
    assert metadata["metrics"] == {"precision@10": 0.12}
    assert metadata["model"] == "als"
    assert metadata["params"]["model"] == "als"
    assert metadata["training"]["users"] == trained.info["users"]
    assert metadata["artifact"]["bytes"] > 0 and len(metadata["artifact"]["sha256"]) == 64
    assert store.active() is None
    assert [v.id for v in store.versions()] == [version]
    assert not store.versions()[0].active


def test_activate_load_and_rollback(store: ModelStore, trained: Recommender) -> None:
    first = store.save(trained)
    second = store.save(trained)
    assert first < second or first != second
    store.activate(first)
    store.activate(second)
    assert store.active() == second
    assert [v.active for v in store.versions()] == [v.id == second for v in store.versions()]
    loaded = store.load()
    assert loaded.info == trained.info
    assert store.previous() == first
    assert store.active() == second  # asking changes nothing
    assert store.rollback() == first
    assert store.active() == first
    assert store.previous() is None
    with pytest.raises(NoActiveVersionError, match="no earlier version"):
        store.rollback()


def test_the_pointer_file_is_replaced_atomically(store: ModelStore, trained: Recommender) -> None:
    version = store.save(trained)
    store.activate(version)
    pointer = json.loads((store.directory / "ACTIVE").read_text())
    assert pointer == {"active": version, "history": []}
    leftovers = [p.name for p in store.directory.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_loading_without_an_active_version(store: ModelStore) -> None:
    with pytest.raises(NoActiveVersionError):
        store.load()


def test_unknown_versions(store: ModelStore) -> None:
    with pytest.raises(VersionNotFoundError):
        store.load("20990101T000000Z-abcdef")
    with pytest.raises(VersionNotFoundError):
        store.activate("../escape")


def test_a_corrupt_artifact_cannot_be_activated_or_loaded(
    store: ModelStore, trained: Recommender
) -> None:
    version = store.save(trained)
    artifact = store.versions_dir / version / "model.npz"
    artifact.write_bytes(artifact.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        store.activate(version)
    with pytest.raises(ModelUnavailableError):
        store.load(version)


def test_a_missing_artifact_is_an_artifact_error(store: ModelStore, trained: Recommender) -> None:
    version = store.save(trained)
    (store.versions_dir / version / "model.npz").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        store.load(version)


def test_rollback_skips_broken_versions(store: ModelStore, trained: Recommender) -> None:
    good, broken, current = (store.save(trained) for _ in range(3))
    for version in (good, broken, current):
        store.activate(version)
    (store.versions_dir / broken / "model.npz").write_bytes(b"garbage")
    assert store.previous() == good
    assert store.rollback() == good


def test_unserialisable_metadata_is_a_value_error(store: ModelStore, trained: Recommender) -> None:
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.save(trained, {"when": object()})
    assert store.versions() == []


def test_active_model_follows_activation(store: ModelStore, trained: Recommender) -> None:
    live = ActiveModel(store)
    with pytest.raises(NoActiveVersionError):
        live.get()
    first = store.save(trained)
    store.activate(first)
    version, recommender = live.get()
    assert version == first
    assert live.get()[1] is recommender  # not reloaded while nothing changed
    second = store.save(trained)
    store.activate(second)
    assert live.get()[0] == second


def test_active_model_reports_a_broken_version_every_time(
    store: ModelStore, trained: Recommender
) -> None:
    version = store.save(trained)
    store.activate(version)
    (store.versions_dir / version / "model.npz").write_bytes(b"garbage")
    live = ActiveModel(store)
    for _ in range(2):
        with pytest.raises(ArtifactError):
            live.get()


def test_a_mended_and_reactivated_version_is_loaded_again(
    store: ModelStore, trained: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = store.save(trained)
    store.activate(version)
    artifact = store.versions_dir / version / "model.npz"
    good = artifact.read_bytes()
    artifact.write_bytes(good[:1000])
    live = ActiveModel(store)
    loads: list[str | None] = []
    real_load = store.load
    monkeypatch.setattr(store, "load", lambda v=None: loads.append(v) or real_load(v))
    for _ in range(3):
        with pytest.raises(ArtifactError, match="checksum"):
            live.get()
    assert loads == [version]  # a broken version is not re-read while nothing changes
    artifact.write_bytes(good)  # mended
    store.activate(version)  # and activated again
    assert live.get()[0] == version
    assert live.get()[0] == version
    assert loads == [version, version]


def test_a_mended_artifact_is_loaded_without_reactivation(
    store: ModelStore, trained: Recommender
) -> None:
    version = store.save(trained)
    store.activate(version)
    artifact = store.versions_dir / version / "model.npz"
    good = artifact.read_bytes()
    artifact.unlink()
    live = ActiveModel(store)
    with pytest.raises(ArtifactError, match="missing"):
        live.get()
    artifact.write_bytes(good)
    assert live.get()[0] == version


def test_an_unreadable_pointer_is_reported_and_repaired_by_activating(
    store: ModelStore, trained: Recommender
) -> None:
    first, second = store.save(trained), store.save(trained)
    store.activate(first)
    (store.directory / "ACTIVE").write_text("{garbage")
    assert [v.active for v in store.versions()] == [False, False]
    assert "unreadable pointer file ACTIVE" in (store.pointer_error() or "")
    with pytest.raises(ArtifactError):
        store.active()
    with pytest.raises(ArtifactError):
        store.rollback()
    store.activate(second)
    assert store.pointer_error() is None
    assert store.active() == second
    with pytest.raises(NoActiveVersionError):
        store.rollback()  # the history went with the broken file


def test_a_version_with_unreadable_metadata_is_still_listed(
    store: ModelStore, trained: Recommender
) -> None:
    version = store.save(trained)
    (store.versions_dir / version / "metadata.json").write_text("[")
    (listed,) = store.versions()
    assert listed.id == version and "unreadable metadata.json" in listed.metadata["error"]


def test_odd_version_ids_are_refused_before_the_file_system(store: ModelStore) -> None:
    for odd in ("x" * 300, "", ".hidden", "a/b", "a\\b", "a b", "ü"):
        with pytest.raises(VersionNotFoundError, match="not a version id"):
            store.activate(odd)


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    missing = ModelStore(tmp_path / "typo")
    assert missing.versions() == [] and missing.active() is None
    with pytest.raises(NoActiveVersionError):
        missing.rollback()
    with pytest.raises(VersionNotFoundError):
        missing.activate("20990101T000000Z-abcdef")
    assert not (tmp_path / "typo").exists()


def test_two_changes_to_the_pointer_at_once_keep_both(
    tmp_path: Path, trained: Recommender, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two stores on one directory stand for two processes: a training job activating B
    # reads the pointer, and before it writes, an admin activates C elsewhere.
    job, admin = ModelStore(tmp_path / "models"), ModelStore(tmp_path / "models")
    a, b, c = job.save(trained), job.save(trained), job.save(trained)
    job.activate(a)
    read_done, admin_done = threading.Event(), threading.Event()
    read = job._read_pointer

    def read_then_wait() -> dict[str, object]:
        pointer = read()
        read_done.set()
        admin_done.wait(timeout=1.0)  # the admin's activation is blocked until we finish
        return pointer

    monkeypatch.setattr(job, "_read_pointer", read_then_wait)
    training = threading.Thread(target=job.activate, args=(b,))
    training.start()
    assert read_done.wait(timeout=5)
    admin.activate(c)
    admin_done.set()
    training.join(timeout=5)
    pointer = json.loads((tmp_path / "models" / "ACTIVE").read_text())
    assert pointer == {"active": c, "history": [a, b]}
    assert admin.rollback() == b and admin.rollback() == a
