"""Run Alembic migrations from code (the CLI, `make run` and the tests use this)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig

from shop.config import PROJECT_ROOT

ObjectFilter = Callable[[Any, str | None, str, bool, Any], bool]


def alembic_config(url: str) -> AlembicConfig:
    """Return an Alembic config for the project's migrations and the given database."""
    cfg = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def include_object(dialect: str) -> ObjectFilter:
    """Alembic's `include_object` for comparing the models with a database of `dialect`."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if not reflected:
            # A model object created on other databases only (`.ddl_if(dialect=...)`, e.g.
            # the PostgreSQL pattern index on products.sku) is not expected in this one.
            ddl_if = getattr(obj, "_ddl_if", None)
            wanted = ddl_if.dialect if ddl_if is not None else None
            if wanted is None:
                return True
            return dialect in ([wanted] if isinstance(wanted, str) else wanted)
        # Full-text search (FTS5 tables on SQLite, a tsvector column and index on PostgreSQL)
        # is managed by migration 0002's raw SQL, not by the models.
        if compare_to is not None or not name:
            return True
        return not (name.startswith("product_fts") or "search_vector" in name)

    return include
