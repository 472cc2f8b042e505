"""The head of a page as search engines and link previews read it: canonical addresses,
descriptions, the robots rule and a product's schema.org data. Plain functions of the shop's
base URL and the catalogue rows, so that tests call them without a request."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shop.catalog.models import Product
from shop.catalog.raster import SHAPES, SOCIAL, STRUCTURED_DATA
from shop.money import format_money, plain_amount
from shop.security_headers import PRIVATE_PREFIXES
from shop.wording import counted

# Search engines show about this many characters of a description.
DESCRIPTION_CHARS = 155
# Paths no search engine should list: personal or secret-link pages (those that are never
# cached), what only some shoppers may see (early access), and machine endpoints.
NOINDEX_PREFIXES = (*PRIVATE_PREFIXES, "/early-access", "/webhooks")
SCHEMA_ORG = "https://schema.org"


def absolute_url(base_url: str, path: str) -> str:
    """The shop's own `path` (from the app's root, starting with /) as an absolute URL."""
    return base_url.rstrip("/") + path


def product_page_url(base_url: str, product_id: int) -> str:
    """The one address of a product page, without list or campaign parameters."""
    return absolute_url(base_url, f"/products/{int(product_id)}")


def product_image_url(base_url: str, product_id: int, shape: str = SOCIAL) -> str:
    """The absolute address of a product's PNG picture of one of the raster shapes (link
    previews and search engines take no SVG)."""
    if shape not in SHAPES:
        raise ValueError(f"no {shape!r} picture; one of {', '.join(SHAPES)}")
    return absolute_url(base_url, f"/products/{int(product_id)}/image-{shape}.png")


def product_preview_image(product: Product, base_url: str) -> dict[str, Any]:
    """The link-preview picture of a product page (og:image and its size, type and alt)."""
    shape = SHAPES[SOCIAL]
    return {
        "url": product_image_url(base_url, product.id, SOCIAL),
        "width": shape.width,
        "height": shape.height,
        "type": "image/png",
        "alt": product.name,
    }


def category_page_url(base_url: str, slug: str, page: int = 1) -> str:
    """A category page's canonical address: sorting is dropped (the same products, reordered),
    a later page keeps its number (it lists other products, so it is a page of its own)."""
    url = absolute_url(base_url, f"/c/{quote(slug, safe='')}")
    return f"{url}?page={int(page)}" if page > 1 else url


def trim_description(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    """`text` on one line, cut at a word boundary with an ellipsis when longer than `limit`."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    head = words[: limit - 1]  # room for the ellipsis
    if words[limit - 1] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:.-\u2013\u2014") + "…"


def product_description(product: Product, shop_name: str) -> str:
    """A product page's meta description: its own description, or (the imported catalogue has
    none) its name, price and item code."""
    if product.description.strip():
        return trim_description(product.description)
    price = format_money(product.price_pence, product.currency)
    return trim_description(f"{product.name}, {price} at {shop_name}. Item code {product.sku}.")


def category_description(name: str, total: int, shop_name: str) -> str:
    """A category page's meta description."""
    return trim_description(f"{name} at {shop_name}: {counted(total, 'product')} to browse.")


def product_structured_data(product: Product, base_url: str, shop_name: str) -> dict[str, Any]:
    """schema.org `Product` with its `Offer`, for a JSON-LD script (render it with `tojson`,
    which escapes `<`, so no name can close the script)."""
    url = product_page_url(base_url, product.id)
    availability = "InStock" if product.in_stock else "OutOfStock"
    return {
        "@context": SCHEMA_ORG,
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
        # Google asks for 1:1, 4:3 and 16:9 pictures.
        "image": [product_image_url(base_url, product.id, shape) for shape in STRUCTURED_DATA],
        "description": " ".join(product.description.split())
        or product_description(product, shop_name),
        "url": url,
        "offers": {
            "@type": "Offer",
            "url": url,
            "price": plain_amount(product.price_pence),  # a decimal text, never a float
            "priceCurrency": product.currency,
            "availability": f"{SCHEMA_ORG}/{availability}",
        },
    }


def noindex_path(path: str) -> bool:
    """True for paths of pages no search engine should list (account, cart, checkout, order,
    console, preference and early-access pages)."""
    return any(path == p or path.startswith(f"{p}/") for p in NOINDEX_PREFIXES)
