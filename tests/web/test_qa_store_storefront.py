"""Storefront QA: counts written like every other number in the shop ("1,001"), searches
of nothing but symbols, and what a shopper is told when their cart joins their account."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.cart.models import CartItem
from shop.catalog.models import Product
from tests import factories
from tests.helpers import csrf_token, sign_in


def _many_lanterns(session: Session, count: int = 1001) -> None:
    cat = factories.category(session, "lights", "Lights")
    session.add_all(
        Product(
            sku=f"L{i:05d}",
            name=f"Paper Lantern {i}",
            description="A paper lantern.",
            category_id=cat.id,
            price_pence=199,
            stock_qty=5,
            order_count=0,
        )
        for i in range(count)
    )
    session.commit()


def test_result_and_catalogue_counts_have_thousands_separators(
    client: FlaskClient, session: Session
) -> None:
    _many_lanterns(session)
    found = client.get("/search?q=lantern").get_data(as_text=True)
    assert "1,001 results for" in found
    listing = client.get("/c/lights").get_data(as_text=True)
    assert "1,001 products" in listing
    nothing = client.get("/search?q=zzyzx").get_data(as_text=True)
    assert "browse the 1,001 products" in nothing


def test_a_search_of_only_symbols_says_nothing_matched(
    client: FlaskClient, session: Session
) -> None:
    factories.small_catalogue(session)
    for query in ["%", "🎄", "''"]:
        response = client.get("/search", query_string={"q": query})
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "Type a word or two above" not in page, query
        assert "No products match" in page, query
    assert "Type a word or two above" in client.get("/search?q=+").get_data(as_text=True)


def _guest_adds(app: Flask, product_id: int, quantity: int) -> FlaskClient:
    guest = app.test_client()
    token = csrf_token(guest, f"/products/{product_id}")
    response = guest.post(
        "/cart/add", data={"csrf_token": token, "product_id": product_id, "quantity": quantity}
    )
    assert response.status_code == 302
    return guest


def test_signing_in_says_which_cart_lines_could_not_come_along(
    app: Flask, session: Session
) -> None:
    items = factories.small_catalogue(session)
    factories.user(session, "ann@example.com")
    session.commit()
    lantern_id, heart_id = items["lantern"].id, items["heart"].id  # 3 lanterns in stock
    member = app.test_client()
    sign_in(member, "ann@example.com", factories.PASSWORD)
    token = csrf_token(member, f"/products/{lantern_id}")
    member.post("/cart/add", data={"csrf_token": token, "product_id": lantern_id, "quantity": 2})

    guest = _guest_adds(app, lantern_id, 2)
    token = csrf_token(guest, f"/products/{heart_id}")
    guest.post("/cart/add", data={"csrf_token": token, "product_id": heart_id, "quantity": 1})
    session.rollback()  # a fresh snapshot: the requests wrote meanwhile
    session.execute(update(Product).where(Product.id == heart_id).values(stock_qty=0))
    session.commit()

    sign_in(guest, "ann@example.com", factories.PASSWORD)
    page = guest.get("/cart").get_data(as_text=True)
    assert "Only 3 of White Metal Lantern are in stock, so your cart has 3." in page
    assert "White Hanging Heart T-Light Holder is sold out, so it is no longer in your cart." in (
        page
    )
    session.rollback()
    assert list(session.scalars(select(CartItem.quantity))) == [3]


def test_a_cart_that_joins_whole_says_nothing_more(app: Flask, session: Session) -> None:
    items = factories.small_catalogue(session)
    factories.user(session, "ann@example.com")
    session.commit()
    guest = _guest_adds(app, items["heart"].id, 2)
    sign_in(guest, "ann@example.com", factories.PASSWORD)
    page = guest.get("/cart").get_data(as_text=True)
    assert "so your cart has" not in page
    assert "no longer in your cart" not in page


def test_a_cart_line_no_longer_sold_does_not_link_to_a_missing_page(
    app: Flask, session: Session
) -> None:
    items = factories.small_catalogue(session)
    heart_id, lantern_id = items["heart"].id, items["lantern"].id
    guest = _guest_adds(app, heart_id, 1)
    token = csrf_token(guest, f"/products/{lantern_id}")
    guest.post("/cart/add", data={"csrf_token": token, "product_id": lantern_id, "quantity": 1})
    session.rollback()
    session.execute(update(Product).where(Product.id == heart_id).values(active=False))
    session.commit()

    page = guest.get("/cart").get_data(as_text=True)
    assert guest.get(f"/products/{heart_id}").status_code == 404
    assert f'href="/products/{heart_id}"' not in page
    assert "White Hanging Heart T-Light Holder" in page
    assert f'href="/products/{lantern_id}"' in page  # still for sale: still a link
