"""Stock held by unpaid orders: giving it back when an order's hold ends.

Placing an order takes its units off `Product.stock_qty` at once (see
`checkout.services.reserve_stock`), so a hold that ran out keeps them off until it is released:
by the release job, by the next checkout, and by a shopper asking for more of a product
than is free (`release_expired` for that product), so that nobody is told "out of stock"
because of a hold that has already ended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.catalog.services import add_to_products
from shop.db import utcnow
from shop.events.bus import record_event
from shop.orders import states
from shop.orders.models import Order, OrderLine
from shop.payments.models import PaymentAttempt
from shop.promotions.codes import give_back


def release_stock(session: Session, order: Order, note: str) -> bool:
    """Put an unpaid order's held stock back; False when it holds none (already released).

    The use of a discount code it held goes back with the stock. Records the domain event
    `order_released` in the same transaction, so that whoever holds something for the
    order (the loyalty programme: redeemed points) gives it back.
    """
    return release_orders(session, [order], note) == 1


def release_orders(session: Session, orders: Sequence[Order], note: str) -> int:
    """Put several unpaid orders' held stock back (see `release_stock`); return how many
    held some.

    The products are updated once each, in product-id order, as checkouts take stock
    (`checkout.services.reserve_stock`): two transactions that lock products in different
    orders can deadlock on PostgreSQL.
    """
    released = [order for order in orders if _claim_release(session, order)]
    units: Counter[int] = Counter()
    for order in released:
        for line in order.lines:
            if line.product_id is not None:
                units[line.product_id] += line.quantity
    add_to_products(session, Product.stock_qty, units)
    give_back(session, released)
    for order in released:
        session.refresh(order, ["stock_reserved", "reserved_until"])
        if note:
            states.note(order, note)
        record_event(
            session,
            "order_released",
            {
                "order_id": order.id,
                "number": order.number,
                "user_id": order.user_id,
                "points_redeemed": order.points_redeemed or 0,
            },
        )
    return len(released)


def _claim_release(session: Session, order: Order) -> bool:
    claimed = session.execute(
        update(Order)
        .where(Order.id == order.id, Order.stock_reserved.is_(True))
        .values(stock_reserved=False, reserved_until=None)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def release_expired(
    session: Session, now: datetime | None = None, product_ids: Collection[int] | None = None
) -> int:
    """Release the stock of unpaid orders whose hold has run out (with `product_ids`, only
    of those holding one of these products); return how many.

    An order with a 3-D Secure check still open keeps its hold: the shopper could finish
    the check (and pay) at any time, so its intent must be cancelled at the gateway before
    its stock and points go back; `payments.services.expire_waiting_payments` does that,
    outside any transaction. (Releasing here and cancelling later would leave a window in
    which the shopper pays for stock someone else has bought.)
    """
    now = now or utcnow()
    waiting = select(PaymentAttempt.id).where(
        PaymentAttempt.order_id == Order.id,
        PaymentAttempt.status == "requires_action",
        PaymentAttempt.intent_id.is_not(None),
    )
    query = select(Order).where(
        Order.status == states.PENDING_PAYMENT,
        Order.stock_reserved.is_(True),
        Order.reserved_until < now,
        ~waiting.exists(),
    )
    if product_ids is not None:
        holding = select(OrderLine.order_id).where(OrderLine.product_id.in_(product_ids))
        query = query.where(Order.id.in_(holding))
    # Orders locked by someone else (a payment landing for one of them) are left for the
    # next release: waiting for them while holding product rows could deadlock.
    expired = session.scalars(query.order_by(Order.id).with_for_update(skip_locked=True)).all()
    return release_orders(session, expired, "Stock hold expired")
