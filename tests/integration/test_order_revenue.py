"""What a customer paid for an order's lines (`orders.revenue`): the tier discount and a
discount code's are shared out over the lines in proportion, in whole pence that add up to
them exactly."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import utcnow
from shop.orders.models import Order
from shop.orders.revenue import paid_for_purchase
from shop.tracking.models import Event
from tests import factories


def paid(session: Session, order: Order, quantities: dict[int, int | None]) -> list[int | None]:
    """What `paid_for_purchase` says for a purchase of each product (id: quantity)."""
    session.execute(
        insert(Event),
        [
            {
                "kind": "purchase",
                "visitor_id": "v",
                "order_id": order.id,
                "product_id": product_id,
                "quantity": quantity,
                "created_at": utcnow(),
            }
            for product_id, quantity in quantities.items()
        ],
    )
    query = (
        select(paid_for_purchase(Event.order_id, Event.product_id, Event.quantity))
        .where(Event.order_id == order.id)
        .order_by(Event.id)
    )
    return [None if value is None else int(value) for value in session.scalars(query)]


def test_the_tier_discount_is_shared_by_line_total_in_whole_pence(
    session: Session, items: dict[str, Product]
) -> None:
    heart, jumbo = items["heart"], items["jumbo"]  # 295, 195
    order = factories.order(session, None, "T-1", [(heart, 2), (jumbo, 1)])  # 590 + 195 = 785
    order.tier_discount_pence = 79  # 10%, rounded
    order.points_discount_pence = 100  # points pay; they are not a lower price
    session.commit()
    # 79 x 590 / 785 = 59.4 -> 59 off the hearts; the bag gets the rest, 20.
    assert paid(session, order, {heart.id: 2, jumbo.id: 1}) == [531, 175]


def test_a_discount_codes_discount_is_shared_out_with_the_tier_discount(
    session: Session, items: dict[str, Product]
) -> None:
    heart, jumbo = items["heart"], items["jumbo"]  # 295, 195
    order = factories.order(session, None, "T-3", [(heart, 2), (jumbo, 1)])  # 590 + 195 = 785
    order.promo_discount_pence = 100
    order.tier_discount_pence = 34
    session.commit()
    # 134 x 590 / 785 = 100.7 -> 100 off the hearts; the bag gets the rest, 34.
    assert paid(session, order, {heart.id: 2, jumbo.id: 1}) == [490, 161]


def test_shares_add_up_to_the_discount_exactly(session: Session) -> None:
    cat = factories.category(session, "rev", "Revenue")
    three = [
        factories.product(session, cat, sku=f"R{n}", name=f"Item {n}", price=100) for n in range(3)
    ]
    order = factories.order(session, None, "T-2", [(product, 1) for product in three])
    order.tier_discount_pence = 10
    session.commit()
    shares = paid(session, order, {product.id: 1 for product in three})
    assert shares == [97, 97, 96] and sum(shares) == 300 - 10


def test_no_discount_large_amounts_and_other_quantities(session: Session) -> None:
    cat = factories.category(session, "big", "Big")
    grand = factories.product(session, cat, sku="BIG", name="Grand piano", price=9_000_000)
    stool = factories.product(session, cat, sku="STOOL", name="Piano stool", price=1_000_000)
    missing = factories.product(session, cat, sku="NONE", name="Not on the order", price=5)
    order = factories.order(session, None, "T-3", [(grand, 2), (stool, 1)])  # 19,000,000
    order.tier_discount_pence = 1_900_000  # 10%: products above 2**31 on the way
    plain = factories.order(session, None, "T-4", [(stool, 3)])
    session.commit()
    # 2 pianos pay 16,200,000 (1 of them: half); the event without a quantity counts one.
    assert paid(session, order, {grand.id: 1, stool.id: None, missing.id: 1}) == [
        8_100_000,
        900_000,
        None,
    ]
    assert paid(session, plain, {stool.id: 3}) == [3_000_000]
