"""What a customer paid for the lines of an order: the revenue the reports attribute.

An order's discount code and tier discount (`Order.promo_discount_pence` and
`Order.tier_discount_pence`) are taken off its goods as a whole, so each line's share of
them is allocated in proportion to the line's total. The shares are whole pence and add up
to the discount exactly: walking the lines in id order, a line's share is
floor(D x C / S) - floor(D x P / S), where D is the two discounts together, S the order's
subtotal, C the running total of the lines up to and including this one and P the same
without it. (Line totals 100, 100 and 100 with a 10p discount pay 97, 97 and 96.)

Points spent on an order are a way of paying, like a voucher, not a lower price, so they
are not taken off; neither is delivery added.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from shop.orders.models import Order, OrderLine


def paid_for_purchase(
    order_id: ColumnElement[Any], product_id: ColumnElement[Any], quantity: ColumnElement[Any]
) -> ColumnElement[int]:
    """SQL for what the customer paid (pence, after the line's share of the order's code
    and tier discounts) for `quantity` (NULL: 1) of the product bought on the order; NULL when the
    order has no line of that product.

    The arguments are columns of the caller's query (a purchase event's order, product and
    quantity), which the expression correlates to. With several lines of the product, the
    first one counts.
    """
    line = aliased(OrderLine, name="bought_line")
    earlier = aliased(OrderLine, name="earlier_line")
    through = (
        select(func.coalesce(func.sum(earlier.line_total_pence), 0))
        .where(earlier.order_id == line.order_id, earlier.id <= line.id)
        .correlate(line)
        .scalar_subquery()
    )
    discount = cast(Order.tier_discount_pence, BigInteger) + Order.promo_discount_pence
    subtotal = Order.subtotal_pence
    share = case(
        (
            and_(discount > 0, subtotal > 0),
            discount * through // subtotal
            - discount * (through - line.line_total_pence) // subtotal,
        ),
        else_=0,
    )
    paid = cast(line.line_total_pence, BigInteger) - share
    bought = func.coalesce(quantity, 1)
    return (
        select(
            case(
                (line.quantity == bought, paid),
                (line.quantity > 0, paid * bought // line.quantity),
                else_=cast(line.unit_price_pence, BigInteger) * bought,
            )
        )
        .select_from(line)
        .join(Order, Order.id == line.order_id)
        # "+ 0" keeps the product out of the index choice: without statistics SQLite would
        # otherwise search order_lines by product (hundreds of lines each), not by order.
        .where(line.order_id == order_id, line.product_id + 0 == product_id)
        .order_by(line.id)
        .limit(1)
        .correlate_except(line, Order)
        .scalar_subquery()
    )
