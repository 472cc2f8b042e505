"""/robots.txt, /sitemap.xml (and its numbered files), and the helpers page heads use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from shop.catalog.models import Product
from shop.db import db
from shop.seo import crawling, meta

bp = Blueprint("seo", __name__)


def _base_url() -> str:
    return str(current_app.config["SHOP_BASE_URL"])


def _limit() -> int:
    # Addresses per sitemap file: the protocol's 50,000 (tests set SITEMAP_MAX_URLS lower).
    limit = int(current_app.config.get("SITEMAP_MAX_URLS") or crawling.MAX_URLS)
    return max(1, min(limit, crawling.MAX_URLS))


def _xml(body: str) -> Response:
    return Response(body, mimetype="application/xml")


@bp.get("/robots.txt")
def robots() -> Response:
    """Which paths crawlers may visit, and where the sitemap is."""
    return Response(crawling.robots_txt(_base_url()), mimetype="text/plain")


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """The sitemap, or the index of its files for a large catalogue."""
    return _xml(crawling.sitemap_document(db.session, _base_url(), _limit()))


@bp.get("/sitemap-<kind>-<int:number>.xml")
def sitemap_file(kind: str, number: int) -> Response:
    """One numbered file of the sitemap index."""
    body = crawling.sitemap_file(db.session, _base_url(), kind, number, _limit())
    if body is None:
        abort(404)
    return _xml(body)


@bp.app_template_global()
def seo_url(path: str) -> str:
    """The shop's own path as an absolute address under the configured base URL."""
    return meta.absolute_url(_base_url(), path)


@bp.app_template_global()
def seo_category_url(slug: str, page: int = 1) -> str:
    """A category page's canonical address."""
    return meta.category_page_url(_base_url(), slug, page)


@bp.app_template_global()
def seo_category_description(name: str, total: int) -> str:
    """A category page's meta description."""
    return meta.category_description(name, total, current_app.config["SHOP_NAME"])


@bp.app_template_global()
def seo_product(product: Product) -> dict[str, Any]:
    """What a product page's head says about it: address, picture, description, JSON-LD."""
    base, shop_name = _base_url(), current_app.config["SHOP_NAME"]
    return {
        "url": meta.product_page_url(base, product.id),
        "image": meta.product_preview_image(product, base),
        "description": meta.product_description(product, shop_name),
        "structured_data": meta.product_structured_data(product, base, shop_name),
    }


@bp.app_template_global()
def seo_noindex(flagged: bool = False, status: int | None = None) -> bool:
    """True when this page should carry `noindex`: the template flagged it, it is an error
    page, or its path is personal or per-visitor."""
    return flagged or (status is not None and status >= 400) or meta.noindex_path(request.path)
