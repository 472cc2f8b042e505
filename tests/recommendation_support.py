"""A small trained shop for recommendation tests: two clusters of products and buyers."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.db import db, utcnow
from shop.personalization import service
from shop.tracking.models import Event
from tests import factories

# Baskets of an imaginary history: candles go with candles, bags with bags.
BASKETS = [
    ["heart", "lantern", "candle"],
    ["heart", "candle"],
    ["heart", "lantern"],
    ["lantern", "candle"],
    ["jumbo", "tote", "lunchbox"],
    ["jumbo", "tote"],
    ["tote", "lunchbox"],
    ["jumbo", "lunchbox"],
]


def catalogue(session: Session) -> dict[str, Product]:
    items = factories.small_catalogue(session)
    candles = items["heart"].category
    bags = items["jumbo"].category
    items["candle"] = factories.product(session, candles, sku="C1", name="Pillar Candle", stock=9)
    items["tote"] = factories.product(session, bags, sku="B1", name="Canvas Tote", stock=9)
    items["lunchbox"] = factories.product(session, bags, sku="B2", name="Lunch Box", stock=9)
    session.commit()
    return items


def history(session: Session, items: dict[str, Product], users: list[User]) -> None:
    start = utcnow() - timedelta(days=30)
    rows = []
    for n, basket in enumerate(BASKETS * 3):
        buyer = users[n % len(users)]
        for name in basket:
            rows.append(
                {
                    "kind": "purchase",
                    "visitor_id": "import",
                    "user_id": buyer.id,
                    "product_id": items[name].id,
                    "order_id": None,
                    "quantity": 1,
                    "created_at": start + timedelta(hours=n),
                }
            )
    session.execute(insert(Event), rows)
    session.commit()


def trained_buyers(app: Flask, session: Session) -> list[User]:
    """Eight buyers with the history above and a model trained on it through the shop."""
    items = catalogue(session)
    buyers = [factories.user(session, f"buyer{i}@example.com", f"Buyer {i}") for i in range(8)]
    session.commit()
    history(session, items, buyers)
    with app.app_context():
        service().train(db.session)
    return buyers
