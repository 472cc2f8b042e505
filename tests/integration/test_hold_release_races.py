"""Releasing expired stock holds while a payment lands for one of the expired orders: the
release leaves the order being paid alone and neither side fails (on PostgreSQL the old
lock order deadlocked; SQLite's write transactions are serial)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import db, utcnow
from shop.orders import states
from shop.orders.holds import release_expired
from shop.orders.locking import lock_order
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.gateway import Intent
from tests.checkout_support import fresh, placed_order, settings, stock
from tests.races import while_locked


def expire_holds(app: Flask, *order_ids: int) -> None:
    with app.app_context(), db.transaction() as tx:
        tx.execute(
            update(Order)
            .where(Order.id.in_(order_ids))
            .values(reserved_until=utcnow() - timedelta(minutes=5))
        )


def test_a_payment_landing_while_expired_holds_are_released_is_kept_and_paid(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern, heart = items["lantern"], items["heart"]
    first = placed_order(app, [(lantern, 1), (heart, 2)])
    paying = placed_order(app, [(lantern, 1), (heart, 1)])
    expire_holds(app, first, paying)
    order = fresh(session, paying)
    intent = Intent(
        "pi_expired_hold",
        "succeeded",
        order.total_pence,
        order.currency,
        metadata={"order_id": str(order.id), "order_number": order.number},
    )

    released = while_locked(
        app,
        lambda tx: lock_order(tx, tx.get(Order, paying)),
        lambda tx: str(release_expired(tx)),
        after=lambda tx: payments.apply_intent(tx, settings(app), intent, source="webhook"),
    )

    assert released == "1"
    assert fresh(session, paying).status == states.PAID
    assert fresh(session, paying).stock_reserved is True
    released_order = fresh(session, first)
    assert released_order.status == states.PENDING_PAYMENT
    assert released_order.stock_reserved is False
    assert "Stock hold expired" in [change.note for change in released_order.history]
    assert stock(session, lantern) == 2
    assert stock(session, heart) == 49


def test_releasing_several_expired_orders_returns_each_products_units_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern, heart = items["lantern"], items["heart"]
    orders = [
        placed_order(app, [(heart, 2), (lantern, 1)]),
        placed_order(app, [(lantern, 2)]),
        placed_order(app, [(heart, 3)]),
    ]
    expire_holds(app, *orders[:2])
    with app.app_context(), db.transaction() as tx:
        assert release_expired(tx) == 2
    assert stock(session, lantern) == 3
    assert stock(session, heart) == 50 - 3
    assert [fresh(session, o).stock_reserved for o in orders] == [False, False, True]
