"""Relevance-ranked full-text product search: FTS5 (bm25) on SQLite, tsvector on PostgreSQL.

Every word must match (as a prefix, after stemming), two neighbouring words also when the
product writes them as one. When no product matches every word, the search falls back to
products matching any word and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.pagination import Page, check_page

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERM_CHARS = 40

SQLITE_SQL = """
    SELECT p.id FROM product_fts
    JOIN products p ON p.id = product_fts.rowid
    WHERE product_fts MATCH :match AND p.active
    ORDER BY bm25(product_fts, 10.0, 1.0), p.order_count DESC, p.id
    LIMIT :limit OFFSET :offset
"""
SQLITE_COUNT = """
    SELECT count(*) FROM product_fts JOIN products p ON p.id = product_fts.rowid
    WHERE product_fts MATCH :match AND p.active
"""
POSTGRES_SQL = """
    SELECT p.id FROM products p, to_tsquery('english', :match) q
    WHERE p.search_vector @@ q AND p.active
    ORDER BY ts_rank(p.search_vector, q) DESC, p.order_count DESC, p.id
    LIMIT :limit OFFSET :offset
"""
POSTGRES_COUNT = """
    SELECT count(*) FROM products p
    WHERE p.search_vector @@ to_tsquery('english', :match) AND p.active
"""


@dataclass(frozen=True)
class SearchResults:
    """A page of search hits, and whether they match all words or only some."""

    query: str
    terms: list[str]
    page: Page[Product]
    matched_all_terms: bool


def search_terms(query: str, max_chars: int = 200, max_terms: int = 12) -> list[str]:
    """Split a raw query into at most `max_terms` lower-case words (long input is cut)."""
    words = WORD_RE.findall(query[:max_chars].lower())
    terms: list[str] = []
    for word in words:
        word = word[:MAX_TERM_CHARS]
        if word not in terms:
            terms.append(word)
    return terms[:max_terms]


# A one-letter word matches whole words only: as a prefix ("a"*) it matches nearly
# every product.
MIN_PREFIX_CHARS = 2


def joined_alternatives(terms: list[str]) -> list[list[str]]:
    """The words as typed, then each pair of neighbours written as one word ("cake stand"
    also finds "Cakestand")."""
    alternatives = [terms]
    for i in range(len(terms) - 1):
        joined = (terms[i] + terms[i + 1])[:MAX_TERM_CHARS]
        alternatives.append([*terms[:i], joined, *terms[i + 2 :]])
    return alternatives


def _match_expression(dialect: str, terms: list[str], operator: str) -> str:
    postgres = dialect == "postgresql"

    def word(t: str) -> str:
        prefix = len(t) >= MIN_PREFIX_CHARS
        if postgres:
            return f"{t}:*" if prefix else t
        return f'"{t}"*' if prefix else f'"{t}"'

    if operator == "OR":
        return (" | " if postgres else " OR ").join(word(t) for t in terms)
    both, either = (" & ", " | ") if postgres else (" AND ", " OR ")
    return either.join(
        "(" + both.join(word(t) for t in alternative) + ")"
        for alternative in joined_alternatives(terms)
    )


def _run(
    session: Session, terms: list[str], operator: str, page: int, size: int
) -> tuple[list[Product], int]:
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"search is not supported on {dialect}")
    match = _match_expression(dialect, terms, operator)
    sql, count_sql = (
        (SQLITE_SQL, SQLITE_COUNT) if dialect == "sqlite" else (POSTGRES_SQL, POSTGRES_COUNT)
    )
    total = int(session.execute(text(count_sql), {"match": match}).scalar() or 0)
    if total == 0:
        return [], 0
    check_page(page, total, size)
    params = {"match": match, "limit": size, "offset": (page - 1) * size}
    ids = [row[0] for row in session.execute(text(sql), params)]
    by_id = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id], total


def search_products(
    session: Session, query: str, *, page: int = 1, size: int = 24, max_chars: int = 200
) -> SearchResults:
    """Search active products by name and description, best matches first."""
    terms = search_terms(query, max_chars)
    if not terms:
        return SearchResults(query[:max_chars], [], Page([], 0, 1, size), True)
    products, total = _run(session, terms, "AND", page, size)
    matched_all = True
    if total == 0 and len(terms) > 1:
        # Any of the words, leaving out one-letter ones (stray letters, parts of tags)
        # when there are longer words to go by.
        longer = [t for t in terms if len(t) >= MIN_PREFIX_CHARS] or terms
        products, total = _run(session, longer, "OR", page, size)
        matched_all = False
    if total == 0:
        check_page(page, 0, size)
    return SearchResults(query[:max_chars], terms, Page(products, total, page, size), matched_all)


def active_product_count(session: Session) -> int:
    """How many products are for sale (shown on the empty-search page)."""
    return int(session.scalar(select(func.count()).where(Product.active.is_(True))) or 0)
