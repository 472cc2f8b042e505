"""Shared fixtures: a fresh database per test, on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set; an app, a client and a session bound to that database."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from shop import create_app
from shop.catalog.models import Product
from shop.config import TestConfig, normalise_database_url
from shop.db import db
from shop.migrate import upgrade
from shop.models import Base
from tests import factories

PG_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL", ""))
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "shop.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A migrated schema of this run's own in the test PostgreSQL database, dropped at the end.

    A schema per run (set as the connections' search path) lets two runs share one server.
    """
    schema = f"test_run_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    run_url = url.render_as_string(hide_password=False)
    try:
        upgrade(run_url)
        yield run_url
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE TABLE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database for this test alone."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_schema")
        _truncate_postgres(url)
        return url
    path = tmp_path / "shop.sqlite3"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> TestConfig:
    """Test settings pointing at this test's database and a private instance folder."""
    cfg = TestConfig()
    cfg.DATABASE_URL = database_url
    cfg.INSTANCE_PATH = tmp_path / "instance"
    cfg.SHOP_DATA_DIR = tmp_path / "data"
    return cfg


@pytest.fixture
def app(config: TestConfig) -> Iterator[Flask]:
    """A shop app on a fresh database."""
    application = create_app(config)
    yield application
    db.session.remove()
    db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of its own (not the request's), for calling services and checking state.

    It is deliberately outside any app context: a test client request then gets its own
    context and session, as in production. Call `session.rollback()` (or commit) before
    reading what a request wrote, to end this session's read snapshot.
    """
    assert db.session_factory is not None
    with db.session_factory(expire_on_commit=True) as own:
        yield own
        own.rollback()


@pytest.fixture
def items(session: Session) -> dict[str, Product]:
    """The small catalogue of tests/factories.py, committed."""
    return factories.small_catalogue(session)
