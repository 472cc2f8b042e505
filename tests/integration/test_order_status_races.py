"""Moving an order on claims it: of several simultaneous "ship", "deliver" or "cancel"
requests for one order, exactly one wins and the others get the usual refusal (the races
only exist on PostgreSQL; SQLite's write transactions are serial)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.console import audit, order_admin
from shop.console.models import AuditEntry
from shop.db import db
from shop.orders import fulfilment, states
from shop.orders.holds import release_stock
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.gateway import Intent
from shop.tracking.models import Event
from tests import factories, races
from tests.checkout_support import emails, fresh, place_cart, placed_order, settings, stock
from tests.races import while_locked

ACTOR = audit.Actor(None, "tester@example.com")
RACERS = races.RACERS


def race(app: Flask, action: Callable[[Session], object]) -> list[str]:
    """`races.race` with the refusals of moving an order on."""
    return races.race(app, action, (order_admin.OrderAdminError, states.IllegalTransition))


def one_done(refusals: int, message: str) -> list[str]:
    """What `race` returns when one request won and the others were refused."""
    return sorted(["done"] + [message] * refusals)


def audited(session: Session, action: str) -> int:
    session.rollback()
    return session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0


def test_simultaneous_mark_shipped_in_the_console_ships_once(app: Flask, session: Session) -> None:
    order_id = factories.paid_order_with_address(session).id
    session.commit()
    results = race(app, lambda tx: order_admin.ship(tx, ACTOR, settings(app), order_id, "RM1"))
    assert results == one_done(RACERS - 1, "Order HP-1001 has been shipped already.")
    assert len(emails(session, "order_shipped")) == 1
    statuses = [c.to_status for c in fresh(session, order_id).history]
    assert statuses.count("shipped") == 1
    assert audited(session, "order.ship") == 1


def test_simultaneous_ship_and_deliver_from_the_shell_happen_once(
    app: Flask, session: Session
) -> None:
    order_id = factories.paid_order_with_address(session).id
    session.commit()

    def ship(tx: Session) -> None:
        fulfilment.ship_order(tx, settings(app), fulfilment.order_by_number(tx, "HP-1001"))

    def deliver(tx: Session) -> None:
        fulfilment.deliver_order(tx, fulfilment.order_by_number(tx, "HP-1001"))

    shipped = race(app, ship)
    assert shipped == one_done(RACERS - 1, "order HP-1001 cannot be shipped (again)")
    delivered = race(app, deliver)
    assert delivered == one_done(RACERS - 1, "order HP-1001 cannot be delivered (again)")
    assert len(emails(session, "order_shipped")) == 1
    statuses = [c.to_status for c in fresh(session, order_id).history]
    assert statuses.count("shipped") == 1 and statuses.count("delivered") == 1


def test_simultaneous_cancels_cancel_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["lantern"], 2)])
    number = fresh(session, order_id).number
    assert stock(session, items["lantern"]) == 1
    results = race(app, lambda tx: order_admin.cancel(tx, ACTOR, settings(app), order_id, "asked"))
    refused = f"Order {number} is cancelled; only unpaid orders can be cancelled."
    assert results == one_done(RACERS - 1, refused)
    statuses = [c.to_status for c in fresh(session, order_id).history]
    assert statuses.count("cancelled") == 1
    assert audited(session, "order.cancel") == 1
    assert stock(session, items["lantern"]) == 3


def succeeded(session: Session, order_id: int) -> Intent:
    """The gateway's report that the order's full total was taken."""
    order = fresh(session, order_id)
    metadata = {"order_id": str(order.id), "order_number": order.number}
    return Intent("pi_late", "succeeded", order.total_pence, order.currency, metadata=metadata)


def test_a_payment_landing_while_staff_cancel_is_flagged_not_marked_paid(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["lantern"], 2)])
    intent = succeeded(session, order_id)
    outcome = while_locked(
        app,
        lambda tx: order_admin.cancel(tx, ACTOR, settings(app), order_id, "asked"),
        lambda tx: payments.apply_intent(tx, settings(app), intent, source="webhook"),
    )
    assert outcome == "flagged"
    order = fresh(session, order_id)
    assert order.status == states.CANCELLED
    assert "paid after it was cancelled (intent pi_late); refund it" in (order.payment_flag or "")
    assert emails(session, "order_confirmation") == []
    assert stock(session, items["lantern"]) == 3


def test_a_payment_of_a_replaced_order_landing_during_checkout_is_flagged(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = CartOwner(visitor_id="visitor-replaced")
    replaced_id = placed_order(app, [(items["lantern"], 1)], owner=owner)
    with app.app_context(), db.transaction() as tx:
        release_stock(tx, tx.get(Order, replaced_id), "Payment declined")
    intent = succeeded(session, replaced_id)

    def place_again(tx: Session) -> None:  # the cart still holds the lantern
        place_cart(tx, app, owner, checkout_token="token-again", visitor_id=owner.visitor_id)

    outcome = while_locked(
        app,
        place_again,
        lambda tx: payments.apply_intent(tx, settings(app), intent, source="webhook"),
    )
    assert outcome == "flagged"
    replaced = fresh(session, replaced_id)
    assert replaced.status == states.CANCELLED
    assert "paid after it was cancelled" in (replaced.payment_flag or "")
    assert stock(session, items["lantern"]) == 2  # only the new order holds one


def test_the_same_payment_reported_at_once_by_webhook_and_return_counts_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["lantern"], 2)])
    intent = succeeded(session, order_id)
    orders_of = select(Product.order_count).where(Product.id == items["lantern"].id)
    counted = session.scalar(orders_of)
    results = race(app, lambda tx: payments.apply_intent(tx, settings(app), intent, source="x"))
    assert results == ["done"] * RACERS
    assert fresh(session, order_id).status == states.PAID
    assert len(emails(session, "order_confirmation")) == 1
    assert session.scalar(orders_of) == counted + 1
    paid_events = select(func.count()).where(Event.kind == "purchase")
    assert session.scalar(paid_events) == 1
