"""Order e-mails, queued in the outbox in the same transaction as the change they report."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from shop.checkout.pricing import CheckoutSettings
from shop.mail.models import OutboxEmail
from shop.mail.outbox import enqueue_email
from shop.orders.models import Order

log = logging.getLogger(__name__)

SUBJECTS = {
    "order_confirmation": "Your order {number} is confirmed",
    "payment_failed": "Payment for order {number} did not go through",
    "order_shipped": "Your order {number} is on its way",
    "order_refunded": "A refund for order {number}",
    "order_cancelled": "Your order {number} is cancelled",
    "order_cancelled_refunded": "Your order {number} is cancelled and refunded",
    "return_requested": "How to send back items of order {number}",
    "return_refunded": "We received your return for order {number} and refunded it",
    "return_rejected": "Your return for order {number} was not accepted",
    "return_lapsed": "We have not received your return for order {number}",
}


def order_link(order: Order, base_url: str) -> str:
    """The absolute link to the order page: the secret link works for guests and members."""
    if order.access_token:
        return f"{base_url}/orders/{order.access_token}"
    return f"{base_url}/account/orders/{order.number}"


def queue_order_email(
    session: Session, order: Order, kind: str, settings: CheckoutSettings, **extra: Any
) -> OutboxEmail | None:
    """Queue one of the order e-mails (see SUBJECTS); None when the order has no address."""
    if not order.email:
        return None
    if kind == "order_confirmation":
        extra.setdefault("suggestions", _suggestions(session, order, settings))
    context = {
        "order": order,
        "order_url": order_link(order, settings.base_url),
        "shop_name": settings.shop_name,
        **extra,
    }
    return enqueue_email(
        session,
        kind=kind,
        to=order.email,
        subject=SUBJECTS[kind].format(number=order.number),
        template=kind,
        context=context,
        order_id=order.id,
        user_id=order.user_id,
    )


def _suggestions(
    session: Session, order: Order, settings: CheckoutSettings
) -> list[dict[str, str]]:
    """Suggestions for the confirmation e-mail; a failure here never fails the order."""
    from shop.money import format_money
    from shop.personalization import email_shopper, service

    try:
        shown = service().for_order(
            session,
            email_shopper(session, order),
            [line.product_id for line in order.lines if line.product_id is not None],
            placement_name="order_email",
            log_in_session=True,
        )
    except Exception:
        log.exception("no suggestions for the e-mail of order %s", order.number)
        return []
    return [
        {
            "name": item.product.name,
            "price": format_money(item.product.price_pence, item.product.currency),
            "url": f"{settings.base_url}/products/{item.product.id}?rec={shown.rec_id}",
            "reason": item.reason,
        }
        for item in shown.items
    ]
