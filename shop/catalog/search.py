"""Relevance-ranked full-text product search: FTS5 (bm25) on SQLite, tsvector on PostgreSQL.

Every word must match (as a prefix, after stemming), two neighbouring words also when the
product writes them as one. When nothing matches, a word may also be read as two ("tlight"
finds "T-Light", "lunchbag" finds "Lunch Bag"). When still no product matches every word,
the search falls back to products matching any word and says so.

A query that could be an item code (SKU) also finds the product with that code, first, and
the products whose codes start with it, after the word matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import DateTime, bindparam, func, select, text
from sqlalchemy.orm import Session

from shop.catalog.availability import Viewer, on_sale_to, public_viewer
from shop.catalog.models import Product
from shop.catalog.services import SORT_LABELS as CATEGORY_SORT_LABELS
from shop.pagination import Page, check_page

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERM_CHARS = 40
# `availability.launched_for` in the raw SQL below (`:until` is the viewer's `sees_until`).
LAUNCHED = "(p.launches_at IS NULL OR p.launches_at <= :until)"

# Products matched by words (tier 1), by their exact code (tier 0, first) or by the start of
# their code (tier 2, after the word matches, in code order). A product matched both ways
# takes its best tier. SKUs are stored upper-case (the importer and the console upper-case
# them), so the upper-cased query is matched case-sensitively, which an index can serve:
# SQLite's GLOB uses the unique index on products.sku; PostgreSQL's LIKE 'ABC%' uses
# ix_products_sku_pattern (varchar_pattern_ops; a plain index only serves it under the C
# collation).
# `rank` is bm25 with these column weights; unlike a bm25() call it can be read from a
# subquery that SQLite flattens.
SQLITE_HITS = """
    SELECT rowid AS id, 1 AS tier, rank AS score FROM product_fts
    WHERE product_fts MATCH :match AND rank MATCH 'bm25(10.0, 1.0)'
"""
SQLITE_CODE_HITS = """
    SELECT id, CASE WHEN sku = :code THEN 0 ELSE 2 END AS tier, 0.0 AS score
    FROM products WHERE sku GLOB :code_pattern
"""
# Every word-matching product is about as relevant to a one- or two-word query ("heart"
# matches 250 names, whose bm25 differs by a tenth, mostly by name length), so how often a
# product is bought weighs in: its relevance is multiplied by 1 + w * n / (n + h) for n
# orders (w POPULARITY_WEIGHT, h POPULARITY_HALF), at most 1.5 for the best sellers. That
# stays below what a match in the name (weighted 10) adds over one only in the description
# (bm25 saturates a word's count: about 1.6x to 3x), so a description match stays below.
POPULARITY_WEIGHT = 0.5
POPULARITY_HALF = 250
POPULARITY_BOOST = (
    f"(1 + {POPULARITY_WEIGHT} * CAST(p.order_count AS REAL) / (p.order_count + {POPULARITY_HALF}))"
)
SQLITE_ORDER = f"hit.tier, hit.score * {POPULARITY_BOOST}"
POSTGRES_HITS = """
    SELECT p.id, 1 AS tier, ts_rank(p.search_vector, q) AS score
    FROM products p, to_tsquery('english', :match) q WHERE p.search_vector @@ q
"""
POSTGRES_CODE_HITS = r"""
    SELECT id, CASE WHEN sku = :code THEN 0 ELSE 2 END AS tier, 0::real AS score
    FROM products WHERE sku LIKE :code_pattern ESCAPE '\'
"""
POSTGRES_ORDER = f"hit.tier, hit.score * {POPULARITY_BOOST} DESC"
# The other orders a shopper may choose (the category pages' sorts), over the same hits.
SORT_ORDERS = {
    "popular": "p.order_count DESC, p.id",
    "price_asc": "p.price_pence ASC, p.id",
    "price_desc": "p.price_pence DESC, p.id",
    "name": "p.name ASC, p.id",
}
RELEVANCE = "relevance"
SORT_LABELS = {RELEVANCE: "Best match", **CATEGORY_SORT_LABELS}
# bm25 is better when lower, ts_rank when higher; code hits score 0 on both, which both
# aggregates below pass over when the product also matched by words.
SQLITE_BEST_SCORE = "min(score)"
POSTGRES_BEST_SCORE = "max(score)"


def _hits_sql(dialect: str, with_code: bool, sort: str = RELEVANCE) -> tuple[str, str]:
    """The page query and the count query for the hits of one search, in `sort` order."""
    postgres = dialect == "postgresql"
    hits = POSTGRES_HITS if postgres else SQLITE_HITS
    if with_code:
        hits += " UNION ALL " + (POSTGRES_CODE_HITS if postgres else SQLITE_CODE_HITS)
    best_score = POSTGRES_BEST_SCORE if postgres else SQLITE_BEST_SCORE
    order = POSTGRES_ORDER if postgres else SQLITE_ORDER
    found = f"""
        (SELECT id, min(tier) AS tier, {best_score} AS score FROM ({hits}) AS h GROUP BY id)
        AS hit JOIN products p ON p.id = hit.id
        WHERE p.active AND {LAUNCHED}
    """
    if sort != RELEVANCE:
        order = SORT_ORDERS[sort]
    else:
        order += ", CASE WHEN hit.tier = 2 THEN p.sku END, p.order_count DESC, p.id"
    page_sql = f"SELECT p.id FROM {found} ORDER BY {order} LIMIT :limit OFFSET :offset"
    return page_sql, f"SELECT count(*) FROM {found}"


@dataclass(frozen=True)
class SearchResults:
    """A page of search hits, and whether they match all words or only some."""

    query: str
    terms: list[str]
    page: Page[Product]
    matched_all_terms: bool
    sort: str = RELEVANCE


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


# What an item code is made of (as `console.catalog_admin.check_sku` allows); shorter
# queries are words or stray letters, not codes.
CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9._/-]*")
MIN_CODE_CHARS = 3
MAX_CODE_CHARS = 40


def code_query(query: str) -> str | None:
    """The query as an item code (trimmed, upper case), or None when it cannot be one."""
    code = query.strip().upper()
    if not MIN_CODE_CHARS <= len(code) <= MAX_CODE_CHARS or not CODE_RE.fullmatch(code):
        return None
    return code


# LIKE's wildcards and its escape character (ESCAPE '\' in the SQL), GLOB's wildcards.
LIKE_SPECIAL = re.compile(r"([\\%_])")
GLOB_SPECIAL = re.compile(r"([*?[])")


def code_pattern(dialect: str, code: str) -> str:
    """The pattern matching the item codes that start with `code`, its characters taken
    literally: LIKE with backslash escapes on PostgreSQL (a left-anchored LIKE reads the
    `varchar_pattern_ops` index of migration 0023), GLOB on SQLite (case-sensitive, so it
    reads the unique index on products.sku)."""
    if dialect == "postgresql":
        return LIKE_SPECIAL.sub(r"\\\1", code) + "%"
    return GLOB_SPECIAL.sub(r"[\1]", code) + "*"


@dataclass(frozen=True)
class SearchSQL:
    """One search's page query, count query and parameters (`until`, a DateTime, is bound
    by the caller; the page query also takes `limit` and `offset`)."""

    page: str
    count: str
    params: dict[str, object]


def search_sql(
    dialect: str,
    terms: list[str],
    operator: str = "AND",
    code: str | None = None,
    sort: str = RELEVANCE,
) -> SearchSQL:
    """The SQL that finds products by `terms` (joined by `operator`: AND, OR or SPLIT) and,
    with `code` (see `code_query`), by item code and its start; in `sort` order."""
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"search is not supported on {dialect}")
    params: dict[str, object] = {"match": _match_expression(dialect, terms, operator)}
    if code is not None:
        params["code"] = code
        params["code_pattern"] = code_pattern(dialect, code)
    page_sql, count_sql = _hits_sql(dialect, code is not None, sort)
    return SearchSQL(page_sql, count_sql, params)


def _run(
    session: Session,
    terms: list[str],
    operator: str,
    page: int,
    size: int,
    viewer: Viewer,
    code: str | None = None,
    sort: str = RELEVANCE,
) -> tuple[list[Product], int]:
    found = search_sql(session.get_bind().dialect.name, terms, operator, code, sort)
    params = dict(found.params)
    until = bindparam("until", viewer.sees_until, type_=DateTime)
    total = int(session.execute(text(found.count).bindparams(until), params).scalar() or 0)
    if total == 0:
        return [], 0
    check_page(page, total, size)
    params.update(limit=size, offset=(page - 1) * size)
    ids = [row[0] for row in session.execute(text(found.page).bindparams(until), params)]
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
    sort: str = RELEVANCE,
) -> SearchResults:
    """Search the products on sale to `viewer` (default: everyone) by name and description,
    best matches first (more often bought ones first among equal matches), and by item
    code: the product whose code the query is comes first, those whose codes start with it
    after the word matches. Another `sort` (a key of SORT_LABELS; an unknown one is
    relevance) orders the same hits by popularity, price or name."""
    viewer = viewer or public_viewer()
    sort = sort if sort in SORT_LABELS else RELEVANCE
    terms = search_terms(query, max_chars)
    if not terms:
        return SearchResults(query[:max_chars], [], Page([], 0, 1, size), True, sort)
    code = code_query(query[:max_chars])
    products, total = _run(session, terms, "AND", page, size, viewer, code, sort)
    if total == 0 and any(split_alternatives(t) for t in terms):
        products, total = _run(session, terms, "SPLIT", page, size, viewer, sort=sort)
    matched_all = True
    if total == 0 and len(terms) > 1:
        # Any of the words, leaving out one-letter ones (stray letters, parts of tags)
        # when there are longer words to go by.
        longer = [t for t in terms if len(t) >= MIN_PREFIX_CHARS] or terms
        products, total = _run(session, longer, "OR", page, size, viewer, sort=sort)
        matched_all = False
    if total == 0:
        check_page(page, 0, size)
    found = Page(products, total, page, size)
    return SearchResults(query[:max_chars], terms, found, matched_all, sort)


def active_product_count(session: Session) -> int:
    """How many products are on sale to everyone (shown on the empty-search page)."""
    return int(session.scalar(select(func.count()).where(on_sale_to(public_viewer()))) or 0)
