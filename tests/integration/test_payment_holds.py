"""A 3-D Secure check left open while the order is cancelled or its hold expires, against a
real localstripe server: the check is cancelled at Stripe, money that still arrives is
recorded and flagged, and an order is never paid without its stock and points held."""

from __future__ import annotations

from datetime import timedelta
from urllib.error import HTTPError

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from loyalty.models import Membership
from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.db import db, utcnow
from shop.orders.fulfilment import cancel_unpaid_order
from shop.orders.holds import release_expired, release_stock
from shop.orders.models import Order
from shop.payments import services
from shop.payments.models import PaymentAttempt
from shop.payments.reconcile import reconcile
from shop.payments.refunds import RefundError, RefundRequest, refund_order
from shop.payments.setup import gateway
from shop.payments.stripe_gateway import StripeGateway
from shop.promotions.codes import apply_code
from shop.promotions.models import PromoCode
from tests.checkout_support import (
    emails,
    fresh,
    new_card,
    paid_order,
    pay,
    place_cart,
    placed_order,
    settings,
    stock,
)
from tests.factories import member
from tests.stripe_support import (
    CARD_3DS,
    browser_3ds,
    config,  # noqa: F401
    localstripe_url,  # noqa: F401
)

LATER = timedelta(hours=2)


class _Down:
    """Point the app at a Stripe nobody answers, then back."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __enter__(self) -> None:
        self.real = self.app.extensions["payment_gateway"]
        self.app.extensions["payment_gateway"] = StripeGateway(
            secret_key="sk_test_suite",
            publishable_key="pk",
            webhook_secret="",
            api_base="http://127.0.0.1:9",
            timeout_s=2,
        )

    def __exit__(self, *exc: object) -> None:
        self.app.extensions["payment_gateway"] = self.real


def _waiting(app: Flask, order_id: int, base_url: str, *, user_id: int | None = None) -> str:
    """Pay with the 3-D Secure card and stop at the bank check; return its client secret."""
    outcome = pay(app, order_id, new_card(app, base_url, CARD_3DS), user_id=user_id)
    assert outcome.status == "requires_action" and outcome.client_secret
    return outcome.client_secret


def _attempt(session: Session, order_id: int) -> PaymentAttempt:
    session.rollback()
    found = session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id)
        .order_by(PaymentAttempt.attempt.desc())
    )
    assert found is not None
    return found


def _intent_status(app: Flask, session: Session, order_id: int) -> str:
    with app.app_context():
        return gateway().retrieve(_attempt(session, order_id).intent_id or "").status


def _finish_3ds(base_url: str, secret: str) -> bool:
    """The shopper completes the bank check; False when Stripe refuses (intent cancelled)."""
    try:
        result = browser_3ds(base_url, secret)
    except HTTPError:
        return False
    return result.get("status") == "succeeded"


def _complete(app: Flask, order_id: int) -> services.PaymentOutcome:
    with app.app_context():
        return services.complete_payment(db.transaction, gateway(), settings(app), order_id)


def _release(app: Flask, order_id: int) -> None:
    """Release an order's hold without touching its payment (as before the fix, or after
    a decline), so the open check and the released hold meet."""
    with app.app_context(), db.transaction() as tx:
        order = tx.get(Order, order_id)
        assert order is not None
        assert release_stock(tx, order, "Stock hold expired")


def _at_bank_check(
    app: Flask, lines: list[tuple[Product, int]], base_url: str, *, released: bool = False
) -> tuple[int, str]:
    """An order placed and paid with the 3-D Secure card, stopped at the bank check (its
    hold released too, when `released`); return its id and the check's client secret."""
    order_id = placed_order(app, lines)
    secret = _waiting(app, order_id, base_url)
    if released:
        _release(app, order_id)
    return order_id, secret


def _sold_elsewhere(app: Flask, lines: list[tuple[Product, int]], base_url: str) -> None:
    """Another shopper places and pays for these items."""
    paid_order(app, lines, base_url)


def _balance(session: Session, user_id: int) -> int:
    session.rollback()
    return int(
        session.scalar(select(Membership.points_balance).where(Membership.user_id == user_id)) or 0
    )


def _place_points(app: Flask, user_id: int, product: Product, qty: int, points: int) -> int:
    owner = CartOwner(user_id=user_id)
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, product.id, qty)
        return place_cart(tx, app, owner, redeem_points=points).id


# 1. Cancelling an order with an open bank check.


def test_cancelling_an_order_cancels_its_open_bank_check_at_stripe(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["heart"], 1)], localstripe_url)
    number = fresh(session, order_id).number
    session.rollback()
    result = app.test_cli_runner().invoke(args=["orders", "cancel", number])
    assert result.exit_code == 0, result.output

    assert _intent_status(app, session, order_id) == "canceled"
    assert _attempt(session, order_id).status == "failed"
    assert not _finish_3ds(localstripe_url, secret)  # the bank check can no longer pay
    done = _complete(app, order_id)
    assert done.status == "closed"
    order = fresh(session, order_id)
    assert order.status == "cancelled" and not order.payment_flag
    assert stock(session, items["heart"]) == 50


def test_money_taken_after_a_cancellation_is_recorded_and_flagged_on_return(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["heart"], 1)], localstripe_url)
    with _Down(app):  # Stripe is unreachable: the cancellation goes ahead all the same
        result = app.test_cli_runner().invoke(
            args=["orders", "cancel", fresh(session, order_id).number]
        )
    assert result.exit_code == 0, result.output
    assert fresh(session, order_id).status == "cancelled"
    assert _attempt(session, order_id).status == "requires_action"  # left for reconcile

    assert _finish_3ds(localstripe_url, secret)
    done = _complete(app, order_id)
    assert done.status == "closed" and "refund" in done.message
    order = fresh(session, order_id)
    assert order.status == "cancelled"
    assert "paid after it was cancelled" in (order.payment_flag or "")
    assert _attempt(session, order_id).status == "succeeded"


def test_reconcile_settles_the_open_checks_of_cancelled_orders(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    paid_id = placed_order(app, [(items["heart"], 1)])
    paid_secret = _waiting(app, paid_id, localstripe_url)
    open_id = placed_order(app, [(items["jumbo"], 1)])
    _waiting(app, open_id, localstripe_url)
    for order_id in (paid_id, open_id):  # cancelled while Stripe could not be told
        with app.app_context(), db.transaction() as tx:
            order = tx.get(Order, order_id)
            assert order is not None
            cancel_unpaid_order(tx, order)
    assert _finish_3ds(localstripe_url, paid_secret)

    with app.app_context():
        report = reconcile(db.transaction, gateway(), settings(app), min_age_minutes=0)
    assert report.checked == 2
    assert report.outcomes == {"flagged": 1, "failed": 1}
    assert "paid after it was cancelled" in (fresh(session, paid_id).payment_flag or "")
    assert _attempt(session, paid_id).status == "succeeded"
    assert _intent_status(app, session, open_id) == "canceled"
    assert _attempt(session, open_id).status == "failed"
    assert not fresh(session, open_id).payment_flag


# 2. A hold that expires while the bank check is open.


def test_an_expired_hold_cancels_the_open_check_before_giving_the_stock_back(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["lantern"], 3)], localstripe_url)
    with app.app_context(), db.transaction() as tx:
        assert release_expired(tx, utcnow() + LATER) == 0  # kept: the check is open
    assert stock(session, items["lantern"]) == 0
    with app.app_context(), _Down(app):
        down = services.expire_waiting_payments(
            db.transaction, gateway(), settings(app), utcnow() + LATER
        )
    assert down == (0, 1)  # Stripe unreachable: still held
    assert stock(session, items["lantern"]) == 0

    with app.app_context():
        released = services.expire_waiting_payments(
            db.transaction, gateway(), settings(app), utcnow() + LATER
        )
    assert released == (1, 0)
    assert stock(session, items["lantern"]) == 3
    assert _intent_status(app, session, order_id) == "canceled"
    assert _attempt(session, order_id).error == services.HOLD_EXPIRED
    assert not _finish_3ds(localstripe_url, secret)
    assert _complete(app, order_id).status == "declined"
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved


def test_resuming_a_check_whose_hold_ended_holds_the_stock_again_first(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["lantern"], 3)], localstripe_url, released=True)
    resumed = pay(app, order_id, new_card(app, localstripe_url, CARD_3DS))
    assert resumed.status == "requires_action" and resumed.client_secret == secret
    assert fresh(session, order_id).stock_reserved
    assert stock(session, items["lantern"]) == 0  # held again
    assert _finish_3ds(localstripe_url, secret)
    assert _complete(app, order_id).status == "paid"
    order = fresh(session, order_id)
    assert order.status == "paid" and not order.payment_flag
    assert stock(session, items["lantern"]) == 0  # taken once


def test_resuming_a_check_for_sold_out_stock_is_refused_and_the_check_cancelled(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["lantern"], 3)], localstripe_url, released=True)
    _sold_elsewhere(app, [(items["lantern"], 3)], localstripe_url)  # someone else buys them

    resumed = pay(app, order_id, new_card(app, localstripe_url, CARD_3DS))
    assert resumed.status == "refused"
    assert "sold out" in resumed.message
    assert _intent_status(app, session, order_id) == "canceled"
    assert not _finish_3ds(localstripe_url, secret)
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved
    assert stock(session, items["lantern"]) == 0  # not oversold


def test_money_for_an_order_whose_stock_was_sold_meanwhile_is_flagged(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["lantern"], 3)], localstripe_url, released=True)
    _sold_elsewhere(app, [(items["lantern"], 3)], localstripe_url)
    assert _finish_3ds(localstripe_url, secret)  # the money is taken all the same

    assert _complete(app, order_id).status == "paid"
    order = fresh(session, order_id)
    assert order.status == "paid"
    assert "its stock could not be taken again" in (order.payment_flag or "")
    assert "sold out" in (order.payment_flag or "")
    assert stock(session, items["lantern"]) == 0  # never below zero

    # Its items never left stock, so a refund cannot put them back.
    with app.app_context():
        with pytest.raises(RefundError, match="never took its items out of stock"):
            refund_order(
                db.transaction, gateway(), settings(app), order_id, RefundRequest(restock_all=True)
            )
        refund_order(db.transaction, gateway(), settings(app), order_id, RefundRequest())
    order = fresh(session, order_id)
    assert (order.status, order.refunded_pence) == ("refunded", order.total_pence)
    assert stock(session, items["lantern"]) == 0


def test_money_for_an_order_after_its_hold_ended_takes_the_stock_again(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id, secret = _at_bank_check(app, [(items["heart"], 4)], localstripe_url, released=True)
    assert stock(session, items["heart"]) == 50
    assert _finish_3ds(localstripe_url, secret)
    with app.app_context():  # the return was lost: reconciliation finds the payment
        report = reconcile(db.transaction, gateway(), settings(app), min_age_minutes=0)
    assert report.outcomes == {"paid": 1}
    order = fresh(session, order_id)
    assert order.status == "paid" and not order.payment_flag
    assert order.stock_reserved
    assert stock(session, items["heart"]) == 46


def test_points_spent_elsewhere_after_the_hold_ended_are_flagged_not_confirmed(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    from loyalty import ledger

    mia = member(session, points=1000)
    order_id = _place_points(app, mia.id, items["heart"], 10, 1000)
    secret = _waiting(app, order_id, localstripe_url, user_id=mia.id)
    _release(app, order_id)
    assert _balance(session, mia.id) == 1000  # the points came back
    session.rollback()
    membership_id = session.scalar(select(Membership.id).where(Membership.user_id == mia.id))
    with app.app_context(), db.transaction() as tx:
        ledger.append(tx, membership_id or 0, -800, "adjust", "spent elsewhere")
    assert _finish_3ds(localstripe_url, secret)

    assert _complete(app, order_id).status == "paid"
    order = fresh(session, order_id)
    assert order.status == "paid"
    assert "1,000 points could not be debited again" in (order.payment_flag or "")
    assert (order.payment_flag or "").count("You have only 200 points.") == 1
    assert stock(session, items["heart"]) == 40  # the stock was there: taken
    assert emails(session, "loyalty_points_redeemed") == []


def test_a_code_used_up_after_the_hold_ended_is_counted_and_flagged_not_refused(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    session.add(PromoCode(code="LAST1", kind="percent", percent_bp=1000, max_uses=1))
    session.commit()
    owner = CartOwner(visitor_id="v-last1")
    with app.app_context(), db.transaction() as tx:
        add_item(tx, owner, items["heart"].id, 10)
        apply_code(tx, owner, "LAST1", now=utcnow())
        order_id = place_cart(tx, app, owner).id
    secret = _waiting(app, order_id, localstripe_url)
    _release(app, order_id)
    session.rollback()
    assert session.scalar(select(PromoCode.uses)) == 0  # the release gave the use back
    session.execute(update(PromoCode).values(uses=1))  # someone else took the last use
    session.commit()
    assert _finish_3ds(localstripe_url, secret)

    assert _complete(app, order_id).status == "paid"
    order = fresh(session, order_id)
    assert order.status == "paid" and order.total_pence == 3050  # 29.50 - 2.95 + 3.95
    assert "its code LAST1 was used beyond its limits" in (order.payment_flag or "")
    assert "points" not in (order.payment_flag or "")
    assert stock(session, items["heart"]) == 40  # the stock was taken all the same
    session.rollback()
    assert session.scalar(select(PromoCode.uses)) == 2
