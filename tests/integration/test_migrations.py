"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL, and
every migration downgrades cleanly."""

from __future__ import annotations

import pprint
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DefaultClause, create_engine, inspect, make_url, text

from shop.migrate import alembic_config, include_object, upgrade
from shop.models import Base
from tests.conftest import BACKENDS, PG_URL


@contextmanager
def _empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of this test's own (a fresh schema on PostgreSQL)."""
    if backend != "postgresql":
        yield f"sqlite:///{tmp_path / 'shop.sqlite3'}"
        return
    schema = f"test_migr_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def _differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_object": include_object(conn.dialect.name),
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _readable(item: Any) -> Any:
    """A difference with its server defaults written out as SQL, for the failure message."""
    if isinstance(item, list | tuple):
        return type(item)(_readable(part) for part in item)
    if isinstance(item, DefaultClause):
        return f"server_default={getattr(item.arg, 'text', item.arg)!r}"
    return item


def _report(differences: list[Any]) -> str:
    return "\n".join(pprint.pformat(_readable(d), width=100) for d in differences)


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migrated_schema_is_the_one_the_models_declare(backend: str, tmp_path: Path) -> None:
    """Upgrading an empty database to head gives every table, column (type, nullability and
    server default), index, unique constraint and foreign key the models declare, no more.

    Server defaults are compared too: a column a migration added with a server default (to
    fill the rows already there) must say so in its model, so that a database built from
    either one behaves the same for SQL that leaves the column out. Full-text search, which
    migration 0002 manages in raw SQL, is left out (`shop.migrate.include_object`).
    """
    with _empty_database(backend, tmp_path) as url:
        upgrade(url)
        differences = _differences(url)
        assert not differences, "models and migrations differ:\n" + _report(differences)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_migration_downgrades_and_upgrades_again(backend: str, tmp_path: Path) -> None:
    """head -> base -> head: each downgrade undoes its upgrade, and the second upgrade
    builds the same schema as the first."""
    with _empty_database(backend, tmp_path) as url:
        upgrade(url)
        tables = _tables(url)
        assert "products" in tables
        command.downgrade(alembic_config(url), "base")
        assert _tables(url) == ["alembic_version"]
        upgrade(url)
        assert _tables(url) == tables
        differences = _differences(url)
        assert not differences, "after a round trip:\n" + _report(differences)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_migration_downgrades_what_it_upgraded(backend: str, tmp_path: Path) -> None:
    """Step by step, each migration is applied, undone and applied again: a downgrade that
    leaves something behind (which a later downgrade to base may hide by dropping the whole
    table) makes the second upgrade fail or leaves a difference with the models."""
    with _empty_database(backend, tmp_path) as url:
        cfg = alembic_config(url)
        revisions = [
            script.revision for script in ScriptDirectory.from_config(cfg).walk_revisions()
        ]
        for revision in reversed(revisions):
            command.upgrade(cfg, revision)
            command.downgrade(cfg, "-1")
            command.upgrade(cfg, revision)
        differences = _differences(url)
        assert not differences, "after each step down and up:\n" + _report(differences)


_EVERY_MODULE = """
import importlib, pkgutil, sys
import shop.models
from shop.db import Base
known = set(Base.metadata.tables)
for package in ("shop", "loyalty", "recommender"):
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(module.name)
print(" ".join(sorted(set(Base.metadata.tables) - known)))
"""


def test_shop_models_imports_every_model() -> None:
    """Alembic and these tests see the models through `shop.models`: importing every module
    of the project adds no table to the metadata it has."""
    found = subprocess.run(
        [sys.executable, "-c", _EVERY_MODULE], capture_output=True, text=True, check=True
    )
    assert found.stdout.split() == [], "tables missing from shop.models: " + found.stdout
