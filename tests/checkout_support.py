"""Helpers for checkout and payment tests: a placed order and a card the 'browser' made."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.checkout.pricing import CheckoutSettings
from shop.checkout.services import ContactAddress, place_order
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from shop.payments.services import PaymentOutcome, pay_order
from shop.payments.setup import gateway
from tests.stripe_support import CARD_OK, browser_card

CONTACT = ContactAddress(
    email="guest@example.com",
    name="Grace Guest",
    line1="1 Market Street",
    city="York",
    postcode="YO1 7HH",
    country="United Kingdom",
)


def settings(app: Flask) -> CheckoutSettings:
    """The app's checkout settings."""
    return CheckoutSettings.from_config(app.config)


def place_cart(session: Session, app: Flask, owner: CartOwner, **changes: Any) -> Order:
    """Place an order from the owner's cart: the test contact, standard delivery and a new
    checkout token unless `changes` say otherwise (any other `place_order` argument too)."""
    arguments: dict[str, Any] = {
        "owner": owner,
        "contact": CONTACT,
        "method": "standard",
        "checkout_token": uuid.uuid4().hex,
        "settings": settings(app),
    }
    return place_order(session, **(arguments | changes))


def placed_order(
    app: Flask,
    items: list[tuple[Product, int]],
    *,
    owner: CartOwner | None = None,
    method: str = "standard",
    contact: ContactAddress = CONTACT,
    rec_id: str | None = None,
) -> int:
    """Fill a cart (added from the recommendation list `rec_id`, if given) and place an
    order from it; return the order id."""
    owner = owner or CartOwner(visitor_id=uuid.uuid4().hex)
    with app.app_context(), db.transaction() as session:
        for product, qty in items:
            add_item(session, owner, product.id, qty, rec_id=rec_id)
        order = place_cart(
            session, app, owner, contact=contact, method=method, visitor_id=owner.visitor_id
        )
        return order.id


def new_card(app: Flask, base_url: str, number: str = CARD_OK, customer: str | None = None) -> str:
    """A payment method id, made the way the browser makes one."""
    with app.app_context():
        secret = gateway().create_setup(customer)
    return browser_card(base_url, secret, number)


def paid_order(app: Flask, items: list[tuple[Product, int]], base_url: str) -> int:
    """An order placed by a visitor and paid with a good card; return its id."""
    order_id = placed_order(app, items)
    assert pay(app, order_id, new_card(app, base_url)).ok
    return order_id


def fresh(session: Session, order_id: int) -> Order:
    """The order as stored now."""
    session.rollback()
    found = session.get(Order, order_id)
    assert found is not None
    session.refresh(found)
    return found


def emails(session: Session, kind: str) -> list[OutboxEmail]:
    """Outbox rows of one kind."""
    session.rollback()
    return list(session.scalars(select(OutboxEmail).where(OutboxEmail.kind == kind)))


def pay(app: Flask, order_id: int, card: str, **kwargs: Any) -> PaymentOutcome:
    """Pay an order with a card through the app's gateway, as the payment page does."""
    with app.app_context():
        return pay_order(
            db.transaction,
            gateway(),
            settings(app),
            order_id=order_id,
            payment_method=card,
            **kwargs,
        )


def stock(session: Session, product: Product) -> int:
    """The product's stock as stored now."""
    session.rollback()
    return int(session.scalar(select(Product.stock_qty).where(Product.id == product.id)) or 0)
