"""robots.txt and the XML sitemap (https://www.sitemaps.org/protocol.html).

The sitemap lists the home page, every category with a product on sale and every product on
sale to everyone, at absolute addresses under the shop's base URL. Up to `limit` addresses
it is one file; beyond, /sitemap.xml is an index of numbered files of at most `limit` each
(the protocol allows 50,000), served at /sitemap-pages-N.xml and
/sitemap-products-N.xml. The files sit next to /sitemap.xml at the root, since a
sitemap may only list addresses under its own folder. The index costs one count query,
each file one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from shop.catalog.availability import on_sale_to, public_viewer
from shop.catalog.models import Category, Product
from shop.seo.meta import NOINDEX_PREFIXES, absolute_url, category_page_url, product_page_url

MAX_URLS = 50_000  # the protocol's limit per file
NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
PAGES, PRODUCTS = "pages", "products"
# Product links from recommendation lists carry a per-visitor ?rec=: the page's own address
# (its canonical) is enough for a crawler, and its visits would count as clicks on the list.
TRACKED_LINKS = ("/*?rec=", "/*&rec=")


def robots_txt(base_url: str) -> str:
    """robots.txt: the storefront is open, personal and per-visitor paths are not, and the
    sitemap is named by its absolute address."""
    prefix = urlsplit(base_url).path.rstrip("/")
    # Disallows first: crawlers of the original standard take the first rule that matches
    # (RFC 9309 ones the longest), so both read the same rules.
    lines = ["User-agent: *"]
    lines += [f"Disallow: {prefix}{path}" for path in NOINDEX_PREFIXES]
    lines += [f"Disallow: {prefix}{pattern}" for pattern in TRACKED_LINKS]
    lines += [f"Allow: {prefix}/", "", f"Sitemap: {absolute_url(base_url, '/sitemap.xml')}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Entry:
    """One address in a sitemap, with when its page last changed (None: not known)."""

    loc: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class SitemapPlan:
    """How many pages (home and categories) and products the sitemap lists, and in how many
    files of at most `limit` addresses."""

    pages: int
    products: int
    limit: int

    @property
    def split(self) -> bool:
        """True when the addresses do not fit in one file: /sitemap.xml is then an index."""
        return self.pages + self.products > self.limit

    def file_count(self, kind: str) -> int:
        """How many numbered files of this kind the index lists."""
        total = self.pages if kind == PAGES else self.products
        return -(-total // self.limit) if self.split else 0

    def file_names(self) -> list[str]:
        """The names of the numbered files, in index order (none when not split)."""
        return [
            file_name(kind, number)
            for kind in (PAGES, PRODUCTS)
            for number in range(1, self.file_count(kind) + 1)
        ]


def file_name(kind: str, number: int) -> str:
    """The name of a numbered sitemap file, e.g. sitemap-products-2.xml."""
    return f"sitemap-{kind}-{number}.xml"


def _public_products() -> tuple[ColumnElement[bool], ...]:
    return (on_sale_to(public_viewer()),)


def _product_lastmod() -> ColumnElement[datetime]:
    # A product page changes when it goes on sale (its launch, if later than its creation),
    # and with every later change of the product (its name, price or stock).
    on_sale = case(
        (
            and_(Product.launches_at.is_not(None), Product.launches_at > Product.created_at),
            Product.launches_at,
        ),
        else_=Product.created_at,
    )
    return case(
        (and_(Product.updated_at.is_not(None), Product.updated_at > on_sale), Product.updated_at),
        else_=on_sale,
    )


def plan(session: Session, limit: int = MAX_URLS) -> SitemapPlan:
    """Count what the sitemap lists (one query) and decide how to split it."""
    if not 1 <= limit <= MAX_URLS:
        raise ValueError(f"a sitemap file holds 1 to {MAX_URLS:,} addresses, not {limit}")
    categories = (
        select(func.count(func.distinct(Product.category_id)))
        .where(Product.category_id.is_not(None), *_public_products())
        .scalar_subquery()
    )
    products = select(func.count()).select_from(Product).where(*_public_products())
    row = session.execute(select(categories, products.scalar_subquery())).one()
    return SitemapPlan(pages=1 + int(row[0] or 0), products=int(row[1] or 0), limit=limit)


def page_entries(
    session: Session, base_url: str, *, offset: int = 0, limit: int = MAX_URLS
) -> list[Entry]:
    """The home page then the categories with a product on sale, from `offset` (the home page
    is number 0), each dated by its newest product (one query)."""
    entries = [Entry(absolute_url(base_url, "/"))] if offset == 0 else []
    query = (
        select(Category.slug, func.max(_product_lastmod()))
        .join(Product, Product.category_id == Category.id)
        .where(*_public_products())
        .group_by(Category.id, Category.slug, Category.position)
        .order_by(Category.position, Category.id)
        .offset(max(0, offset - 1))
        .limit(limit - len(entries))
    )
    entries += [
        Entry(category_page_url(base_url, slug), _as_datetime(when))
        for slug, when in session.execute(query)
    ]
    return entries


def product_entries(
    session: Session, base_url: str, *, offset: int = 0, limit: int = MAX_URLS
) -> list[Entry]:
    """Products on sale to everyone, in id order, from `offset` (one query)."""
    query = (
        select(Product.id, _product_lastmod())
        .where(*_public_products())
        .order_by(Product.id)
        .offset(offset)
        .limit(limit)
    )
    return [
        Entry(product_page_url(base_url, product_id), _as_datetime(when))
        for product_id, when in session.execute(query)
    ]


def _as_datetime(value: object) -> datetime | None:
    # SQLite hands back the text of an aggregated or CASE datetime column.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def sitemap_document(session: Session, base_url: str, limit: int = MAX_URLS) -> str:
    """/sitemap.xml: every address in one file, or the index of the numbered files."""
    layout = plan(session, limit)
    if layout.split:
        return sitemap_index(base_url, layout.file_names())
    entries = page_entries(session, base_url, limit=layout.pages)
    entries += product_entries(session, base_url, limit=max(layout.products, 1))
    return urlset(entries)


def sitemap_file(
    session: Session, base_url: str, kind: str, number: int, limit: int = MAX_URLS
) -> str | None:
    """A numbered file of the index (one query), or None past the last file of its kind."""
    if kind not in (PAGES, PRODUCTS) or not 1 <= number <= MAX_URLS:  # an index's limit too
        return None
    offset = (number - 1) * limit
    fetch = page_entries if kind == PAGES else product_entries
    entries = fetch(session, base_url, offset=offset, limit=limit)
    return urlset(entries) if entries else None


def _w3c(when: datetime) -> str:
    return when.replace(microsecond=0, tzinfo=None).isoformat() + "+00:00"  # stored as UTC


def _document(root: str, children: Iterable[str]) -> str:
    return "".join(_lines(root, children))


def _lines(root: str, children: Iterable[str]) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    yield f'<{root} xmlns="{NAMESPACE}">\n'
    yield from children
    yield f"</{root}>\n"


def urlset(entries: Iterable[Entry]) -> str:
    """A sitemap file listing `entries`."""

    def url(entry: Entry) -> str:
        lastmod = f"<lastmod>{_w3c(entry.lastmod)}</lastmod>" if entry.lastmod else ""
        return f"<url><loc>{escape(entry.loc)}</loc>{lastmod}</url>\n"

    return _document("urlset", (url(entry) for entry in entries))


def sitemap_index(base_url: str, names: Iterable[str]) -> str:
    """A sitemap index naming the numbered files."""
    return _document(
        "sitemapindex",
        (
            f"<sitemap><loc>{escape(absolute_url(base_url, '/' + n))}</loc></sitemap>\n"
            for n in names
        ),
    )
