"""Catalogue queries: navigation, bestsellers, category listings and product lookup."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from shop.catalog.availability import Viewer, is_launched_for, on_sale_to, public_viewer
from shop.catalog.models import Category, Product
from shop.pagination import Page, check_page

SORTS = {
    "popular": (Product.order_count.desc(), Product.id),
    "price_asc": (Product.price_pence.asc(), Product.id),
    "price_desc": (Product.price_pence.desc(), Product.id),
    "name": (Product.name.asc(), Product.id),
}
SORT_LABELS = {
    "popular": "Most popular",
    "price_asc": "Price: low to high",
    "price_desc": "Price: high to low",
    "name": "Name: A to Z",
}


class NotFoundError(LookupError):
    """The requested catalogue item does not exist (or is not for sale)."""


@dataclass(frozen=True)
class CategoryListing:
    """A category with one page of its products."""

    category: Category
    page: Page[Product]
    sort: str


def navigation_categories(session: Session) -> list[Category]:
    """Categories that have at least one product on sale to everyone, in display order."""
    has_products = (
        select(Product.id)
        .where(Product.category_id == Category.id, on_sale_to(public_viewer()))
        .exists()
    )
    return list(session.scalars(select(Category).where(has_products).order_by(Category.position)))


def bestsellers(session: Session, limit: int = 8) -> list[Product]:
    """The most-ordered products on sale to everyone that are in stock."""
    query = (
        select(Product)
        .where(on_sale_to(public_viewer()), Product.stock_qty > 0)
        .order_by(Product.order_count.desc(), Product.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def category_listing(
    session: Session,
    slug: str,
    *,
    sort: str = "popular",
    page: int = 1,
    size: int = 24,
    viewer: Viewer | None = None,
) -> CategoryListing:
    """One page of a category's products on sale to `viewer` (default: everyone); raise
    NotFoundError for an unknown slug."""
    category = session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFoundError(f"There is no category called {slug!r}.")
    if sort not in SORTS:
        sort = "popular"
    where = (Product.category_id == category.id, on_sale_to(viewer or public_viewer()))
    total = session.scalar(select(func.count()).select_from(Product).where(*where)) or 0
    check_page(page, total, size)
    products = session.scalars(
        select(Product).where(*where).order_by(*SORTS[sort]).limit(size).offset((page - 1) * size)
    )
    return CategoryListing(category, Page(list(products), total, page, size), sort)


def get_product(session: Session, product_id: int, viewer: Viewer | None = None) -> Product:
    """A product on sale to `viewer` (default: everyone), with its category; raise
    NotFoundError when missing, inactive or not launched for them."""
    product = session.scalar(
        select(Product).options(joinedload(Product.category)).where(Product.id == product_id)
    )
    if (
        product is None
        or not product.active
        or not is_launched_for(product, viewer or public_viewer())
    ):
        raise NotFoundError("We couldn't find that product. It may no longer be sold.")
    return product


def early_access_listing(
    session: Session, viewer: Viewer, *, page: int = 1, size: int = 24
) -> Page[Product]:
    """The active products this viewer may buy before their launch, soonest launch first."""
    where = (
        Product.active.is_(True),
        Product.launches_at > viewer.now,
        Product.launches_at <= viewer.sees_until,
    )
    total = session.scalar(select(func.count()).select_from(Product).where(*where)) or 0
    check_page(page, total, size)
    products = session.scalars(
        select(Product)
        .where(*where)
        .order_by(Product.launches_at, Product.id)
        .limit(size)
        .offset((page - 1) * size)
    )
    return Page(list(products), total, page, size)


def add_to_products(session: Session, column: Any, amounts: Mapping[int, int]) -> None:
    """Add `amounts[product_id]` to each product's `column` (say `Product.stock_qty`), one
    statement per product in product-id order: the order checkouts lock products in, since
    two transactions locking the same products in crossed order can deadlock on PostgreSQL."""
    for product_id in sorted(amounts):
        session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values({column: column + amounts[product_id]})
            .execution_options(synchronize_session=False)
        )
