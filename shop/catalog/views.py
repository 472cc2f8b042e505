"""Storefront pages: home, category listings, product pages, search and product pictures."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from shop import personalization
from shop.cart.forms import AddToCartForm
from shop.catalog import services
from shop.catalog.availability import in_early_access
from shop.catalog.images import product_svg
from shop.catalog.models import Product
from shop.catalog.raster import SHAPES, product_png
from shop.catalog.search import RELEVANCE, SORT_LABELS, active_product_count, search_products
from shop.catalog.stock_alert_views import alert_state
from shop.db import db
from shop.pagination import PageError, parse_page
from shop.tracking.recorder import record
from shop.web_context import catalogue_viewer

bp = Blueprint("catalog", __name__)


def _page_arg() -> int:
    try:
        return parse_page(request.args.get("page"))
    except PageError as exc:
        abort(exc.status, str(exc))


@bp.get("/")
def home() -> str:
    """Home page: personal recommendations (or what is popular), buy it again, best sellers."""
    recommended, buy_again = personalization.service().home(
        db.session, personalization.current_shopper()
    )
    return render_template(
        "shop/home.html",
        bestsellers=services.bestsellers(db.session, limit=12),
        recommended=recommended,
        buy_again=buy_again,
    )


@bp.get("/c/<slug>")
def category(slug: str) -> str | Response:
    """A category's products, paginated and sortable."""
    if slug != slug.lower():  # a typed or shouted address: the category's own one
        return redirect(url_for("catalog.category", slug=slug.lower(), **request.args), 301)
    page = _page_arg()
    sort = request.args.get("sort", "popular")
    try:
        listing = services.category_listing(
            db.session,
            slug,
            sort=sort,
            page=page,
            size=current_app.config["PAGE_SIZE"],
            viewer=catalogue_viewer(),
        )
    except services.NotFoundError as exc:
        abort(404, str(exc))
    except PageError as exc:
        abort(exc.status, str(exc))
    record("category_view", category_id=listing.category.id)
    return render_template("shop/category.html", listing=listing, sorts=services.SORT_LABELS)


@bp.get("/products/<int:product_id>")
def product(product_id: int) -> str:
    """A product page with its price, stock status and an add-to-cart form."""
    try:
        item = services.get_product(db.session, product_id, catalogue_viewer())
    except services.NotFoundError as exc:
        abort(404, str(exc))
    rec_id = personalization.clicked_rec_id(db.session, request.args.get("rec"), item.id)
    if rec_id:
        if personalization.clicked_from(item.id) != rec_id:  # not a reload of the same click
            record("rec_click", product_id=item.id, rec_id=rec_id)
        personalization.remember_click(item.id, rec_id)
    else:  # reached some other way (search, category, cart, a bookmark): not the list's
        personalization.forget_click(item.id)
    record("product_view", product_id=item.id, category_id=item.category_id, rec_id=rec_id)
    return render_product_page(item, AddToCartForm(product_id=item.id, quantity=1))


def render_product_page(item: Product, form: AddToCartForm) -> str:
    """The product page with its form (fresh, or showing why an add failed) and the
    shoppers-who-bought-this list."""
    also_bought = personalization.service().for_product(
        db.session, personalization.current_shopper(), item.id
    )
    return render_template(
        "shop/product.html",
        product=item,
        form=form,
        also_bought=also_bought,
        early_access=in_early_access(item, catalogue_viewer()),
        stock_alert=alert_state(item),
    )


@bp.get("/products/<int:product_id>/image.svg")
def product_image(product_id: int) -> Response:
    """The generated picture of a product (cacheable)."""
    item = _pictured_product(product_id)
    body = product_svg(item.name, _category_slug(item), item.sku)
    return _picture_response(item, body, "image/svg+xml")


@bp.get("/products/<int:product_id>/image-<any(" + ", ".join(SHAPES) + "):shape>.png")
def product_image_png(product_id: int, shape: str) -> Response:
    """The product's picture as a PNG of one of the raster shapes (link previews and search
    engines take no SVG)."""
    item = _pictured_product(product_id)
    body = product_png(item.name, _category_slug(item), item.sku, shape)
    return _picture_response(item, body, "image/png")


def _pictured_product(product_id: int) -> Product:
    try:
        return services.get_product(db.session, product_id, catalogue_viewer())
    except services.NotFoundError:
        abort(404)


def _category_slug(item: Product) -> str | None:
    return item.category.slug if item.category else None


def _picture_response(item: Product, body: str | bytes, mimetype: str) -> Response:
    # Cached for a day; the ETag (a hash of the picture) lets a cache revalidate cheaply
    # and changes with the product's name or category.
    response = Response(body, mimetype=mimetype)
    if in_early_access(item, catalogue_viewer()):
        response.cache_control.private = True  # a shared cache must not show it to everyone
    else:
        response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/search")
def search() -> str:
    """Full-text search over product names and descriptions."""
    raw = request.args.get("q", "")
    page = _page_arg()
    max_chars = current_app.config["SEARCH_MAX_QUERY_CHARS"]
    try:
        results = search_products(
            db.session,
            raw,
            page=page,
            size=current_app.config["PAGE_SIZE"],
            max_chars=max_chars,
            viewer=catalogue_viewer(),
            sort=request.args.get("sort", RELEVANCE),
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    # Paging through the results, or sorting them, is not a new search.
    if results.terms and page == 1 and "sort" not in request.args:
        record("search", query=results.query, result_count=results.page.total)
    return render_template(
        "shop/search.html",
        results=results,
        sorts=SORT_LABELS,
        truncated=len(raw) > max_chars,
        catalogue_size=active_product_count(db.session) if not results.page.total else 0,
    )


@bp.get("/early-access")
def early_access() -> str:
    """New products the shopper may buy before they launch to everyone (a member benefit)."""
    page = _page_arg()
    viewer = catalogue_viewer()
    try:
        products = services.early_access_listing(
            db.session, viewer, page=page, size=current_app.config["PAGE_SIZE"]
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    return render_template("shop/early_access.html", products=products, viewer=viewer)
