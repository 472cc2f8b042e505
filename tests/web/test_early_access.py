"""Launch dates and the early-access tier benefit, through the storefront and the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.early_access import member_early_access
from loyalty.models import Membership, Tier
from loyalty.settings import load_settings, save_settings
from shop.cart.models import Cart, CartItem
from shop.cart.services import CartError, CartOwner, add_item, view_cart
from shop.catalog.availability import viewer_for
from shop.catalog.models import Product
from shop.checkout.services import CheckoutError
from shop.db import utcnow
from shop.recommendations import unsellable_now
from tests import factories
from tests.checkout_support import placed_order
from tests.factories import PASSWORD
from tests.helpers import csrf_token, sign_in

SOON = timedelta(hours=20)  # inside the default 48 hours of early access
LATER = timedelta(days=10)  # outside it


@pytest.fixture
def launches(session: Session, items: dict[str, Product]) -> dict[str, Product]:
    """Two candles that are not on sale yet: one launching soon, one in ten days."""
    candles = items["heart"].category
    now = utcnow()
    soon = factories.product(session, candles, sku="ADV-1", name="Advent Spice Candle")
    soon.launches_at = now + SOON
    later = factories.product(session, candles, sku="ADV-2", name="Advent Pine Candle")
    later.launches_at = now + LATER
    session.commit()
    return {"soon": soon, "later": later}


def _early_tier_member(session: Session, email: str = "pia@example.com") -> int:
    account = factories.member(session, email, tier="Platinum")
    tier = session.scalar(select(Tier).where(Tier.name == "Platinum"))
    assert tier is not None
    tier.early_access = True
    session.commit()
    return account.id


def _page(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path)
    return response.status_code, response.get_data(as_text=True)


def test_a_visitor_cannot_see_or_buy_a_product_before_its_launch(
    client: FlaskClient, launches: dict[str, Product]
) -> None:
    soon = launches["soon"]
    assert _page(client, f"/products/{soon.id}")[0] == 404
    assert _page(client, f"/products/{soon.id}/image.svg")[0] == 404
    status, html = _page(client, "/search?q=advent")
    assert status == 200 and "Advent" not in html
    status, html = _page(client, "/c/candles")
    assert status == 200 and "Advent" not in html and "White Metal Lantern" in html
    status, html = _page(client, "/early-access")
    assert status == 200 and 'data-testid="early-access-none"' in html and "Advent" not in html
    token = csrf_token(client)
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": soon.id, "quantity": 1}
    )
    assert response.status_code == 404
    assert "Advent" not in _page(client, "/cart")[1]


def test_an_early_access_member_sees_and_buys_it_within_the_window_only(
    client: FlaskClient, session: Session, launches: dict[str, Product]
) -> None:
    _early_tier_member(session)
    sign_in(client, "pia@example.com", PASSWORD)
    soon, later = launches["soon"], launches["later"]
    status, html = _page(client, f"/products/{soon.id}")
    assert status == 200 and 'data-testid="early-access"' in html
    assert "on sale to everyone from" in html
    assert soon.launches_at is not None and soon.launches_at.strftime("%d %B %Y") in html
    image = client.get(f"/products/{soon.id}/image.svg")
    assert image.status_code == 200 and "private" in image.headers["Cache-Control"]
    assert _page(client, f"/products/{later.id}")[0] == 404
    status, html = _page(client, "/search?q=advent")
    assert status == 200 and "Advent Spice Candle" in html and "Advent Pine Candle" not in html
    assert "Advent Spice Candle" in _page(client, "/c/candles")[1]
    status, html = _page(client, "/early-access")
    assert status == 200 and "Advent Spice Candle" in html and "Advent Pine Candle" not in html
    assert "1 product" in html
    token = csrf_token(client)
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": soon.id, "quantity": 2}
    )
    assert response.status_code == 302
    session.rollback()
    stored = session.scalar(select(CartItem).where(CartItem.product_id == soon.id))
    assert stored is not None and stored.quantity == 2
    response = client.post(
        "/cart/add", data={"csrf_token": token, "product_id": later.id, "quantity": 1}
    )
    assert response.status_code == 404
    status, html = _page(client, "/account/loyalty")
    assert status == 200 and 'data-testid="early-access-link"' in html


def test_a_member_of_a_tier_without_early_access_waits_like_everyone(
    client: FlaskClient, session: Session, launches: dict[str, Product]
) -> None:
    factories.member(session, "max@example.com")
    sign_in(client, "max@example.com", PASSWORD)
    assert _page(client, f"/products/{launches['soon'].id}")[0] == 404
    status, html = _page(client, "/early-access")
    assert status == 200 and 'data-testid="early-access-none"' in html
    assert 'data-testid="early-access-link"' not in _page(client, "/account/loyalty")[1]


def test_at_its_launch_a_product_is_on_sale_to_everyone(
    client: FlaskClient, session: Session, launches: dict[str, Product]
) -> None:
    soon = launches["soon"]
    soon.launches_at = utcnow() - timedelta(minutes=1)
    session.commit()
    status, html = _page(client, f"/products/{soon.id}")
    assert status == 200 and 'data-testid="early-access"' not in html
    assert "Advent Spice Candle" in _page(client, "/search?q=advent")[1]


def test_the_window_and_the_membership_decide_who_has_early_access(
    app: Flask, session: Session, launches: dict[str, Product]
) -> None:
    uid = _early_tier_member(session)
    plain = factories.member(session, "max@example.com").id
    assert member_early_access(session, uid) == timedelta(hours=48)
    assert member_early_access(session, plain) is None
    save_settings(session, load_settings(session).__class__(early_access_hours=300))
    session.commit()
    assert member_early_access(session, uid) == timedelta(hours=300)
    with app.app_context():
        viewer = viewer_for(session, uid)
        assert viewer.has_early_access and viewer.sees_until - viewer.now == timedelta(hours=300)
        assert not viewer_for(session, None).has_early_access
    membership = session.scalar(select(Membership).where(Membership.user_id == uid))
    assert membership is not None
    membership.status = "cancelled"
    session.commit()
    assert member_early_access(session, uid) is None


def test_a_cart_line_whose_launch_is_not_open_to_its_owner_cannot_be_checked_out(
    app: Flask, session: Session, items: dict[str, Product], launches: dict[str, Product]
) -> None:
    soon = launches["soon"]
    owner = CartOwner(visitor_id="v-early")
    soon.launches_at = None  # bought before the merchant set a launch date
    session.commit()
    with app.app_context():
        add_item(session, owner, soon.id, 1)
        session.commit()
    soon.launches_at = utcnow() + SOON
    session.commit()
    with app.app_context():
        line = view_cart(session, owner).lines[0]
        assert line.on_sale_from == soon.launches_at
        assert line.problem is not None and line.problem.startswith("Not on sale yet (from ")
        with pytest.raises(CartError, match="not on sale yet"):
            add_item(session, owner, soon.id, 1)
        session.rollback()
    with pytest.raises(CheckoutError, match="Advent Spice Candle is not on sale yet"):
        placed_order(app, [(items["heart"], 1)], owner=owner)
    session.rollback()
    cart = session.scalar(select(Cart).where(Cart.visitor_id == "v-early"))
    assert cart is not None and {i.product_id for i in cart.items} == {soon.id}


def test_an_early_access_member_can_place_the_order(
    app: Flask, session: Session, launches: dict[str, Product]
) -> None:
    uid = _early_tier_member(session)
    order_id = placed_order(app, [(launches["soon"], 1)], owner=CartOwner(user_id=uid))
    session.rollback()
    assert session.get(Product, launches["soon"].id).stock_qty == 9  # type: ignore[union-attr]
    assert order_id > 0


def test_best_sellers_and_recommendations_leave_out_products_not_launched_to_everyone(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    launches: dict[str, Product],
) -> None:
    launches["soon"].order_count = 10_000  # early-access buyers made it the best seller
    session.commit()
    ids = {launches["soon"].id, launches["later"].id, items["heart"].id}
    with app.app_context():
        assert unsellable_now(session, ids) == {launches["soon"].id, launches["later"].id}
    status, html = _page(client, "/")
    assert status == 200 and "Jumbo Bag Red Retrospot" in html and "Advent" not in html
    session.rollback()
    _early_tier_member(session)
    sign_in(client, "pia@example.com", PASSWORD)
    status, html = _page(client, "/")
    assert status == 200 and "Jumbo Bag Red Retrospot" in html and "Advent" not in html
