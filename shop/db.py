"""Database engine, session and declarative base."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

WRITE_OPTION = "shop_write"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every model in the shop."""

    metadata = MetaData(naming_convention=NAMING)


ID_MAX = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL (SQLite: 2**63 - 1)


def parse_id(text: str) -> int | None:
    """A database id given as text: ASCII digits that fit an id column, else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(ID_MAX)):
        return None
    value = int(text)
    return value if value <= ID_MAX else None


def utcnow() -> datetime:
    """Return the current time as a naive UTC datetime (how the schema stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str, busy_timeout_ms: int = 5000, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and immediate write transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself, so writes can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # SQLite's own lower() (behind ilike and icontains) folds only ASCII letters, so
        # "ZOË" would not find "Zoë" as it does on PostgreSQL; no index is built on lower().
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the lock up front (BEGIN IMMEDIATE): a deferred one that
        # reads first and writes later can fail at once with "database is locked".
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# What `Database.transaction` is: services that commit on their own take one of these.
Transaction = Callable[[], AbstractContextManager[Session]]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Database:
    """Flask extension holding the engine and a request-scoped session.

    The scoped session of a POST (or other writing) request, and every session from
    `transaction()`, begins as a write transaction; a GET request reads with a deferred one.
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self.write_session_factory: sessionmaker[Session] | None = None
        self.session: scoped_session[Session] = scoped_session(self._make_session)

    def _make_session(self) -> Session:
        if self.session_factory is None or self.write_session_factory is None:
            raise RuntimeError("Database.init_app() has not been called")
        if has_request_context() and request.method in WRITE_METHODS:
            return self.write_session_factory()
        return self.session_factory()

    @property
    def is_sqlite(self) -> bool:
        """True when the engine is SQLite."""
        return self.engine is not None and self.engine.dialect.name == "sqlite"

    def init_app(self, app: Flask) -> None:
        """Create the engine for the app's DATABASE_URL and close sessions after each request."""
        self.engine = make_engine(app.config["DATABASE_URL"], app.config["SQLITE_BUSY_TIMEOUT_MS"])
        write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.write_session_factory = sessionmaker(bind=write_engine, expire_on_commit=False)
        app.extensions["database"] = self

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a fresh session that commits on success and rolls back on error."""
        if self.write_session_factory is None:
            raise RuntimeError("Database.init_app() has not been called")
        with self.write_session_factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self.engine is not None:
            self.engine.dispose()


db = Database()
