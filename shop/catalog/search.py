"""Relevance-ranked full-text product search: FTS5 (bm25) on SQLite, tsvector on PostgreSQL.

Every word must match (as a prefix, after stemming), two neighbouring words also when the
product writes them as one. When nothing matches, a word may also be read as two ("tlight"
finds "T-Light", "lunchbag" finds "Lunch Bag"). When still no product matches every word,
the search falls back to products matching any word and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import DateTime, bindparam, func, select, text
from sqlalchemy.orm import Session

from shop.catalog.availability import Viewer, on_sale_to, public_viewer
from shop.catalog.models import Product
from shop.pagination import Page, check_page

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERM_CHARS = 40
# `availability.launched_for` in the raw SQL below (`:until` is the viewer's `sees_until`).
LAUNCHED = "(p.launches_at IS NULL OR p.launches_at <= :until)"

SQLITE_SQL = f"""
    SELECT p.id FROM product_fts
    JOIN products p ON p.id = product_fts.rowid
    WHERE product_fts MATCH :match AND p.active AND {LAUNCHED}
    ORDER BY bm25(product_fts, 10.0, 1.0), p.order_count DESC, p.id
    LIMIT :limit OFFSET :offset
"""
SQLITE_COUNT = f"""
    SELECT count(*) FROM product_fts JOIN products p ON p.id = product_fts.rowid
    WHERE product_fts MATCH :match AND p.active AND {LAUNCHED}
"""
POSTGRES_SQL = f"""
    SELECT p.id FROM products p, to_tsquery('english', :match) q
    WHERE p.search_vector @@ q AND p.active AND {LAUNCHED}
    ORDER BY ts_rank(p.search_vector, q) DESC, p.order_count DESC, p.id
    LIMIT :limit OFFSET :offset
"""
POSTGRES_COUNT = f"""
    SELECT count(*) FROM products p
    WHERE p.search_vector @@ to_tsquery('english', :match) AND p.active AND {LAUNCHED}
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


# Words this long or shorter are not read as two (the alternatives grow with the length).
MAX_SPLIT_CHARS = 20


def split_alternatives(term: str) -> list[tuple[str, str]]:
    """Ways to read one word as two, the second long enough to match as a prefix
    ("tlight" as "t light", ...)."""
    if len(term) > MAX_SPLIT_CHARS:
        return []
    return [(term[:i], term[i:]) for i in range(1, len(term) - MIN_PREFIX_CHARS + 1)]


def _word(postgres: bool, t: str) -> str:
    prefix = len(t) >= MIN_PREFIX_CHARS
    if postgres:
        return f"{t}:*" if prefix else t
    return f'"{t}"*' if prefix else f'"{t}"'


def _two_words(postgres: bool, first: str, second: str) -> list[str]:
    if not postgres:
        # FTS5 splits "T-Light" into two tokens, so one phrase covers both spellings.
        return [f'"{first} {second}"*']
    hyphenated = [f"{first}-{second}:*"]
    # A one-letter first half is often an English stop word ("t", "s") that PostgreSQL
    # drops from a phrase, which would leave the second half matching on its own.
    return hyphenated + ([f"{first} <-> {second}:*"] if len(first) > 1 else [])


def _match_expression(dialect: str, terms: list[str], operator: str) -> str:
    postgres = dialect == "postgresql"
    both, either = (" & ", " | ") if postgres else (" AND ", " OR ")
    if operator == "OR":
        return either.join(_word(postgres, t) for t in terms)
    if operator == "SPLIT":
        return both.join(
            "("
            + either.join(
                [_word(postgres, t)]
                + [alt for pair in split_alternatives(t) for alt in _two_words(postgres, *pair)]
            )
            + ")"
            for t in terms
        )
    return either.join(
        "(" + both.join(_word(postgres, t) for t in alternative) + ")"
        for alternative in joined_alternatives(terms)
    )


def _run(
    session: Session, terms: list[str], operator: str, page: int, size: int, viewer: Viewer
) -> tuple[list[Product], int]:
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"search is not supported on {dialect}")
    match = _match_expression(dialect, terms, operator)
    sql, count_sql = (
        (SQLITE_SQL, SQLITE_COUNT) if dialect == "sqlite" else (POSTGRES_SQL, POSTGRES_COUNT)
    )
    until = bindparam("until", viewer.sees_until, type_=DateTime)
    count_query = text(count_sql).bindparams(until)
    total = int(session.execute(count_query, {"match": match}).scalar() or 0)
    if total == 0:
        return [], 0
    check_page(page, total, size)
    params = {"match": match, "limit": size, "offset": (page - 1) * size}
    ids = [row[0] for row in session.execute(text(sql).bindparams(until), params)]
    by_id = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id], total


def search_products(
    session: Session,
    query: str,
    *,
    page: int = 1,
    size: int = 24,
    max_chars: int = 200,
    viewer: Viewer | None = None,
) -> SearchResults:
    """Search the products on sale to `viewer` (default: everyone) by name and description,
    best matches first."""
    viewer = viewer or public_viewer()
    terms = search_terms(query, max_chars)
    if not terms:
        return SearchResults(query[:max_chars], [], Page([], 0, 1, size), True)
    products, total = _run(session, terms, "AND", page, size, viewer)
    if total == 0 and any(split_alternatives(t) for t in terms):
        products, total = _run(session, terms, "SPLIT", page, size, viewer)
    matched_all = True
    if total == 0 and len(terms) > 1:
        # Any of the words, leaving out one-letter ones (stray letters, parts of tags)
        # when there are longer words to go by.
        longer = [t for t in terms if len(t) >= MIN_PREFIX_CHARS] or terms
        products, total = _run(session, longer, "OR", page, size, viewer)
        matched_all = False
    if total == 0:
        check_page(page, 0, size)
    return SearchResults(query[:max_chars], terms, Page(products, total, page, size), matched_all)


def active_product_count(session: Session) -> int:
    """How many products are on sale to everyone (shown on the empty-search page)."""
    return int(session.scalar(select(func.count()).where(on_sale_to(public_viewer()))) or 0)
