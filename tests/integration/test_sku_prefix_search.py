"""Search by the start of an item code: the query PostgreSQL runs reads an index under any
collation (migration 0023), and the characters of a code are never wildcards."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import DateTime, bindparam, create_engine, make_url, text
from sqlalchemy.orm import Session

from shop.catalog.search import code_query, search_sql, search_terms
from shop.db import utcnow
from shop.migrate import alembic_config, upgrade
from tests import factories
from tests.conftest import BACKENDS, PG_URL

INDEX = "ix_products_sku_pattern"


def _count(session: Session, terms: list[str], code: str) -> int:
    found = search_sql(session.get_bind().dialect.name, terms, "AND", code)
    until = bindparam("until", utcnow(), type_=DateTime)
    return int(session.execute(text(found.count).bindparams(until), found.params).scalar() or 0)


def test_a_code_prefix_query_reads_the_pattern_index_on_postgresql(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's GLOB reads the unique index on products.sku")
    cat = factories.category(session)
    for n in range(30):
        factories.product(session, cat, sku=f"{85100 + n}A", name=f"Holder {n}")
    session.commit()
    query = "851"
    code = code_query(query)
    assert code == "851"
    # The very SQL search_products runs for this query, planned with its parameters.
    found = search_sql("postgresql", search_terms(query), "AND", code)
    session.execute(text("SET LOCAL enable_seqscan = off"))
    until = bindparam("until", utcnow(), type_=DateTime)
    explain = text("EXPLAIN " + found.count).bindparams(until)
    plan = "\n".join(row[0] for row in session.execute(explain, found.params))
    assert INDEX in plan, plan
    # The prefix became a range on the index, not a filter over every entry.
    assert "Index Cond: (((sku)::text ~>=~ '851'::text) AND ((sku)::text ~<~ '852'::text))" in (
        plan
    ), plan
    assert _count(session, ["zzzz"], code) == 30


def test_like_and_glob_characters_in_a_code_are_taken_literally(session: Session) -> None:
    cat = factories.category(session)
    for sku in ("A%B1", "AXB1", "A_B1", "A*B1", "A?B1", "A[B1", "A\\B1"):
        factories.product(session, cat, sku=sku, name="Thing")
    session.commit()
    # Straight to the SQL: `code_query` lets none of these characters through.
    for code in ("A%B", "A_B", "A*B", "A?B", "A[B", "A\\B"):
        assert _count(session, ["zzzz"], code) == 1, code
    assert _count(session, ["zzzz"], "A") == 7


def _index_exists(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "postgresql":
                names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))
            else:
                names = conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
                )
            return INDEX in {row[0] for row in names}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0023_upgrades_and_downgrades(backend: str, tmp_path: Path) -> None:
    schema = f"test_0023_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    else:
        url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    try:
        upgrade(url)
        # PostgreSQL gets the index; SQLite needs none (GLOB reads the unique index).
        assert _index_exists(url) is (backend == "postgresql")
        command.downgrade(alembic_config(url), "0022")
        assert not _index_exists(url)
        upgrade(url)
        assert _index_exists(url) is (backend == "postgresql")
    finally:
        if backend == "postgresql":
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
