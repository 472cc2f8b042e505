"""The console's order service on a real database: finding, shipping, cancelling, refunding
(against localstripe) and retrying e-mails, each audited in the same transaction."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.console import audit, order_admin
from shop.console.models import AuditEntry
from shop.console.order_admin import OrderAdminError, OrderFilters
from shop.db import db
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from shop.orders.notifications import queue_order_email
from shop.payments.models import Refund
from shop.payments.setup import gateway
from shop.payments.stripe_gateway import StripeGateway
from tests import factories
from tests.checkout_support import (
    CONTACT,
    emails,
    fresh,
    paid_order,
    placed_order,
    settings,
    stock,
)
from tests.stripe_support import config, localstripe_url  # noqa: F401

ACTOR = audit.Actor(None, "tester@example.com")


def numbers(session: Session, filters: OrderFilters) -> list[str]:
    return [o.number for o in order_admin.order_page(session, filters).items]


def test_orders_filter_by_status_dates_and_customer(
    session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    bob = factories.user(session, "bob@example.com", "Bob")
    first = factories.order(session, ann, "536365", [(items["heart"], 1)])
    second = factories.order(session, bob, "536366", [(items["jumbo"], 2)])
    third = factories.order(session, None, "HP-1002", [(items["lunch"], 1)])
    first.placed_at = datetime(2026, 10, 1, 9, 0)
    second.placed_at = datetime(2026, 11, 2, 23, 59)
    third.placed_at = datetime(2026, 11, 3, 0, 0)
    third.status, third.email = "paid", "Guest@Example.com"
    session.commit()
    assert numbers(session, OrderFilters()) == ["HP-1002", "536366", "536365"]
    assert numbers(session, OrderFilters(status="paid")) == ["HP-1002"]
    nov = OrderFilters(placed_from=date(2026, 11, 1), placed_to=date(2026, 11, 2))
    assert numbers(session, nov) == ["536366"]  # the end date counts the whole day
    assert numbers(session, OrderFilters(customer="ann@example.com")) == ["536365"]
    assert numbers(session, OrderFilters(customer="guest@example.COM")) == ["HP-1002"]
    assert numbers(session, OrderFilters(customer=str(bob.id))) == ["536366"]
    assert numbers(session, OrderFilters(customer="536365")) == ["536365"]
    assert numbers(session, OrderFilters(customer="hp-1002")) == ["HP-1002"]
    assert numbers(session, OrderFilters(customer="nobody@example.com")) == []


def test_shipping_queues_the_email_and_audits_in_one_transaction(
    app: Flask, session: Session
) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    with app.app_context(), db.transaction() as tx:
        order_admin.ship(tx, ACTOR, settings(app), order.id, " Royal Mail AB123 ")
    order = fresh(session, order.id)
    assert order.status == "shipped"
    assert order.history[-1].note == "Shipped (Royal Mail AB123)"
    shipped = emails(session, "order_shipped")
    assert len(shipped) == 1 and shipped[0].to_address == "ann@example.com"
    entry = session.scalar(select(AuditEntry))
    assert entry is not None and (entry.action, entry.target) == ("order.ship", "order HP-1001")
    assert entry.before == {"status": "paid"}
    assert entry.after == {"status": "shipped", "tracking": "Royal Mail AB123"}
    with app.app_context(), db.transaction() as tx, pytest.raises(OrderAdminError, match="shipped"):
        order_admin.ship(tx, ACTOR, settings(app), order.id)


def test_a_partial_refund_never_lets_an_order_be_shipped_or_delivered_twice(
    app: Flask, session: Session
) -> None:
    from shop.orders import fulfilment, states

    order = factories.paid_order_with_address(session)
    states.transition(order, states.PARTIALLY_REFUNDED, "Refunded £1.00")
    session.commit()
    with app.app_context(), db.transaction() as tx:  # refunded in part before shipping
        order_admin.ship(tx, ACTOR, settings(app), order.id, "RM123")
    with app.app_context(), db.transaction() as tx:
        states.transition(tx.get(Order, order.id), states.PARTIALLY_REFUNDED, "Refunded £2.00")
    session.rollback()
    session.expire_all()
    detail = order_admin.order_detail(session, order.id)
    assert detail is not None and not detail.can_ship
    with (
        app.app_context(),
        db.transaction() as tx,
        pytest.raises(OrderAdminError, match="has been shipped already"),
    ):
        order_admin.ship(tx, ACTOR, settings(app), order.id, "RM999")
    assert len(emails(session, "order_shipped")) == 1
    with app.app_context(), db.transaction() as tx:
        fulfilment.deliver_order(tx, tx.get(Order, order.id))
    with app.app_context(), db.transaction() as tx:
        placed = tx.get(Order, order.id)
        states.transition(placed, states.PARTIALLY_REFUNDED, "Refunded £3.00")
        with pytest.raises(states.IllegalTransition, match="cannot be delivered"):
            fulfilment.deliver_order(tx, placed)
        with pytest.raises(states.IllegalTransition, match="cannot be shipped"):
            fulfilment.ship_order(tx, settings(app), placed)
    statuses = [c.to_status for c in fresh(session, order.id).history]
    assert statuses.count("shipped") == 1 and statuses.count("delivered") == 1


def test_an_order_without_a_delivery_address_is_not_shipped(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    order.ship_line1 = order.ship_postcode = None
    session.commit()
    with (
        app.app_context(),
        db.transaction() as tx,
        pytest.raises(Exception, match="no delivery address"),
    ):
        order_admin.ship(tx, ACTOR, settings(app), order.id)
    assert fresh(session, order.id).status == "paid"


def test_a_failed_action_leaves_no_audit_entry(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    with (
        app.app_context(),
        pytest.raises(OrderAdminError, match="only unpaid orders can be cancelled"),
        db.transaction() as tx,
    ):
        order_admin.cancel(tx, ACTOR, settings(app), order.id)
    assert fresh(session, order.id).status == "paid"
    assert session.scalar(select(AuditEntry)) is None


def test_cancelling_an_unpaid_order_puts_the_stock_back(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 3)])
    assert stock(session, items["heart"]) == 47
    with app.app_context(), db.transaction() as tx:
        order_admin.cancel(tx, ACTOR, settings(app), order_id, "customer asked")
    assert fresh(session, order_id).status == "cancelled"
    assert stock(session, items["heart"]) == 50
    entry = session.scalar(select(AuditEntry))
    assert entry is not None and entry.action == "order.cancel"
    assert entry.after == {
        "status": "cancelled",
        "reason": "customer asked",
        "stock_returned": {items["heart"].sku: 3},
    }


def test_cancelling_tells_the_customer_and_stops_the_try_again_email(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 3)])
    number = fresh(session, order_id).number
    with app.app_context(), db.transaction() as tx:
        unpaid = tx.get(Order, order_id)
        assert unpaid is not None
        retry = queue_order_email(
            tx, unpaid, "payment_failed", settings(app), retry_url="https://shop.example/pay/x"
        )
        assert retry is not None
        tx.flush()
        retry_id = retry.id
    with app.app_context(), db.transaction() as tx:
        order_admin.cancel(tx, ACTOR, settings(app), order_id, "suspected fraud")
    [told] = emails(session, "order_cancelled")
    assert told.to_address == CONTACT.email and told.order_id == order_id
    assert told.subject == f"Your order {number} is cancelled"
    for part in (told.text_body, told.html_body):
        assert f"cancelled your order {number}" in part.replace("<strong>", "").replace(
            "</strong>", ""
        )
        assert "no money has been taken" in part
        assert "The items we were holding for you are no longer reserved." in part
        assert "points" not in part  # none were spent on it
        assert "suspected fraud" not in part  # the reason is for the order's timeline
        assert "White Hanging Heart T-Light Holder" in part
    withdrawn = session.get(OutboxEmail, retry_id)
    assert withdrawn is not None and withdrawn.status == "withdrawn"


def test_refunds_check_the_amount_restock_and_audit(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 4)], localstripe_url)
    order = fresh(session, order_id)
    line_id, total = order.lines[0].id, order.total_pence

    def refund(amount: int, **kwargs: object) -> Refund:
        with app.app_context():
            return order_admin.refund(
                db.transaction, gateway(), settings(app), ACTOR, order_id, amount, **kwargs
            )

    with pytest.raises(OrderAdminError, match="more than zero"):
        refund(0)
    with pytest.raises(OrderAdminError, match=r"At most £15\.75"):
        refund(total + 1)
    made = refund(295, restock={line_id: 1}, reason="broken")
    assert made.status == "succeeded"
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("partially_refunded", 295)
    assert stock(session, items["heart"]) == 47
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "order.refund"))
    assert entry is not None
    assert entry.before == {"refunded_pence": 0, "status": "paid"}
    assert entry.after["restocked"] == {items["heart"].sku: 1}
    assert entry.after["amount_pence"] == 295 and entry.after["restock"] is True
    assert entry.after["status"] == "partially_refunded"

    real = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = StripeGateway(
        secret_key="sk_test_suite",
        publishable_key="pk",
        webhook_secret="",
        api_base="http://127.0.0.1:9",
        timeout_s=2,
    )
    try:
        with pytest.raises(OrderAdminError, match="refused the refund"):
            refund(100)
    finally:
        app.extensions["payment_gateway"] = real
    assert fresh(session, order_id).refunded_pence == 295
    session.rollback()
    assert len(session.scalars(select(AuditEntry)).all()) == 1  # no entry for the failure

    refund(total - 295)
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("refunded", total)
    assert len(session.scalars(select(AuditEntry)).all()) == 2


def test_retrying_a_failed_email_is_audited(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    with app.app_context(), db.transaction() as tx:
        order_admin.ship(tx, ACTOR, settings(app), order.id)
    session.rollback()
    session.execute(
        update(OutboxEmail).values(status="failed", attempts=5, last_error="550 mailbox full")
    )
    session.commit()
    email_id = session.scalar(select(OutboxEmail.id))
    assert email_id is not None
    overview = order_admin.outbox_overview(session)
    assert overview.counts["failed"] == 1 and [e.id for e in overview.failed] == [email_id]
    session.rollback()
    with db.transaction() as tx:
        order_admin.retry_email(tx, ACTOR, email_id)
    session.rollback()
    row = session.get(OutboxEmail, email_id)
    assert row is not None and (row.status, row.attempts) == ("pending", 0)
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "mail.retry"))
    assert entry is not None
    assert entry.before == {"status": "failed", "attempts": 5, "last_error": "550 mailbox full"}
    with db.transaction() as tx, pytest.raises(OrderAdminError, match="only failed"):
        order_admin.retry_email(tx, ACTOR, email_id)
    with db.transaction() as tx, pytest.raises(OrderAdminError, match="no such"):
        order_admin.retry_email(tx, ACTOR, 999)


def test_the_detail_gathers_everything(app: Flask, session: Session) -> None:
    order = factories.paid_order_with_address(session)
    session.commit()
    detail = order_admin.order_detail(session, order.id)
    assert detail is not None
    assert detail.customer is not None and detail.customer.email == "ann@example.com"
    assert [line.quantity for line in detail.order.lines] == [2, 1]
    assert detail.can_ship and not detail.can_cancel
    assert not detail.can_refund  # no card payment to refund
    assert order_admin.order_detail(session, 999) is None
    assert isinstance(detail.order, Order)
