"""Member benefits at checkout on a real database: points held when the order is placed,
never spent twice, given back when the order is released, and tier discount and free
shipping in the amount Stripe (localstripe) charges."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import ledger
from loyalty.checkout_benefits import release_points_of
from loyalty.models import LoyaltyNotice, Membership, PointsEntry
from shop.cart.services import CartOwner, add_item
from shop.catalog.models import Product
from shop.checkout import adjustments
from shop.checkout.services import (
    BenefitNotHeld,
    BenefitRefused,
    CheckoutError,
    quote,
    release_expired,
)
from shop.db import db, utcnow
from shop.events.models import DomainEvent
from shop.money import MINUS
from shop.orders.fulfilment import cancel_unpaid_order
from shop.orders.models import Order
from shop.payments.models import PaymentAttempt
from shop.payments.stripe_gateway import StripeGateway
from tests.checkout_support import (
    CONTACT,
    emails,
    fresh,
    new_card,
    pay,
    place_cart,
    settings,
    stock,
)
from tests.factories import member
from tests.stripe_support import CARD_DECLINED, config, localstripe_url  # noqa: F401


def membership_of(session: Session, user_id: int) -> Membership:
    session.rollback()
    found = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert found is not None
    return found


def entries(session: Session, user_id: int) -> list[tuple[int, str, str]]:
    """The member's ledger without points earned on paid orders (another subscriber's)."""
    membership = membership_of(session, user_id)
    rows = session.scalars(
        select(PointsEntry)
        .where(PointsEntry.membership_id == membership.id, PointsEntry.reason != "earn")
        .order_by(PointsEntry.id)
    )
    return [(e.points, e.reason, e.reference) for e in rows]


def earned(session: Session, user_id: int) -> int:
    """Points the member earned on paid orders."""
    membership = membership_of(session, user_id)
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.membership_id == membership.id, PointsEntry.reason == "earn"
        )
    )
    return int(total or 0)


def fill_cart(app: Flask, owner: CartOwner, items: list[tuple[Product, int]]) -> None:
    with app.app_context(), db.transaction() as tx:
        for product, qty in items:
            add_item(tx, owner, product.id, qty)


def place(app: Flask, user_id: int, *, points: int = 0, method: str = "standard") -> int:
    """Place the member's cart as an order; return its id."""
    with app.app_context(), db.transaction() as tx:
        order = place_cart(tx, app, CartOwner(user_id=user_id), method=method, redeem_points=points)
        return order.id


def test_placing_an_order_holds_the_points_in_the_same_transaction(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=1500)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1000)

    order = fresh(session, order_id)
    assert (order.points_redeemed, order.points_discount_pence) == (1000, 1000)
    assert (order.tier_discount_pence, order.discount_pence) == (0, 1000)
    assert (order.shipping_pence, order.total_pence) == (395, 2950 - 1000 + 395)
    assert entries(session, mia.id) == [
        (1500, "adjust", "welcome"),
        (-1000, "redeem", f"order:{order_id}"),
    ]
    held = membership_of(session, mia.id)
    assert held.points_balance == 500 == ledger.balance(session, held.id)


def test_more_points_than_the_balance_places_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=740)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    with pytest.raises(BenefitRefused, match="You have only 740 points"):
        place(app, mia.id, points=1000)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert stock(session, items["heart"]) == 50
    assert membership_of(session, mia.id).points_balance == 740


def test_without_a_provider_the_checkout_prices_as_before(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=5000, discount_bp=1000, free_shipping=True, tier="Gold")
    owner = CartOwner(user_id=mia.id)
    fill_cart(app, owner, [(items["heart"], 2)])
    with app.app_context():
        with_benefits = quote(db.session, owner, settings(app), "standard")
        provider = app.extensions.pop(adjustments.EXTENSION)
        try:
            plain = quote(db.session, owner, settings(app), "standard")
        finally:
            adjustments.register(app, provider)
    assert plain.totals.total_pence == 590 + 395
    assert plain.benefits == adjustments.NO_BENEFITS
    assert with_benefits.totals.total_pence == 590 - 59
    assert with_benefits.totals.free_shipping


def test_two_concurrent_checkouts_of_one_member_cannot_spend_the_same_points(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=1000)
    user_id = mia.id  # plain values only cross into the threads
    fill_cart(app, CartOwner(user_id=user_id), [(items["heart"], 10)])
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    def checkout() -> None:
        with app.app_context():
            barrier.wait()
            try:
                with db.transaction() as tx:
                    place_cart(tx, app, CartOwner(user_id=user_id), redeem_points=1000)
                outcome = "placed"
            except (BenefitRefused, BenefitNotHeld) as exc:
                outcome = "refused" if "only 0 points" in str(exc) else f"refused: {exc}"
            except Exception as exc:  # a lock timeout would show up here
                outcome = f"error: {type(exc).__name__}: {exc}"
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=checkout) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["placed", "refused"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    held = membership_of(session, user_id)
    assert held.points_balance == 0 == ledger.balance(session, held.id)
    assert [r for _, r, _ in entries(session, user_id)].count("redeem") == 1
    assert stock(session, items["heart"]) == 40  # the refused order took no stock


def test_cancelling_an_unpaid_order_gives_the_points_back_once(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=2000)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1200)
    assert membership_of(session, mia.id).points_balance == 800

    with app.app_context(), db.transaction() as tx:
        order = tx.get(Order, order_id)
        assert order is not None
        cancel_unpaid_order(tx, order, "changed my mind")
    # order_released was recorded with the cancellation and dispatched after the commit.
    session.rollback()
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_released"))
    assert event is not None and event.dispatched_at is not None
    assert event.payload == {
        "order_id": order_id,
        "number": fresh(session, order_id).number,
        "user_id": mia.id,
        "points_redeemed": 1200,
    }
    assert membership_of(session, mia.id).points_balance == 2000
    assert entries(session, mia.id)[-1] == (1200, "redeem_reversal", f"order:{order_id}")

    # A second release (the event delivered again) changes nothing.
    with app.app_context(), db.transaction() as tx:
        assert release_points_of(tx, order_id) == 0
    assert len(entries(session, mia.id)) == 3
    assert membership_of(session, mia.id).points_balance == 2000


def test_a_member_whose_unpaid_order_staff_cancel_is_told_their_points_go_back(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=2000)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1200)
    number = fresh(session, order_id).number
    result = app.test_cli_runner().invoke(args=["orders", "cancel", number, "--reason", "stale"])
    assert result.exit_code == 0, result.output
    [told] = emails(session, "order_cancelled")
    assert (told.to_address, told.user_id) == (CONTACT.email, mia.id)
    assert told.subject == f"Your order {number} is cancelled"
    for part in (told.text_body, told.html_body):
        assert "no money has been taken" in part
        assert "The 1,200 points you chose to spend on it go back to your points balance." in part
        assert "stale" not in part  # the reason is for the order's timeline
    assert membership_of(session, mia.id).points_balance == 2000


def test_an_expired_hold_gives_the_points_back(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, points=1000)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=600)
    assert membership_of(session, mia.id).points_balance == 400
    with app.app_context(), db.transaction() as tx:
        assert release_expired(tx, utcnow() + timedelta(hours=2)) == 1
    assert membership_of(session, mia.id).points_balance == 1000
    assert stock(session, items["heart"]) == 50
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved


def test_points_a_cancelled_order_gives_back_keep_their_expiry_date(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session)
    held = membership_of(session, mia.id)
    expiry = (utcnow() + timedelta(days=300)).replace(microsecond=0)
    ledger.append(session, held.id, 2000, "earn", "order:earlier", expires_at=expiry)
    session.commit()
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1200)
    with app.app_context(), db.transaction() as tx:
        order = tx.get(Order, order_id)
        assert order is not None
        cancel_unpaid_order(tx, order, "changed my mind")
    session.rollback()
    returned = session.scalar(select(PointsEntry).where(PointsEntry.reason == "redeem_reversal"))
    assert returned is not None and returned.points == 1200
    assert returned.expires_at == expiry


def test_a_guest_order_released_records_the_event_without_points(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    owner = CartOwner(visitor_id=uuid.uuid4().hex)
    fill_cart(app, owner, [(items["heart"], 1)])
    with app.app_context(), db.transaction() as tx:
        order_id = place_cart(tx, app, owner).id
    with app.app_context(), db.transaction() as tx:
        release_expired(tx, utcnow() + timedelta(hours=2))
    session.rollback()
    event = session.scalar(select(DomainEvent).where(DomainEvent.name == "order_released"))
    assert event is not None
    assert event.payload["order_id"] == order_id
    assert event.payload["user_id"] is None and event.payload["points_redeemed"] == 0


def test_the_campaign_key_is_stored_on_the_order(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 1)])
    with app.app_context(), db.transaction() as tx:
        order_id = place_cart(tx, app, CartOwner(user_id=mia.id), campaign="weekly-2026-W48").id
    assert fresh(session, order_id).campaign == "weekly-2026-W48"


def test_tier_discount_and_free_shipping_are_in_the_amount_stripe_charges(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    gold = member(session, points=3000, discount_bp=1000, free_shipping=True, tier="Gold")
    fill_cart(app, CartOwner(user_id=gold.id), [(items["heart"], 10)])
    order_id = place(app, gold.id, points=1000)
    order = fresh(session, order_id)
    # £29.50 of goods, 10% off (£2.95), 1,000 points (£10.00), standard delivery free.
    assert (order.subtotal_pence, order.tier_discount_pence) == (2950, 295)
    assert (order.points_discount_pence, order.shipping_pence) == (1000, 0)
    assert order.discount_pence == 1295 and order.total_pence == 1655
    assert order.points_to_earn == 16  # £16.55 of goods paid, 1 point a pound

    outcome = pay(app, order_id, new_card(app, localstripe_url))
    assert outcome.status == "paid", outcome.message
    order = fresh(session, order_id)
    assert order.status == "paid"
    attempt = session.scalar(select(PaymentAttempt).where(PaymentAttempt.order_id == order_id))
    assert attempt is not None and attempt.amount_pence == 1655
    intent = StripeGateway(
        secret_key="sk_test_suite", publishable_key="", webhook_secret="", api_base=localstripe_url
    ).retrieve(attempt.intent_id or "")
    assert intent.amount == 1655

    # The redemption is confirmed by e-mail once, and the order e-mail shows each discount.
    redeemed = emails(session, "loyalty_points_redeemed")
    assert len(redeemed) == 1
    assert redeemed[0].to_address == "mia@example.com"
    assert f"You used 1,000 points (£10.00) on order {order.number}" in redeemed[0].text_body
    balance = membership_of(session, gold.id).points_balance
    assert balance == 2000 + earned(session, gold.id)
    assert f"balance is now {balance:,} points" in redeemed[0].text_body
    confirmation = emails(session, "order_confirmation")[0]
    # The tier discount is named as in the cart, and the order keeps that name.
    assert order.tier_discount_label == "Gold member discount (10%)"
    assert f"Gold member discount (10%):  {MINUS}£2.95" in confirmation.text_body
    assert "Gold member discount (10%)" in confirmation.html_body
    assert f"Points (1,000):  {MINUS}£10.00" in confirmation.text_body
    assert "Points (1,000)" in confirmation.html_body
    # The confirmation says what the order earns, and the programme awards that.
    assert earned(session, gold.id) == 16
    assert "This order earns you 16 loyalty points." in confirmation.text_body
    assert "16 loyalty points</strong>" in confirmation.html_body
    # Discounts come off the goods, then delivery is added, in this order on every page.
    for body in (confirmation.text_body, confirmation.html_body):
        totals = body[body.index("Subtotal") :]
        order_of = [totals.index(label) for label in ("Gold member", "Points (", "Delivery")]
        assert order_of == sorted(order_of) and order_of[-1] < totals.index("Total")
    notices = session.scalars(select(LoyaltyNotice).where(LoyaltyNotice.kind == "redeemed"))
    assert [n.key for n in notices] == [str(order_id)]


def test_a_declined_payment_returns_the_points_and_a_retry_holds_them_again(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    mia = member(session, points=1500)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1000)
    declined = pay(app, order_id, new_card(app, localstripe_url, CARD_DECLINED))
    assert declined.status == "declined"
    assert membership_of(session, mia.id).points_balance == 1500

    paid = pay(app, order_id, new_card(app, localstripe_url))
    assert paid.status == "paid", paid.message
    assert membership_of(session, mia.id).points_balance == 500 + earned(session, mia.id)
    assert entries(session, mia.id) == [
        (1500, "adjust", "welcome"),
        (-1000, "redeem", f"order:{order_id}"),
        (1000, "redeem_reversal", f"order:{order_id}"),
        (-1000, "redeem", f"order:{order_id}/2"),
    ]
    assert len(emails(session, "loyalty_points_redeemed")) == 1


def test_a_retry_after_the_points_were_spent_elsewhere_is_refused(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    mia = member(session, points=1000)
    fill_cart(app, CartOwner(user_id=mia.id), [(items["heart"], 10)])
    order_id = place(app, mia.id, points=1000)
    with app.app_context(), db.transaction() as tx:
        release_expired(tx, utcnow() + timedelta(hours=2))
    assert membership_of(session, mia.id).points_balance == 1000
    membership_id = membership_of(session, mia.id).id
    with app.app_context(), db.transaction() as tx:
        ledger.append(tx, membership_id, -800, "adjust", "spent elsewhere")

    outcome = pay(app, order_id, new_card(app, localstripe_url))
    assert outcome.status == "refused"  # the order stays unpaid; it may be cancelled
    assert outcome.message == "You have only 200 points."
    order = fresh(session, order_id)
    assert order.status == "pending_payment" and not order.stock_reserved
    assert stock(session, items["heart"]) == 50  # nothing taken
    assert membership_of(session, mia.id).points_balance == 200


def test_a_refused_hold_is_a_checkout_error(app: Flask) -> None:
    assert issubclass(BenefitNotHeld, CheckoutError)
    assert issubclass(BenefitRefused, CheckoutError)
