"""Discount codes in the cart and at checkout, through the test client: entering one, each
reason a code is refused, the review and the order, and the uses a code has left."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.cart.models import Cart
from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.checkout.services import BenefitNotHeld, reserve_stock
from shop.db import db, utcnow
from shop.orders.holds import release_stock
from shop.orders.models import Order
from shop.promotions import codes
from shop.promotions.models import AMOUNT, FREE_DELIVERY, PromoCode
from tests import factories
from tests.checkout_support import emails, fresh, new_card, pay, place_cart, settings, stock
from tests.helpers import add_to_cart, csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401
from tests.web.test_checkout_pages import _review_page

MINUS = "\N{MINUS SIGN}"


def promo(session: Session, code: str = "SPRING10", **fields: object) -> PromoCode:
    """A discount code (10% off unless `fields` say otherwise), committed."""
    return factories.promo_code(session, code, **fields)


def _enter(client: FlaskClient, code: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/cart/promo", data={"csrf_token": csrf_token(client, "/cart"), "code": code}
    )


def _cart_code(session: Session) -> str | None:
    session.rollback()
    return session.scalar(select(Cart.promo_code))


def _uses(session: Session, code: str = "SPRING10") -> int:
    session.rollback()
    return int(session.scalar(select(PromoCode.uses).where(PromoCode.code == code)) or 0)


def _place(client: FlaskClient, review: str | None = None):  # type: ignore[no-untyped-def]
    review = review or client.get("/checkout/review").get_data(as_text=True)
    fields = dict(
        re.findall(r'name="(token|total|fingerprint)" type="hidden" value="([^"]*)"', review)
    )
    assert set(fields) == {"token", "total", "fingerprint"}, review
    return client.post(
        "/checkout/place", data={"csrf_token": csrf_token(client, "/cart"), **fields}
    )


def test_a_percentage_code_comes_off_the_cart_and_the_order_carries_it(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    promo(session, description="Spring sale")
    add_to_cart(client, items["heart"], 4)  # £11.80
    entered = _enter(client, "  spring10 ")  # any case, stray spaces
    assert entered.status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert "The code SPRING10 is applied: 10% off." in cart
    assert (
        f'Discount code SPRING10 (10% off)</th><td data-testid="promo-discount">{MINUS}£1.18<'
        in (cart)
    )
    assert 'data-testid="total">£14.57<' in cart  # 11.80 - 1.18 + 3.95
    assert _cart_code(session) == "SPRING10"

    review = _review_page(client)
    assert f'data-testid="summary-promo-discount">{MINUS}£1.18<' in review
    assert 'data-testid="summary-total">£14.57<' in review
    placed = _place(client, review)
    assert placed.status_code == 302 and "/checkout/pay/" in placed.headers["Location"]
    session.rollback()
    order = session.scalar(select(Order))
    assert order is not None
    assert (order.promo_code, order.promo_discount_pence, order.discount_pence) == (
        "SPRING10",
        118,
        118,
    )
    assert order.total_pence == 1457 and _uses(session) == 1

    assert pay(app, order.id, new_card(app, localstripe_url)).ok
    page = client.get(f"/orders/{order.access_token}").get_data(as_text=True)
    assert (
        f'Discount code SPRING10</th><td data-testid="order-promo-discount">{MINUS}£1.18<' in page
    )
    (mail,) = emails(session, "order_confirmation")
    assert "Discount code SPRING10:  -£1.18" in mail.text_body.replace(MINUS, "-")
    assert "Discount code SPRING10" in mail.html_body
    assert _cart_code(session) is None  # spent on the order
    assert _uses(session) == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a discount code."),
        ("NOPE2026", "We don&#39;t recognise the code NOPE2026."),
        ("x!", "We don&#39;t recognise that code."),
        ("A" * 41, "That is too long for a discount code."),
    ],
)
def test_a_code_that_does_not_exist_is_refused_with_a_form_error(
    client: FlaskClient, session: Session, items: dict[str, Product], typed: str, message: str
) -> None:
    promo(session)
    add_to_cart(client, items["heart"], 1)
    response = _enter(client, typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'data-testid="error-summary"' in page and 'href="#code"' in page
    assert "<title>Error: Your cart" in page and page.count('data-testid="error-summary"') == 1
    assert 'aria-invalid="true"' in page
    assert _cart_code(session) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"active": False}, "The code SPRING10 is no longer available."),
        ({"ends_at": datetime(2020, 1, 1)}, "The code SPRING10 has expired."),
        ({"starts_at": datetime(2099, 1, 1)}, "The code SPRING10 cannot be used yet."),
        ({"max_uses": 3, "uses": 3}, "The code SPRING10 has been used up."),
    ],
)
def test_a_code_nobody_can_use_now_is_refused_and_the_cart_keeps_its_code(
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    fields: dict[str, object],
    message: str,
) -> None:
    promo(session, "OLD5", kind=AMOUNT, amount_pence=500, percent_bp=None)
    promo(session, **fields)
    add_to_cart(client, items["heart"], 4)
    assert _enter(client, "OLD5").status_code == 302
    response = _enter(client, "SPRING10")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _cart_code(session) == "OLD5"


def test_an_empty_cart_and_a_missing_csrf_token_are_refused(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session)
    response = _enter(client, "SPRING10")
    assert response.status_code == 400
    empty = response.get_data(as_text=True)
    assert "Add something to your cart before entering a code." in empty
    assert "<title>Error: Your cart" in empty
    assert 'data-testid="error-summary"' not in empty  # no field to link to: said inline
    add_to_cart(client, items["heart"], 1)
    assert client.post("/cart/promo", data={"code": "SPRING10"}).status_code == 400
    assert client.post("/cart/promo/remove", data={}).status_code == 400
    assert _cart_code(session) is None


def test_a_code_below_its_minimum_spend_waits_in_the_cart_until_it_is_reached(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session, "FIVER", kind=AMOUNT, amount_pence=500, percent_bp=None, min_subtotal_pence=2000)
    add_to_cart(client, items["heart"], 2)  # £5.90
    entered = _enter(client, "fiver")
    assert entered.status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert "The code FIVER is saved. Spend £14.10 more to use the code FIVER." in cart
    assert 'data-testid="promo-problem">Spend £14.10 more' in cart
    assert 'data-testid="promo-discount"' not in cart
    assert 'data-testid="total">£9.85<' in cart
    add_to_cart(client, items["heart"], 5)  # £20.65
    cart = client.get("/cart").get_data(as_text=True)
    assert f'data-testid="promo-discount">{MINUS}£5.00<' in cart
    assert 'data-testid="total">£19.60<' in cart  # 20.65 - 5.00 + 3.95
    assert 'data-testid="promo-problem"' not in cart

    removed = client.post("/cart/promo/remove", data={"csrf_token": csrf_token(client, "/cart")})
    assert removed.status_code == 302
    assert "The code FIVER was removed." in client.get("/cart").get_data(as_text=True)
    assert _cart_code(session) is None


def test_an_amount_off_never_takes_the_goods_below_nothing(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session, "BIG", kind=AMOUNT, amount_pence=10_000, percent_bp=None)
    add_to_cart(client, items["heart"], 1)
    assert _enter(client, "BIG").status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert f'data-testid="promo-discount">{MINUS}£2.95<' in cart
    assert 'data-testid="total">£3.95<' in cart  # delivery only


def test_a_free_delivery_code_frees_standard_delivery_only(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session, "SHIPFREE", kind=FREE_DELIVERY, percent_bp=None)
    add_to_cart(client, items["heart"], 2)
    assert _enter(client, "shipfree").status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert "free with your code" in cart and 'data-testid="shipping">Free<' in cart
    assert 'data-testid="total">£5.90<' in cart
    assert "more for free standard delivery" not in cart

    express = _review_page(client, "express")
    assert 'data-testid="summary-total">£13.85<' in express  # express is still charged
    assert "Code SHIPFREE gives free standard delivery; express delivery is charged." in express
    assert _place(client, express).status_code == 302
    session.rollback()
    order = session.scalar(select(Order))
    assert order is not None and order.promo_code is None  # the code changed nothing
    assert _uses(session, "SHIPFREE") == 0
    session.rollback()

    cancel = client.post(
        f"/checkout/pending/{order.access_token}/cancel",
        data={"csrf_token": csrf_token(client, "/cart")},
    )
    assert cancel.status_code == 302
    standard = _review_page(client, "standard")
    assert 'data-testid="summary-total">£5.90<' in standard
    assert _place(client, standard).status_code == 302
    session.rollback()
    order = session.scalars(select(Order).order_by(Order.id.desc())).first()
    assert order is not None
    assert (order.promo_code, order.promo_discount_pence, order.shipping_pence) == (
        "SHIPFREE",
        0,
        0,
    )
    assert _uses(session, "SHIPFREE") == 1
    page = client.get(f"/orders/{order.access_token}").get_data(as_text=True)
    assert "(standard, free with code SHIPFREE)" in page


def test_a_released_order_gives_its_use_back_and_the_last_use_goes_to_one_order(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session, max_uses=1)
    add_to_cart(client, items["heart"], 4)
    assert _enter(client, "SPRING10").status_code == 302
    rival = app.test_client()
    add_to_cart(rival, items["jumbo"], 4)
    assert _enter(rival, "SPRING10").status_code == 302
    rival_review = _review_page(rival, email="rival@example.com")
    assert 'data-testid="summary-promo-discount"' in rival_review

    assert _place(client, _review_page(client)).status_code == 302
    assert _uses(session) == 1
    # The rival reviewed it with the discount; the order would now be placed without it.
    refused = _place(rival, rival_review)
    assert refused.headers["Location"] == "/checkout/review"
    again = rival.get("/checkout/review").get_data(as_text=True)
    assert "Your order changed since you reviewed it" in again
    assert "The code SPRING10 has been used up." in again
    session.rollback()
    assert len(session.scalars(select(Order)).all()) == 1

    # Cancelling the unpaid order gives the use back, and the rival can use it.
    order = session.scalar(select(Order))
    assert order is not None
    session.rollback()
    cancel = client.post(
        f"/checkout/pending/{order.access_token}/cancel",
        data={"csrf_token": csrf_token(client, "/cart")},
    )
    assert cancel.status_code == 302
    assert _uses(session) == 0
    assert _place(rival, rival.get("/checkout/review").get_data(as_text=True)).status_code == 302
    assert _uses(session) == 1


def test_holding_a_use_that_ran_out_after_the_quote_takes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    code = promo(session, max_uses=1)
    owner = CartOwner(visitor_id="v-race")
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 2)
        codes.apply_code(tx, owner, "SPRING10", now=utcnow())
        order = place_cart(tx, app, owner)
        assert order.promo_discount_pence == 59
        release_stock(tx, order, "test: released")
        order_id = order.id
    assert _uses(session) == 0 and stock(session, items["heart"]) == 50
    session.execute(update(PromoCode).where(PromoCode.id == code.id).values(uses=1))
    session.commit()
    with app.app_context(), db.transaction() as tx:
        held = tx.get(Order, order_id)
        assert held is not None
        with pytest.raises(BenefitNotHeld, match=r"The code SPRING10 has been used up\."):
            reserve_stock(tx, held, settings(app))
    assert fresh(session, order_id).stock_reserved is False
    assert stock(session, items["heart"]) == 50 and _uses(session) == 1


def test_a_once_per_customer_code_is_refused_to_an_account_and_an_address_that_used_it(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    code = promo(session, "WELCOME", once_per_customer=True)
    ann = factories.user(session, "ann@example.com", "Ann")
    used = factories.order(session, ann, "W-1", [(items["jumbo"], 1)])
    used.email, used.promo_code_id, used.promo_code = "ann@example.com", code.id, "WELCOME"
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    refused = _enter(client, "welcome")
    assert refused.status_code == 400
    assert "You have already used the code WELCOME." in refused.get_data(as_text=True)

    # A guest giving the same address sees the code stop applying at the review.
    guest = app.test_client()
    add_to_cart(guest, items["heart"], 2)
    assert _enter(guest, "WELCOME").status_code == 302
    review = _review_page(guest, email="ANN@example.com")
    assert "You have already used the code WELCOME." in review
    assert 'data-testid="summary-promo-discount"' not in review
    other = _review_page(guest, email="someone-else@example.com")
    assert f'data-testid="summary-promo-discount">{MINUS}£0.59<' in other


def test_an_account_whose_address_used_the_code_as_a_guest_is_refused_in_the_cart(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    code = promo(session, "WELCOME", once_per_customer=True)
    used = factories.order(session, None, "W-1", [(items["jumbo"], 1)])  # a guest order
    used.email, used.promo_code_id, used.promo_code = "ann@example.com", code.id, "WELCOME"
    factories.user(session, "ann@example.com", "Ann")  # registered since, not confirmed
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    refused = _enter(client, "WELCOME")
    assert refused.status_code == 400
    assert "You have already used the code WELCOME." in refused.get_data(as_text=True)


def test_a_once_per_customer_code_held_by_the_shoppers_unpaid_order_says_so(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    promo(session, "WELCOME", once_per_customer=True)
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 2)
    assert _enter(client, "WELCOME").status_code == 302
    placed = _place(client, _review_page(client))
    assert placed.status_code == 302 and _uses(session, "WELCOME") == 1
    order = session.scalar(select(Order))
    assert order is not None and order.promo_code == "WELCOME"
    number, access = order.number, order.access_token
    session.rollback()
    held = (
        f"Your unpaid order {number} holds the code WELCOME. Pay for order "
        f"{number}, or cancel it to use the code on this cart."
    )
    for path in ("/checkout/review", "/cart"):
        page = client.get(path).get_data(as_text=True)
        assert held in page, path
        assert "You have already used" not in page
        assert 'data-testid="summary-promo-discount"' not in page
    token = csrf_token(client, "/checkout/review")
    client.post(f"/checkout/pending/{access}/cancel", data={"csrf_token": token})
    assert _uses(session, "WELCOME") == 0
    review = client.get("/checkout/review").get_data(as_text=True)
    assert held not in review
    assert f'data-testid="summary-promo-discount">{MINUS}£0.59<' in review


def test_a_members_tier_discount_applies_after_the_code(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.member(session, "gold@example.com", discount_bp=1000, tier="Gold")
    promo(session, "TENNER", kind=AMOUNT, amount_pence=1000, percent_bp=None)
    sign_in(client, "gold@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)  # £29.50
    assert _enter(client, "TENNER").status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert f'data-testid="promo-discount">{MINUS}£10.00<' in cart
    assert f'data-testid="tier-discount">{MINUS}£1.95<' in cart  # 10% of £19.50
    assert 'data-testid="total">£21.50<' in cart  # 19.50 - 1.95 + 3.95


def test_the_code_typed_before_signing_in_comes_into_the_account_cart(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    promo(session)
    add_to_cart(client, items["heart"], 4)
    assert _enter(client, "SPRING10").status_code == 302
    sign_in(client, "ann@example.com", factories.PASSWORD)
    session.rollback()
    carts = session.scalars(select(Cart)).all()
    assert [(cart.user_id is not None, cart.promo_code) for cart in carts] == [(True, "SPRING10")]
    assert 'data-testid="promo-discount"' in client.get("/cart").get_data(as_text=True)


def test_a_code_switched_off_while_in_the_cart_stops_applying(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    code = promo(session, ends_at=utcnow() + timedelta(days=1))
    add_to_cart(client, items["heart"], 4)
    assert _enter(client, "SPRING10").status_code == 302
    session.rollback()
    code.active = False
    session.commit()
    cart = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="promo-problem">The code SPRING10 is no longer available.' in cart
    assert 'data-testid="promo-discount"' not in cart
    assert 'data-testid="total">£15.75<' in cart
    review = _review_page(client)
    assert "The code SPRING10 is no longer available." in review
    assert _place(client, review).status_code == 302
    session.rollback()
    order = session.scalar(select(Order))
    assert order is not None and order.promo_code is None and order.discount_pence == 0
