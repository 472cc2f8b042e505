"""Alembic environment: the URL comes from the caller, or from the shop's config."""

from alembic import context
from sqlalchemy import pool

from shop.config import load_config
from shop.db import make_engine
from shop.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # Full-text search (FTS5 tables on SQLite, a tsvector column and index on PostgreSQL)
    # is managed by migration 0002's raw SQL, not by the models.
    if not reflected or compare_to is not None or not name:
        return True
    return not (name.startswith("product_fts") or "search_vector" in name)


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_config().database_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=_include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
