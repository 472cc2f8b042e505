"""Paying, declines, 3-D Secure, outages, refunds, saved cards and reconciliation, against a
real localstripe server through the official stripe SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.models import CartItem
from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.console import audit, order_admin
from shop.console.models import AuditEntry
from shop.db import db
from shop.events.bus import order_paid, order_refunded
from shop.payments import cards, services
from shop.payments.gateway import CardDetails, GatewayError
from shop.payments.models import PaymentAttempt, Refund, SavedCard
from shop.payments.reconcile import reconcile
from shop.payments.refunds import RefundError, RefundRequest, refund_order
from shop.payments.setup import gateway
from shop.payments.stripe_gateway import StripeGateway
from shop.tracking.models import Event
from tests import factories
from tests.checkout_support import (
    emails,
    fresh,
    new_card,
    paid_order,
    pay,
    placed_order,
    settings,
    stock,
)
from tests.stripe_support import (
    CARD_3DS,
    CARD_DECLINED,
    SECRET_KEY,
    browser_3ds,
    config,  # noqa: F401
    localstripe_url,  # noqa: F401
)


@pytest.fixture
def received() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    got: list[tuple[str, dict[str, Any]]] = []

    def paid(sender: str, **payload: Any) -> None:
        got.append((sender, payload))

    order_paid.connect(paid)
    order_refunded.connect(paid)
    yield got
    order_paid.disconnect(paid)
    order_refunded.disconnect(paid)


def test_a_good_card_pays_the_order_once_with_everything_that_follows(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    received: list[tuple[str, dict[str, Any]]],
) -> None:
    order_id = placed_order(app, [(items["heart"], 2), (items["jumbo"], 1)])
    assert stock(session, items["heart"]) == 48
    outcome = pay(app, order_id, new_card(app, localstripe_url))
    assert outcome.status == "paid"

    order = fresh(session, order_id)
    assert order.status == "paid"
    assert order.total_pence == 2 * 295 + 195 + 395
    assert [h.to_status for h in order.history] == ["pending_payment", "paid"]
    attempt = session.scalar(select(PaymentAttempt).where(PaymentAttempt.order_id == order_id))
    assert attempt is not None and attempt.status == "succeeded"
    assert attempt.idempotency_key == f"order-{order_id}-attempt-1"
    intent = StripeGateway(
        secret_key="sk_test_suite", publishable_key="", webhook_secret="", api_base=localstripe_url
    ).retrieve(attempt.intent_id or "")
    assert (intent.amount, intent.currency, intent.metadata["order_id"]) == (
        order.total_pence,
        "GBP",
        str(order_id),
    )
    assert stock(session, items["heart"]) == 48  # sold, not released
    assert session.get(Product, items["heart"].id).order_count == 121  # type: ignore[union-attr]
    confirmation = emails(session, "order_confirmation")
    assert [e.to_address for e in confirmation] == ["guest@example.com"]
    assert order.number in confirmation[0].text_body
    purchases = session.scalars(select(Event).where(Event.kind == "purchase")).all()
    assert sorted(e.product_id for e in purchases) == sorted([items["heart"].id, items["jumbo"].id])
    assert session.scalar(select(func.count()).select_from(CartItem)) == 0
    assert received == [("order_paid", received[0][1])]
    assert received[0][1]["order_id"] == order_id

    again = pay(app, order_id, new_card(app, localstripe_url))
    assert again.status == "paid"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PaymentAttempt)) == 1
    assert len(emails(session, "order_confirmation")) == 1


@contextmanager
def product_updates(column: str) -> Iterator[list[int]]:
    """The ids of the products whose `column` the app's UPDATEs change, in statement order."""
    updated: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith(f"UPDATE products SET {column}"):
            # The WHERE clause's id is the statement's last parameter.
            values = list(parameters.values()) if isinstance(parameters, dict) else parameters
            updated.append(int(values[-1]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield updated
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def _crossed(items: dict[str, Product]) -> tuple[Product, Product]:
    """Two products, the one with the higher id first, as a cart may hold them."""
    later, earlier = sorted((items["jumbo"], items["heart"]), key=lambda p: p.id, reverse=True)
    return later, earlier


# Locking products in another order than checkouts do (by id) can deadlock two transactions
# on PostgreSQL: a payment or a refund against a checkout or another payment.
def test_paying_counts_each_product_once_in_product_id_order(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    later, earlier = _crossed(items)
    order_id = placed_order(app, [(later, 1), (earlier, 2)])
    before = {p.id: p.order_count for p in (earlier, later)}
    with product_updates("order_count") as updated:
        assert pay(app, order_id, new_card(app, localstripe_url)).status == "paid"
    assert updated == [earlier.id, later.id]
    session.rollback()  # a new snapshot: the payment committed in another session
    after = {p.id: p.order_count for p in (earlier, later)}
    assert after == {product_id: count + 1 for product_id, count in before.items()}


def test_a_refund_restocks_in_product_id_order(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    later, earlier = _crossed(items)
    order_id = paid_order(app, [(later, 1), (earlier, 2)], localstripe_url)
    before = {p.id: stock(session, p) for p in (earlier, later)}
    with app.app_context(), product_updates("stock_qty") as updated:
        refund_order(
            db.transaction, gateway(), settings(app), order_id, RefundRequest(restock_all=True)
        )
    assert updated == [earlier.id, later.id]
    after = {p.id: stock(session, p) for p in (earlier, later)}
    assert after == {earlier.id: before[earlier.id] + 2, later.id: before[later.id] + 1}


@pytest.mark.parametrize("member", [False, True])
def test_paying_takes_only_the_bought_quantities_out_of_the_cart(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    member: bool,
) -> None:
    from shop.cart.services import add_item, view_cart

    if member:
        user = factories.user(session)
        session.commit()
        owner = CartOwner(user_id=user.id)
    else:
        owner = CartOwner(visitor_id="visitor-with-two-tabs")
    order_id = placed_order(app, [(items["heart"], 1), (items["lantern"], 1)], owner=owner)
    with app.app_context(), db.transaction() as tx:  # meanwhile, in another tab
        add_item(tx, owner, items["heart"].id, 2)
        add_item(tx, owner, items["jumbo"].id, 1)
    assert pay(app, order_id, new_card(app, localstripe_url)).ok
    session.rollback()
    left = {line.product.id: line.quantity for line in view_cart(session, owner).lines}
    assert left == {items["heart"].id: 2, items["jumbo"].id: 1}


def test_a_declined_card_keeps_the_order_and_the_shopper_can_retry(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["lantern"], 3)])
    assert stock(session, items["lantern"]) == 0
    declined = pay(app, order_id, new_card(app, localstripe_url, CARD_DECLINED))
    assert declined.status == "declined"
    assert "declined" in declined.message.lower()
    order = fresh(session, order_id)
    assert order.status == "pending_payment"
    assert order.stock_reserved is False
    assert stock(session, items["lantern"]) == 3  # released for other shoppers
    assert len(emails(session, "payment_failed")) == 1

    retry = pay(app, order_id, new_card(app, localstripe_url))
    assert retry.status == "paid"
    assert stock(session, items["lantern"]) == 0
    attempts = session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.attempt)).all()
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "succeeded")]
    # Paid before the failure notice went out: it is not sent any more, the confirmation is.
    (failed,) = emails(session, "payment_failed")
    assert failed.status == "withdrawn" and "paid" in (failed.last_error or "")
    assert [e.status for e in emails(session, "order_confirmation")] == ["pending"]


def test_an_order_takes_no_more_cards_after_ten_declines_and_mails_once_an_hour(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["lantern"], 1)])
    for attempt in range(10):
        declined = pay(app, order_id, new_card(app, localstripe_url, CARD_DECLINED))
        assert declined.status == "declined", attempt
    refused = pay(app, order_id, new_card(app, localstripe_url))
    assert refused.status == "refused" and "too many" in refused.message
    session.rollback()
    attempts = session.scalars(select(PaymentAttempt.status)).all()
    assert attempts == ["failed"] * 10  # no eleventh charge
    assert fresh(session, order_id).status == "pending_payment"
    assert stock(session, items["lantern"]) == 3
    assert len(emails(session, "payment_failed")) == 1  # not one per decline


def test_a_failure_notice_already_sent_is_left_as_it_is(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["lantern"], 1)])
    pay(app, order_id, new_card(app, localstripe_url, CARD_DECLINED))
    (failed,) = emails(session, "payment_failed")
    failed.status = "sent"
    session.commit()
    assert pay(app, order_id, new_card(app, localstripe_url)).status == "paid"
    assert [e.status for e in emails(session, "payment_failed")] == ["sent"]


def test_three_d_secure_finishes_in_the_browser_and_the_server_checks(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    outcome = pay(app, order_id, new_card(app, localstripe_url, CARD_3DS))
    assert outcome.status == "requires_action" and outcome.client_secret
    assert fresh(session, order_id).status == "pending_payment"
    # A second click while the bank's dialog is open gives the same intent back.
    again = pay(app, order_id, new_card(app, localstripe_url, CARD_3DS))
    assert again.client_secret == outcome.client_secret
    browser_3ds(localstripe_url, outcome.client_secret)
    with app.app_context():
        done = services.complete_payment(db.transaction, gateway(), settings(app), order_id)
    assert done.status == "paid"
    assert fresh(session, order_id).status == "paid"


def test_another_card_replaces_an_unfinished_three_d_secure_check(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    waiting = pay(app, order_id, new_card(app, localstripe_url, CARD_3DS))
    assert waiting.status == "requires_action"
    held = stock(session, items["heart"])
    # The shopper closes the bank's dialog and pays with another card instead.
    other = new_card(app, localstripe_url)
    paid = pay(app, order_id, other)
    assert paid.status == "paid"
    assert fresh(session, order_id).status == "paid"
    attempts = session.scalars(select(PaymentAttempt).order_by(PaymentAttempt.attempt)).all()
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "succeeded")]
    assert attempts[0].error == "replaced by another card"
    assert attempts[1].payment_method_id == other
    with app.app_context():
        first = gateway().retrieve(attempts[0].intent_id)
    assert first.status == "canceled"  # the old card can no longer be charged
    assert stock(session, items["heart"]) == held  # taken once, not twice


def test_stripe_unreachable_keeps_the_order_pending_and_a_retry_uses_the_same_key(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    card = new_card(app, localstripe_url)
    real = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = StripeGateway(
        secret_key="sk_test_suite",
        publishable_key="pk",
        webhook_secret="",
        api_base="http://127.0.0.1:9",
        timeout_s=2,
    )
    down = pay(app, order_id, card)
    assert down.status == "unavailable"
    assert "try again" in down.message
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and order.stock_reserved
    attempt = session.scalar(select(PaymentAttempt))
    assert attempt is not None and attempt.status == "unknown"

    app.extensions["payment_gateway"] = real
    assert pay(app, order_id, card).status == "paid"
    session.rollback()
    attempts = session.scalars(select(PaymentAttempt)).all()
    assert [(a.attempt, a.idempotency_key, a.status) for a in attempts] == [
        (1, f"order-{order_id}-attempt-1", "succeeded")
    ]


def test_an_amount_mismatch_is_flagged_not_accepted(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    from shop.payments.gateway import Intent

    order_id = placed_order(app, [(items["heart"], 1)])
    intent = Intent("pi_fake", "succeeded", 1, "GBP", metadata={"order_id": str(order_id)})
    with app.app_context(), db.transaction() as tx:
        assert services.apply_intent(tx, settings(app), intent, source="test") == "flagged"
    order = fresh(session, order_id)
    assert order.status == "pending_payment"
    assert "amount mismatch" in (order.payment_flag or "")
    wrong_currency = Intent(
        "pi_fake2", "succeeded", order.total_pence, "USD", metadata={"order_id": str(order_id)}
    )
    with app.app_context(), db.transaction() as tx:
        assert services.apply_intent(tx, settings(app), wrong_currency, source="test") == "flagged"
    assert "currency mismatch" in (fresh(session, order_id).payment_flag or "")


def test_partial_then_full_refunds_with_restocking(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    received: list[tuple[str, dict[str, Any]]],
) -> None:
    order_id = paid_order(app, [(items["heart"], 4)], localstripe_url)
    line_id = fresh(session, order_id).lines[0].id
    with app.app_context():
        first = refund_order(
            db.transaction,
            gateway(),
            settings(app),
            order_id,
            RefundRequest(amount_pence=295, restock={line_id: 1}, reason="one arrived broken"),
        )
    assert first.status == "succeeded" and first.gateway_refund_id
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("partially_refunded", 295)
    assert stock(session, items["heart"]) == 47
    with app.app_context(), pytest.raises(RefundError, match="At most"):
        refund_order(
            db.transaction,
            gateway(),
            settings(app),
            order_id,
            RefundRequest(amount_pence=order.total_pence),
        )
    with app.app_context():
        refund_order(
            db.transaction, gateway(), settings(app), order_id, RefundRequest(restock_all=True)
        )
    order = fresh(session, order_id)
    assert order.status == "refunded"
    assert order.refunded_pence == order.total_pence
    assert stock(session, items["heart"]) == 50
    keys = session.scalars(select(Refund.idempotency_key).order_by(Refund.id)).all()
    assert keys == [f"order-{order_id}-refund-1", f"order-{order_id}-refund-2"]
    assert len(emails(session, "order_refunded")) == 2
    assert [name for name, _ in received] == ["order_paid", "order_refunded", "order_refunded"]
    with app.app_context(), pytest.raises(RefundError, match="cannot be refunded"):
        refund_order(db.transaction, gateway(), settings(app), order_id, RefundRequest())


class _BothAtOnce:
    """The real gateway, but no refund call returns before two have been made: a double
    submit whose requests both got past their checks before either was booked."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.barrier = inner, threading.Barrier(2, timeout=10)

    def refund(self, **kwargs: Any) -> Any:
        result = self.inner.refund(**kwargs)
        self.barrier.wait()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_double_submitted_refund_is_booked_and_restocked_once(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    order = fresh(session, order_id)
    line_id, total = order.lines[0].id, order.total_pence
    session.rollback()
    with app.app_context():
        both = _BothAtOnce(gateway())
    results: list[object] = []

    def submit() -> None:
        with app.app_context():
            try:  # through the console, which audits what it books
                results.append(
                    order_admin.refund(
                        db.transaction,
                        both,
                        settings(app),
                        audit.CLI_ACTOR,
                        order_id,
                        total,
                        restock={line_id: 2},
                    )
                )
            except Exception as exc:  # the test reports what each request did
                results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One request made the refund; the other is told it did not (not "Refunded").
    assert sorted(type(r).__name__ for r in results) == ["Refund", "RefundNotMade"], results
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("refunded", total)
    assert order.lines[0].restocked_qty == 2
    assert stock(session, items["heart"]) == 50
    assert session.scalar(select(func.count()).select_from(Refund)) == 1
    assert len(emails(session, "order_refunded")) == 1
    assert [h.staff_note for h in order.history].count("Restocked 2 item(s)") == 1
    refunds_audited = select(func.count()).where(AuditEntry.action == "order.refund")
    assert session.scalar(refunds_audited) == 1


def test_a_refund_of_another_amount_waits_for_an_unfinished_one(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    session.rollback()  # end the read snapshot before writing
    session.add(
        Refund(
            order_id=order_id,
            amount_pence=100,
            currency="GBP",
            idempotency_key=f"order-{order_id}-refund-1",
            status="pending",
        )
    )
    session.commit()
    with (
        app.app_context(),
        pytest.raises(RefundError, match=r"£1\.00 on order \S+ has not finished"),
    ):
        refund_order(
            db.transaction, gateway(), settings(app), order_id, RefundRequest(amount_pence=200)
        )
    with app.app_context():  # the same amount completes the unfinished refund
        done = refund_order(
            db.transaction, gateway(), settings(app), order_id, RefundRequest(amount_pence=100)
        )
    assert done.status == "succeeded" and done.idempotency_key == f"order-{order_id}-refund-1"
    assert fresh(session, order_id).refunded_pence == 100


def _member_at_stripe(app: Flask, session: Session) -> tuple[User, CartOwner, str]:
    """A member with a cart owner and a customer record at Stripe (for saved cards)."""
    member = factories.user(session)
    session.commit()
    with app.app_context():
        customer = cards.ensure_customer(db.transaction, gateway(), member.id)
    return member, CartOwner(user_id=member.id), customer


def test_a_member_saves_a_card_pays_with_it_and_removes_it(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    member, owner, customer = _member_at_stripe(app, session)
    first = placed_order(app, [(items["heart"], 1)], owner=owner)
    card = new_card(app, localstripe_url, customer=customer)
    assert pay(app, first, card, save_card=True, user_id=member.id).ok
    session.rollback()
    saved = session.scalars(select(SavedCard)).all()
    assert [(c.user_id, c.last4, c.brand) for c in saved] == [(member.id, "4242", "visa")]
    assert session.get(User, member.id).stripe_customer_id == customer  # type: ignore[union-attr]

    second = placed_order(app, [(items["jumbo"], 1)], owner=owner)
    assert pay(app, second, saved[0].payment_method_id, user_id=member.id).ok
    session.rollback()
    with app.app_context():
        other = factories.user(session, "bob@example.com", "Bob")
        session.commit()
        base = settings(app).base_url
        assert not cards.remove_card(db.transaction, gateway(), other.id, saved[0].id, base)
        assert cards.remove_card(db.transaction, gateway(), member.id, saved[0].id, base)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SavedCard)) == 0
    notices = [m.text_body for m in emails(session, "account_profile_changed")]
    assert len(notices) == 2  # one when the card was saved, one when it was removed
    assert "A Visa card ending 4242 was saved to your account." in notices[0]
    assert "A Visa card ending 4242 was removed from your account." in notices[1]


def test_a_saved_card_already_gone_at_stripe_can_still_be_removed(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    # One card detached at Stripe already (say, from its dashboard), one Stripe no longer
    # knows at all: the member can still take both out of their account.
    member, owner, customer = _member_at_stripe(app, session)
    order_id = placed_order(app, [(items["heart"], 1)], owner=owner)
    card = new_card(app, localstripe_url, customer=customer)
    assert pay(app, order_id, card, save_card=True, user_id=member.id).ok
    session.rollback()
    detached = session.scalars(select(SavedCard)).one()
    with app.app_context():
        gateway().detach(detached.payment_method_id)
    unknown = SavedCard(
        user_id=member.id,
        payment_method_id="pm_no_longer_at_stripe",
        brand="visa",
        last4="1111",
        exp_month=1,
        exp_year=2035,
        fingerprint="gone",
    )
    session.add(unknown)
    session.commit()
    base = settings(app).base_url
    for card_id in (detached.id, unknown.id):
        with app.app_context():
            assert cards.remove_card(db.transaction, gateway(), member.id, card_id, base)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(SavedCard)) == 0


class _RefusingDetach:
    """A gateway that refuses to detach (as Stripe does a card no longer attached to any
    customer) and reports the card attached to `customer`."""

    def __init__(self, customer: str | None) -> None:
        self.customer = customer

    def detach(self, payment_method: str) -> None:
        raise GatewayError("The payment method you provided is not attached to a customer.")

    def card(self, payment_method: str) -> CardDetails:
        return CardDetails(payment_method, "visa", "4242", 12, 2034, self.customer)


def test_a_card_stripe_no_longer_attaches_is_removed_and_one_it_does_is_kept(
    app: Flask, session: Session
) -> None:
    member = factories.user(session)
    card = SavedCard(
        user_id=member.id, payment_method_id="pm_x", last4="4242", exp_month=12, exp_year=2034
    )
    session.add(card)
    session.commit()
    card_id, member_id = card.id, member.id
    with app.app_context(), pytest.raises(GatewayError):  # attached, so the refusal stands
        cards.remove_card(db.transaction, _RefusingDetach("cus_1"), member_id, card_id)  # type: ignore[arg-type]
    session.rollback()
    assert session.get(SavedCard, card_id) is not None
    with app.app_context():
        assert cards.remove_card(db.transaction, _RefusingDetach(None), member_id, card_id)  # type: ignore[arg-type]
    session.rollback()
    assert session.get(SavedCard, card_id) is None


def test_saving_the_same_card_again_keeps_one_saved_card(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    member, owner, customer = _member_at_stripe(app, session)

    def pay_and_save(number: str) -> str:
        order_id = placed_order(app, [(items["jumbo"], 1)], owner=owner)
        card = new_card(app, localstripe_url, number, customer=customer)
        assert pay(app, order_id, card, save_card=True, user_id=member.id).ok
        return card

    def saved() -> list[tuple[str, str, int, int, str | None]]:
        session.rollback()
        rows = session.scalars(select(SavedCard).order_by(SavedCard.id)).all()
        return [
            (c.payment_method_id, c.last4, c.exp_month, c.exp_year, c.fingerprint) for c in rows
        ]

    first = pay_and_save("4242424242424242")
    [(_, _, _, _, fingerprint)] = saved()
    assert fingerprint  # localstripe gives one, as Stripe does
    second = pay_and_save("4242424242424242")  # the same card, typed in again
    assert saved() == [(second, "4242", 12, 2034, fingerprint)]
    with app.app_context():
        assert gateway().card(first).customer is None  # the replaced one is detached
        assert gateway().card(second).customer == customer
    other = pay_and_save("5555555555554444")
    assert [row[0] for row in saved()] == [second, other]

    # A card saved before fingerprints were kept matches by brand, last4 and expiry.
    session.execute(
        update(SavedCard).where(SavedCard.payment_method_id == other).values(fingerprint=None)
    )
    session.commit()
    again = pay_and_save("5555555555554444")
    assert [row[0] for row in saved()] == [second, again]
    page_cards = cards.saved_cards(session, member.id)
    assert [(c.last4, c.exp_year) for c in page_cards] == [("4444", 2034), ("4242", 2034)]
    notices = [m.text_body for m in emails(session, "account_profile_changed")]
    assert len(notices) == 2  # each real card once, however often it is typed in again


def test_a_customer_deleted_at_stripe_is_gone_and_deleting_again_is_harmless(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
) -> None:
    import stripe

    member = factories.user(session)
    session.commit()
    with app.app_context():
        provider = gateway()
        customer = cards.ensure_customer(db.transaction, provider, member.id)
        card = new_card(app, localstripe_url)
        provider.attach(card, customer)
        assert provider.card(card).customer == customer
        provider.delete_customer(customer)
        provider.delete_customer(customer)  # already gone: not an error
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})  # type: ignore[arg-type]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer)


def test_reconcile_finds_a_payment_whose_confirmation_was_lost(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = placed_order(app, [(items["heart"], 1)])
    order = fresh(session, order_id)
    # The charge went through at Stripe, but the shop crashed before storing the result.
    session.add(
        PaymentAttempt(
            order_id=order_id,
            attempt=1,
            idempotency_key=f"order-{order_id}-attempt-1",
            status="unknown",
            amount_pence=order.total_pence,
            currency="GBP",
        )
    )
    session.commit()
    with app.app_context():
        gateway().pay(
            amount=order.total_pence,
            currency="GBP",
            payment_method=new_card(app, localstripe_url),
            idempotency_key=f"order-{order_id}-attempt-1",
            metadata={"order_id": str(order_id), "order_number": order.number, "attempt": "1"},
        )
        report = reconcile(db.transaction, gateway(), settings(app), min_age_minutes=0)
    assert report.checked == 1 and report.outcomes == {"paid": 1}
    assert fresh(session, order_id).status == "paid"
    assert len(emails(session, "order_confirmation")) == 1


def test_a_paid_order_stores_no_purchase_events_for_a_shopper_who_opted_out(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:

    member = factories.user(session)
    member.tracking_enabled = False
    session.commit()
    order_id = placed_order(app, [(items["heart"], 1)], owner=CartOwner(user_id=member.id))
    assert pay(app, order_id, new_card(app, localstripe_url), user_id=member.id).ok
    assert fresh(session, order_id).status == "paid"
    assert session.scalars(select(Event).where(Event.kind == "purchase")).all() == []
