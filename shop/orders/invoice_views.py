"""The invoice page of an order; the account's and the guest link's routes both use it."""

from __future__ import annotations

from flask import abort, current_app, render_template

from shop.db import db
from shop.orders.invoice import NoInvoice, Seller, invoice_for
from shop.orders.models import Order


def invoice_page(order: Order, back_url: str) -> tuple[str, int]:
    """The order's VAT invoice or receipt, ready to print; a 404 saying why when it has none."""
    try:
        invoice = invoice_for(db.session, order, Seller.from_config(current_app.config))
    except NoInvoice as exc:
        abort(404, str(exc))
    return render_template("orders/invoice.html", invoice=invoice, back_url=back_url), 200
