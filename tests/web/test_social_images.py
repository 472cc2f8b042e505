"""PNG product pictures for link previews and search engines (which take no SVG): the routes,
their caching, names the font cannot draw, and the page-head tags that point at them."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any
from urllib import robotparser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import utcnow
from tests import factories

BASE = "https://shop.example"
LD_JSON = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZES = {"social": (1200, 630), "square": (1200, 1200), "4x3": (1200, 900), "16x9": (1200, 675)}


@pytest.fixture
def based(app: Flask) -> Flask:
    """The app with an https base URL unlike the test client's host (http://localhost)."""
    app.config["SHOP_BASE_URL"] = BASE
    return app


@pytest.fixture
def items(session: Session) -> dict[str, Product]:
    return factories.small_catalogue(session)


def _png(client: FlaskClient, product_id: int, shape: str = "social") -> Image.Image:
    response = client.get(f"/products/{product_id}/image-{shape}.png")
    assert response.status_code == 200, shape
    assert response.mimetype == "image/png"
    body = response.get_data()
    assert body.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(body))
    image.load()
    assert image.format == "PNG"
    return image


def _pixels(image: Image.Image) -> bytes:
    return image.convert("RGB").tobytes()


def _named(session: Session, name: str, sku: str = "N1") -> Product:
    """A product of its own category, committed."""
    cat = factories.category(session, "kitchen-dining", "Kitchen")
    item = factories.product(session, cat, sku=sku, name=name)
    session.commit()
    return item


def test_each_shape_is_a_png_of_its_stated_size(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    for shape, size in SIZES.items():
        assert _png(client, items["heart"].id, shape).size == size


def test_the_picture_is_cacheable_and_revalidates_with_its_etag(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    path = f"/products/{items['heart'].id}/image-social.png"
    response = client.get(path)
    assert "public" in response.headers["Cache-Control"]
    assert "max-age=86400" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""


def test_the_etag_changes_when_the_name_or_category_changes(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    path = f"/products/{heart.id}/image-social.png"
    first = client.get(path).headers["ETag"]
    heart.name = "Red Hanging Heart T-Light Holder"
    session.commit()
    renamed = client.get(path, headers={"If-None-Match": first})
    assert renamed.status_code == 200 and renamed.headers["ETag"] != first
    heart.category = items["jumbo"].category
    session.commit()
    moved = client.get(path, headers={"If-None-Match": renamed.headers["ETag"]})
    assert moved.status_code == 200
    assert moved.headers["ETag"] not in (first, renamed.headers["ETag"])


def test_two_products_get_different_pictures(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    heart, lantern, jumbo = items["heart"], items["lantern"], items["jumbo"]
    # Same category (palette and motif): the names and dots differ; another category too.
    assert _pixels(_png(client, heart.id)) != _pixels(_png(client, lantern.id))
    assert _pixels(_png(client, heart.id)) != _pixels(_png(client, jumbo.id))


def _pictures(client: FlaskClient, item: Product) -> list[bytes]:
    return [_pixels(_png(client, item.id, shape)) for shape in SIZES]


def test_accented_letters_are_drawn(client: FlaskClient, session: Session) -> None:
    item = _named(session, "Crème brûlée dish für Müller")
    accented = _pictures(client, item)
    item.name = "Creme brulee dish fur Muller"
    session.commit()
    plain = _pictures(client, item)
    assert all(a != p for a, p in zip(accented, plain, strict=True))


def test_characters_the_font_lacks_are_left_out_without_an_error(
    client: FlaskClient, session: Session
) -> None:
    item = _named(session, "Tea set 茶 😀")
    mixed = _pictures(client, item)
    item.name = "Tea set"
    session.commit()
    assert _pictures(client, item) == mixed
    item.name = "茶碗"  # nothing the font can draw: the picture without a caption
    session.commit()
    for shape, size in SIZES.items():
        assert _png(client, item.id, shape).size == size


def test_a_very_long_name_is_wrapped_and_cut(client: FlaskClient, session: Session) -> None:
    words = ("Hand-painted ceramic garden gnome with lantern and fishing rod " * 4)[:200]
    long_name = _named(session, words.strip(), sku="L1")
    one_word = factories.product(session, long_name.category, sku="L2", name="W" * 200)
    session.commit()
    for shape, size in SIZES.items():
        assert _png(client, long_name.id, shape).size == size
        assert _png(client, one_word.id, shape).size == size


def test_unknown_hidden_or_unlaunched_products_and_shapes_are_404s(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    soon = factories.product(session, None, sku="S1", name="Next Year's Lantern")
    soon.launches_at = utcnow() + timedelta(days=30)
    session.commit()
    for path in (
        "/products/999999/image-social.png",
        "/products/9223372036854775808/image-square.png",
        f"/products/{items['retired'].id}/image-social.png",
        f"/products/{soon.id}/image-social.png",
        f"/products/{items['heart'].id}/image-banner.png",
        f"/products/{items['heart'].id}/image-social.jpg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Back to the shop" in response.get_data(as_text=True)


def _head(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True).split("<body", 1)[0]


def _meta(head: str, key: str) -> list[str]:
    return re.findall(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', head)


def test_the_product_page_previews_with_the_social_png(
    based: Flask, client: FlaskClient, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    head = _head(client, f"/products/{heart.id}")
    image_url = f"{BASE}/products/{heart.id}/image-social.png"
    assert _meta(head, "og:image") == [image_url]
    assert _meta(head, "og:image:type") == ["image/png"]
    assert _meta(head, "og:image:width") == ["1200"]
    assert _meta(head, "og:image:height") == ["630"]
    assert _meta(head, "og:image:alt") == ["White Hanging Heart T-Light Holder"]
    assert _meta(head, "twitter:card") == ["summary_large_image"]
    assert ".svg" not in "".join(_meta(head, "og:image"))
    # The address serves that picture at that size.
    assert _png(client, heart.id, "social").size == (1200, 630)


def test_the_json_ld_names_the_square_4x3_and_16x9_pngs(
    based: Flask, client: FlaskClient, items: dict[str, Product]
) -> None:
    heart = items["heart"]
    scripts = LD_JSON.findall(_head(client, f"/products/{heart.id}"))
    data: dict[str, Any] = json.loads(scripts[0])
    assert data["image"] == [
        f"{BASE}/products/{heart.id}/image-square.png",
        f"{BASE}/products/{heart.id}/image-4x3.png",
        f"{BASE}/products/{heart.id}/image-16x9.png",
    ]
    for url, shape in zip(data["image"], ("square", "4x3", "16x9"), strict=True):
        path = url.removeprefix(BASE)
        assert client.get(path).status_code == 200
        width, height = _png(client, heart.id, shape).size
        assert width * height >= 50_000  # Google's smallest


def test_robots_txt_lets_crawlers_fetch_the_pictures_the_page_names(
    based: Flask, client: FlaskClient, items: dict[str, Product]
) -> None:
    head = _head(client, f"/products/{items['heart'].id}")
    scripts = LD_JSON.findall(head)
    urls = _meta(head, "og:image") + json.loads(scripts[0])["image"]
    assert len(urls) == 4 and all(url.endswith(".png") for url in urls)
    rules = robotparser.RobotFileParser()
    rules.parse(client.get("/robots.txt").get_data(as_text=True).splitlines())
    for url in urls:
        assert rules.can_fetch("facebookexternalhit", url), url
        assert rules.can_fetch("Googlebot", url), url
