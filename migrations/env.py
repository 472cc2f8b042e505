"""Alembic environment: the URL comes from the caller, or from the shop's config."""

from alembic import context
from sqlalchemy import make_url, pool

from shop.config import load_config
from shop.db import make_engine
from shop.migrate import include_object
from shop.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_config().database_url()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object(make_url(_url()).get_backend_name()),
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
            include_object=include_object(connection.dialect.name),
            # Defaults are compared too, as tests/integration/test_migrations.py does, so
            # `alembic check` and autogenerate notice a default missing from a model.
            compare_server_default=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
