"""The order, checkout, payments and events commands, run through Flask's CLI runner."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import utcnow
from shop.events.bus import order_paid
from shop.events.models import DomainEvent
from shop.orders.models import Order
from shop.payments.models import Refund
from shop.payments.reconcile import ReconcileReport
from shop.payments.refunds import RefundMadeElsewhere
from tests.checkout_support import emails, fresh, new_card, pay, placed_order
from tests.stripe_support import config, localstripe_url  # noqa: F401


def _paid_order(app: Flask, items: dict[str, Product], url: str, qty: int = 2) -> Order:
    from shop.db import db

    order_id = placed_order(app, [(items["heart"], qty)])
    assert pay(app, order_id, new_card(app, url)).ok
    with app.app_context():
        found = db.session.get(Order, order_id)
        assert found is not None
        return found


def test_ship_deliver_and_refund_from_the_shell(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order = _paid_order(app, items, localstripe_url)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orders", "ship", order.number, "--tracking", "Royal Mail AB1"])
    assert result.exit_code == 0, result.output
    assert f"Order {order.number} is now shipped." in result.output
    shipped = emails(session, "order_shipped")
    assert len(shipped) == 1 and order.number in shipped[0].subject
    assert runner.invoke(args=["orders", "deliver", order.number]).exit_code == 0

    result = runner.invoke(
        args=["payments", "refund", order.number, "--amount", "2.95", "--restock-line", "85123A=1"]
    )
    assert result.exit_code == 0, result.output
    assert "Refunded £2.95 of order" in result.output
    refreshed = fresh(session, order.id)
    assert (refreshed.status, refreshed.refunded_pence) == ("partially_refunded", 295)
    assert session.get(Product, items["heart"].id).stock_qty == 49  # type: ignore[union-attr]

    too_much = runner.invoke(args=["payments", "refund", order.number, "--amount", "500"])
    assert too_much.exit_code != 0 and "At most" in too_much.output
    bad_line = runner.invoke(args=["payments", "refund", order.number, "--restock-line", "NOPE=1"])
    assert bad_line.exit_code != 0 and "SKU=QTY" in bad_line.output
    unknown = runner.invoke(args=["orders", "ship", "NO-SUCH-ORDER"])
    assert unknown.exit_code != 0 and "there is no order" in unknown.output
    illegal = runner.invoke(args=["orders", "cancel", order.number])
    assert illegal.exit_code != 0 and "refund it instead" in illegal.output


def test_release_expired_and_cancel_unpaid(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    first = placed_order(app, [(items["lantern"], 2)])
    second = placed_order(app, [(items["lantern"], 1)])
    session.rollback()
    past = utcnow() - timedelta(minutes=1)
    session.execute(update(Order).where(Order.id == first).values(reserved_until=past))
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["checkout", "release-expired"])
    assert "Released the stock of 1 unpaid order(s)." in result.output
    number = fresh(session, second).number
    assert runner.invoke(args=["orders", "cancel", number, "--reason", "asked"]).exit_code == 0
    assert fresh(session, second).status == "cancelled"
    assert session.get(Product, items["lantern"].id).stock_qty == 3  # type: ignore[union-attr]


def test_a_failing_subscriber_leaves_the_event_pending_until_dispatch_succeeds(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    calls: list[int] = []

    def flaky(_sender: str, **payload: object) -> None:
        calls.append(int(payload["order_id"]))  # type: ignore[call-overload]
        if len(calls) == 1:
            raise RuntimeError("loyalty is down")

    order_paid.connect(flaky)
    try:
        order = _paid_order(app, items, localstripe_url)
        session.rollback()
        event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_paid"))
        assert event is not None and event.dispatched_at is None
        assert "loyalty is down" in (event.last_error or "")
        assert fresh(session, order.id).status == "paid"  # the order itself is unaffected
        scheduled = app.test_cli_runner().invoke(args=["events", "dispatch", "--due-only"])
        assert "Dispatched 0 event(s)." in scheduled.output  # its retry time has not come
        assert scheduled.exit_code == 1 and f"Still failing: #{event.id}" in scheduled.output
        assert calls == [order.id]
        result = app.test_cli_runner().invoke(args=["events", "dispatch"])
        assert "Dispatched 1 event(s)." in result.output
    finally:
        order_paid.disconnect(flaky)
    session.rollback()
    session.refresh(event)
    assert event.dispatched_at is not None
    assert calls == [order.id, order.id]


def test_reconcile_reports_what_it_checked(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["payments", "reconcile", "--min-age", "0"])
    assert result.exit_code == 0
    assert "Checked 0 order(s); nothing." in result.output
    negative = app.test_cli_runner().invoke(args=["payments", "reconcile", "--min-age", "-5"])
    assert negative.exit_code == 2 and "-5 is not in the range x>=0" in negative.output


def test_reconcile_exits_1_when_an_order_could_not_be_checked(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shop.payments import cli

    failed = ReconcileReport(checked=2, errors=["order 7: Stripe is unreachable"])
    monkeypatch.setattr(cli, "gateway", lambda: object())
    monkeypatch.setattr(cli, "reconcile", lambda *_args, **_kwargs: failed)
    result = app.test_cli_runner().invoke(args=["payments", "reconcile"])
    assert result.exit_code == 1
    assert "Checked 2 order(s)" in result.output
    assert "could not check order 7: Stripe is unreachable" in result.output


def test_a_refund_booked_by_a_concurrent_command_is_not_reported_as_this_ones(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shop.payments import cli

    order = _paid_order(app, items, localstripe_url)
    real_refund_order = cli.refund_order

    def refunded_by_the_other_command(*args: Any, **kwargs: Any) -> Refund:
        # The concurrent command booked it: this one made none.
        raise RefundMadeElsewhere(real_refund_order(*args, **kwargs))

    monkeypatch.setattr(cli, "refund_order", refunded_by_the_other_command)
    result = app.test_cli_runner().invoke(
        args=["payments", "refund", order.number, "--amount", "2.95"]
    )
    assert result.exit_code == 1
    assert "A concurrent request made this same refund of £2.95 on order" in result.output
    assert "Refunded" not in result.output
    assert fresh(session, order.id).refunded_pence == 295  # refunded once, by "the other"


def test_a_failing_event_is_retried_with_backoff_and_never_given_up(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    from shop.db import db
    from shop.events.bus import dispatch_pending, retry_delay_s

    def broken(_sender: str, **_payload: object) -> None:
        raise RuntimeError("loyalty is down")

    order_paid.connect(broken)
    try:
        _paid_order(app, items, localstripe_url)
        with app.app_context():
            assert db.write_session_factory is not None
            # Waiting out its backoff, the event is not tried again at once...
            assert dispatch_pending(db.write_session_factory) == 0
            session.rollback()
            event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_paid"))
            assert event is not None and event.attempts == 1 and event.next_attempt_at
            # ... but it stays due for ever: many failures later it is still tried.
            session.execute(
                update(DomainEvent)
                .where(DomainEvent.id == event.id)
                .values(attempts=50, next_attempt_at=None)
            )
            session.commit()
            assert dispatch_pending(db.write_session_factory) == 0
        session.rollback()
        session.refresh(event)
        assert event.attempts == 51 and event.dispatched_at is None
        result = app.test_cli_runner().invoke(args=["events", "dispatch"])
        assert result.exit_code == 1
        assert f"Still failing: #{event.id} order_paid (52 tries): RuntimeError" in result.output
    finally:
        order_paid.disconnect(broken)
    assert retry_delay_s(1) == 10 and retry_delay_s(3) == 40 and retry_delay_s(99) == 3600
    result = app.test_cli_runner().invoke(args=["events", "dispatch", "--limit", "0"])
    assert result.exit_code == 2 and "--limit" in result.output
