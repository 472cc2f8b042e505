"""VAT on orders: the rate each order is sold at, the VAT in its total on its page and in its
e-mails, and its VAT invoice (a receipt without a VAT number), refunds credited on it."""

from __future__ import annotations

import re
from html import unescape

from flask import Flask
from sqlalchemy.orm import Session

from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.db import db
from shop.payments.refunds import RefundRequest, refund_order
from shop.payments.setup import gateway
from tests import factories
from tests.checkout_support import emails, fresh, new_card, paid_order, pay, placed_order, settings
from tests.console_support import client_as
from tests.helpers import CHECKOUT_FORM, add_to_cart, csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401

# Two heart holders (£5.90) and UK standard delivery (£3.95): £9.85, of which VAT at 20% is
# £1.64 (985 / 6 = 164.17) and the rest £8.21.
TOTAL, VAT, NET = "£9.85", "£1.64", "£8.21"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(html)))


def test_a_paid_order_shows_its_vat_and_has_a_receipt(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    order_id = paid_order(app, [(items["heart"], 2)], localstripe_url)
    order = fresh(session, order_id)
    assert order.vat_rate_bp == 2000
    client = app.test_client()

    page = unescape(client.get(f"/orders/{order.access_token}").get_data(as_text=True))
    assert f'data-testid="order-total">{TOTAL}<' in page
    assert "Includes VAT at 20%" in page and f'data-testid="order-vat">{VAT}<' in page
    assert f'href="/orders/{order.access_token}/invoice"' in page
    assert "Receipt for this order" in page
    [confirmation] = emails(session, "order_confirmation")
    assert f"Includes VAT at 20%:  {VAT}" in confirmation.text_body
    assert "Includes VAT at 20%" in confirmation.html_body

    response = client.get(f"/orders/{order.access_token}/invoice")
    assert response.status_code == 200
    receipt = _text(response.get_data(as_text=True))
    assert f"Receipt {order.number}" in receipt
    assert f"Total excluding VAT {NET} VAT at 20% {VAT} Total paid {TOTAL}" in receipt
    assert "White Hanging Heart T-Light Holder (85123A) 2 £2.95 £5.90" in receipt
    assert "To Grace Guest 1 Market Street York YO1 7HH United Kingdom" in receipt
    assert "This is a receipt. Prices include VAT at 20%." in receipt
    assert "VAT registration number" not in receipt


def test_with_a_vat_number_it_is_a_vat_invoice_and_refunds_are_credited(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    app.config["VAT_NUMBER"] = "GB 123 4567 89"
    app.config["LEGAL_ADDRESS"] = "Hearth & Parcel Ltd, 1 Coney Street, York YO1 9QL"
    ann = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    order_id = placed_order(app, [(items["heart"], 2)], owner=CartOwner(user_id=ann.id))
    assert pay(app, order_id, new_card(app, localstripe_url)).ok
    number = fresh(session, order_id).number
    with app.app_context():
        refund_order(db.transaction, gateway(), settings(app), order_id, RefundRequest(300))
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    page = client.get(f"/account/orders/{number}").get_data(as_text=True)
    assert (
        f'href="/account/orders/{number}/invoice"' in page and "VAT invoice for this order" in page
    )
    invoice = _text(client.get(f"/account/orders/{number}/invoice").get_data(as_text=True))
    assert f"VAT invoice {number}" in invoice
    assert "Hearth & Parcel Hearth & Parcel Ltd 1 Coney Street York YO1 9QL" in invoice
    assert "VAT registration number: GB 123 4567 89" in invoice
    assert f"VAT at 20% {VAT} Total paid {TOTAL}" in invoice
    # £3.00 back: £0.50 of it VAT (300 / 6).
    minus = "\N{MINUS SIGN}"
    assert "Refunds" in invoice and f"{minus}£2.50 {minus}£0.50 {minus}£3.00" in invoice
    assert "This is a receipt" not in invoice

    session.rollback()
    staff = client_as(app, session, "merchandiser")
    console_page = staff.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert f'href="/console/orders/{order_id}/invoice"' in console_page
    assert f'data-testid="order-vat">{VAT}<' in console_page
    copy = staff.get(f"/console/orders/{order_id}/invoice")
    assert copy.status_code == 200
    assert f"VAT invoice {number}" in _text(copy.get_data(as_text=True))
    assert client.get(f"/console/orders/{order_id}/invoice").status_code in (403, 404)


def test_the_cart_and_the_review_show_the_vat_in_the_total(
    app: Flask,
    session: Session,
    items: dict[str, Product],
) -> None:
    client = app.test_client()
    add_to_cart(client, items["heart"], 2)
    cart = unescape(client.get("/cart").get_data(as_text=True))
    assert f'data-testid="total">{TOTAL}<' in cart
    assert "Includes VAT at 20%" in cart and f'data-testid="cart-vat">{VAT}<' in cart

    app.config["VAT_RATE_BP"] = 500  # a reduced rate: 985 / 21 = 46.9
    cart = unescape(client.get("/cart").get_data(as_text=True))
    assert "Includes VAT at 5%" in cart and 'data-testid="cart-vat">£0.47<' in cart
    token = csrf_token(client, "/checkout")
    assert client.post("/checkout", data={"csrf_token": token, **CHECKOUT_FORM}).status_code == 302
    shipping = {"csrf_token": token, "method": "standard"}
    assert client.post("/checkout/shipping", data=shipping).status_code == 302
    review = unescape(client.get("/checkout/review").get_data(as_text=True))
    assert 'data-testid="summary-vat">£0.47<' in review


def test_orders_without_an_invoice_say_why(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    factories.order(session, ann, "536365", [(items["heart"], 6)])  # imported: no rate kept
    session.commit()
    unpaid_id = placed_order(app, [(items["jumbo"], 1)], owner=CartOwner(user_id=ann.id))
    unpaid = fresh(session, unpaid_id).number
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    imported = client.get("/account/orders/536365").get_data(as_text=True)
    assert "invoice-link" not in imported and "order-vat" not in imported
    response = client.get("/account/orders/536365/invoice")
    assert response.status_code == 404
    assert "placed before the shop recorded VAT rates" in unescape(response.get_data(as_text=True))

    response = client.get(f"/account/orders/{unpaid}/invoice")
    assert response.status_code == 404
    assert f"Order {unpaid} has not been paid, so it has no invoice." in unescape(
        response.get_data(as_text=True)
    )
    assert "invoice-link" not in client.get(f"/account/orders/{unpaid}").get_data(as_text=True)

    session.rollback()
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    bob = app.test_client()
    sign_in(bob, "bob@example.com", factories.PASSWORD)
    assert bob.get("/account/orders/536365/invoice").status_code == 404
    assert app.test_client().get("/orders/no-such-token/invoice").status_code == 404
