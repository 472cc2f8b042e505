"""The action links of an order page, the same for the account's and the guest link's."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from shop.db import db
from shop.orders import invoice, states
from shop.orders.models import Order
from shop.returns.services import ReturnSettings, return_offer


def order_page_links(order: Order, blueprint: str, **key: str) -> dict[str, Any]:
    """Cancel (while the shopper may), order again, the invoice (once there is one), and
    the order's returns with the link to send items back (while they may); `blueprint`
    has the endpoints cancel_order, order_again, order_invoice, return_items and
    withdraw_return taking `key`."""
    may_cancel = states.customer_cancel_refusal(order) is None
    has_invoice = invoice.refusal(order) is None
    settings = ReturnSettings.from_config(current_app.config)
    offer = return_offer(db.session, order, settings)

    def withdraw_url(number: str) -> str:
        return url_for(f"{blueprint}.withdraw_return", return_number=number, **key)

    return {
        "cancel_url": url_for(f"{blueprint}.cancel_order", **key) if may_cancel else None,
        "order_again_url": url_for(f"{blueprint}.order_again", **key),
        "invoice_url": url_for(f"{blueprint}.order_invoice", **key) if has_invoice else None,
        "return_url": None if offer.refusal else url_for(f"{blueprint}.return_items", **key),
        "return_closes": offer.closes_at,
        "returns": offer.returns,
        "return_address": settings.address,
        "withdraw_url": withdraw_url,
    }
