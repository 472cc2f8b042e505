"""The whole path with a real payment: a member's order paid through localstripe earns
points once (the shop's own order_paid event), and a refund through the gateway takes them
back in proportion."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty import membership, rules, tiers
from loyalty.models import Membership, PointsEntry
from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.db import db
from shop.payments.refunds import RefundRequest, refund_order
from shop.payments.setup import gateway
from tests import factories
from tests.checkout_support import fresh, new_card, pay, placed_order, settings
from tests.stripe_support import (
    config,  # noqa: F401
    localstripe_url,  # noqa: F401
)


def test_a_members_paid_order_earns_points_and_a_refund_takes_some_back(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    user = factories.user(session)
    session.commit()
    user_id = user.id
    with app.app_context(), db.transaction() as own:
        tiers.ensure_default_tiers(own)
        membership.join(own, user_id, consent=True)
    order_id = placed_order(app, [(items["heart"], 10)], owner=CartOwner(user_id=user_id))
    outcome = pay(app, order_id, new_card(app, localstripe_url))
    assert outcome.status == "paid", outcome
    order = fresh(session, order_id)
    expected = rules.points_for_order(order.total_pence - order.shipping_pence, 1, 100)
    assert expected > 0
    session.rollback()
    [earned] = session.scalars(select(PointsEntry).where(PointsEntry.reason == "earn"))
    assert (earned.points, earned.reference) == (expected, f"order:{order_id}")

    half = order.total_pence // 2
    with app.app_context():
        refund_order(
            db.transaction, gateway(), settings(app), order_id, RefundRequest(amount_pence=half)
        )
    session.rollback()
    [reversal] = session.scalars(select(PointsEntry).where(PointsEntry.reason == "refund"))
    goods = order.total_pence - order.shipping_pence  # shipping earns nothing, and is
    # paid back last
    assert reversal.points == -rules.points_to_reverse(expected, 0, half, goods)
    member = session.scalar(select(Membership).where(Membership.user_id == user_id))
    assert member is not None and member.points_balance == expected + reversal.points
