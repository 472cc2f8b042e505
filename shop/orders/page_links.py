"""The action links of an order page, the same for the account's and the guest link's."""

from __future__ import annotations

from flask import url_for

from shop.orders import invoice, states
from shop.orders.models import Order


def order_page_links(order: Order, blueprint: str, **key: str) -> dict[str, str | None]:
    """Cancel (while the shopper may), order again, and the invoice (once there is one);
    `blueprint` has the endpoints cancel_order, order_again and order_invoice taking `key`."""
    may_cancel = states.customer_cancel_refusal(order) is None
    has_invoice = invoice.refusal(order) is None
    return {
        "cancel_url": url_for(f"{blueprint}.cancel_order", **key) if may_cancel else None,
        "order_again_url": url_for(f"{blueprint}.order_again", **key),
        "invoice_url": url_for(f"{blueprint}.order_invoice", **key) if has_invoice else None,
    }
