"""Storefront pages through the test client: content, sorting, paging and bad input."""

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests import factories


def test_home_shows_categories_and_in_stock_bestsellers(
    client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    html = client.get("/").get_data(as_text=True)
    assert "Shop by category" in html
    assert 'href="/c/candles"' in html and 'href="/c/bags"' in html
    bestsellers = html.split("Bestsellers", 1)[1]
    assert bestsellers.index("Jumbo Bag Red Retrospot") < bestsellers.index("White Hanging Heart")
    assert "Lunch Bag Red Retrospot" not in bestsellers  # out of stock
    assert "Retired Paper Bag" not in html  # inactive


def test_category_sorts_by_price_and_name(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    by_price = client.get("/c/candles?sort=price_desc").get_data(as_text=True)
    assert by_price.index("White Metal Lantern") < by_price.index("White Hanging Heart")
    by_pop = client.get("/c/candles").get_data(as_text=True)
    assert by_pop.index("White Hanging Heart") < by_pop.index("White Metal Lantern")
    assert "2 products" in by_pop


def test_category_pagination(client: FlaskClient, session: Session) -> None:
    cat = factories.category(session, "christmas", "Christmas")
    for i in range(30):
        factories.product(session, cat, sku=f"X{i:03d}", name=f"Bauble {i:03d}", orders=100 - i)
    session.commit()
    first = client.get("/c/christmas").get_data(as_text=True)
    assert "Page 1 of 2" in first and "Bauble 000" in first and "Bauble 029" not in first
    second = client.get("/c/christmas?page=2").get_data(as_text=True)
    assert "Bauble 029" in second and "Bauble 000" not in second


def test_a_category_address_in_capitals_leads_to_its_own_address(
    client: FlaskClient, session: Session
) -> None:
    cat = factories.category(session, "christmas", "Christmas")
    factories.product(session, cat, sku="X001", name="Bauble")
    session.commit()
    response = client.get("/c/CHRISTMAS?sort=name&page=1")
    assert response.status_code == 301
    assert response.headers["Location"] == "/c/christmas?sort=name&page=1"
    assert "Bauble" in client.get("/c/Christmas", follow_redirects=True).get_data(as_text=True)
    assert client.get("/c/NO-SUCH-THING", follow_redirects=True).status_code == 404


def test_bad_page_numbers_get_clear_errors(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    for raw in ("abc", "0", "-3", "1e9", "100001", "99999999999999"):
        response = client.get(f"/c/candles?page={raw}")
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "The page number must be a whole number from 1 to 100,000." in page, raw
    response = client.get("/c/candles?page=7")
    assert response.status_code == 404
    assert "There is no page 7" in response.get_data(as_text=True)


def test_unknown_category_and_product_are_404_pages(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    for path in ("/c/no-such-thing", "/products/999999", f"/products/{items['retired'].id}"):
        response = client.get(path)
        assert response.status_code == 404
        assert "Back to the shop" in response.get_data(as_text=True)
    assert client.get("/products/abc").status_code == 404


def test_ids_too_long_for_the_database_are_404s(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    for path in (
        "/products/2147483648",
        "/products/9223372036854775808",
        "/products/99999999999999999999999",
        "/products/9223372036854775808/image.svg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Back to the shop" in response.get_data(as_text=True)
    assert client.get("/products/2147483647").status_code == 404  # the largest id, unknown


def test_product_page_shows_price_stock_and_form(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    html = client.get(f"/products/{items['lantern'].id}").get_data(as_text=True)
    assert "White Metal Lantern" in html
    assert "£3.39" in html
    assert "only 3 left" in html
    assert "Add to cart" in html
    out = client.get(f"/products/{items['lunch'].id}").get_data(as_text=True)
    assert "Out of stock" in out and "Add to cart" not in out


def test_product_image_is_an_svg_with_cache_headers(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    response = client.get(f"/products/{items['heart'].id}/image.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert 'aria-label="White Hanging Heart T-Light Holder"' in response.get_data(as_text=True)


def test_pages_use_local_assets_only(client: FlaskClient, session: Session) -> None:
    factories.small_catalogue(session)
    html = client.get("/").get_data(as_text=True)
    assert "/static/css/shop.css" in html
    assert "https://" not in html.split("<body", 1)[0]
    with client.get("/static/css/shop.css") as css:
        assert css.status_code == 200


def test_a_product_page_names_one_canonical_address(client: FlaskClient, session: Session) -> None:
    items = factories.small_catalogue(session)
    heart = items["heart"].id
    base = client.application.config["SHOP_BASE_URL"]  # the shop's address, not the request's
    for path in (f"/products/{heart}", f"/products/{heart}?rec={'ab' * 16}&cmp=weekly"):
        page = client.get(path).get_data(as_text=True)
        assert f'<link rel="canonical" href="{base}/products/{heart}">' in page
