"""The payment page when an order's stock or points can no longer be held: the reason is
shown, and the shopper can cancel the order and go back to the cart."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import db
from shop.orders.holds import release_stock
from shop.orders.models import Order
from tests.checkout_support import emails, fresh, new_card, paid_order, stock
from tests.helpers import add_to_cart, csrf_token
from tests.stripe_support import config, localstripe_url  # noqa: F401
from tests.web.test_checkout_pages import _json, _place, _through_review


def test_a_retry_that_cannot_hold_the_stock_says_why_and_offers_to_cancel(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    add_to_cart(client, items["lantern"], 3)
    access = _place(client, _through_review(client))
    session.rollback()
    order_id = session.scalar(select(Order.id).where(Order.access_token == access))
    assert order_id is not None
    with app.app_context(), db.transaction() as tx:  # the hold expired ...
        order = tx.get(Order, order_id)
        assert order is not None
        release_stock(tx, order, "Stock hold expired")
    paid_order(app, [(items["lantern"], 3)], localstripe_url)  # ... and someone else bought them

    retry = _json(
        client, f"/checkout/pay/{access}", {"payment_method": new_card(app, localstripe_url)}
    )
    assert retry.status_code == 409
    body = retry.get_json()
    assert body["status"] == "refused" and "redirect" not in body
    assert "sold out" in body["error"]
    assert body["cancel_url"] == f"/checkout/pay/{access}/cancel"
    page = client.get(f"/checkout/pay/{access}").get_data(as_text=True)
    assert f'action="/checkout/pay/{access}/cancel"' in page

    assert client.post(body["cancel_url"]).status_code == 400  # CSRF protected
    token = csrf_token(client, f"/checkout/pay/{access}")
    cancelled = client.post(body["cancel_url"], data={"csrf_token": token})
    assert cancelled.status_code == 302 and cancelled.headers["Location"] == "/cart"
    cart = client.get("/cart").get_data(as_text=True)
    assert "is cancelled; nothing was charged" in cart
    assert fresh(session, order_id).status == "cancelled"
    assert emails(session, "order_cancelled") == []  # the page told the shopper
    assert stock(session, items["lantern"]) == 0  # the other order's, untouched

    # Paying it now says it was cancelled, on the order page the browser goes to.
    late = _json(
        client, f"/checkout/pay/{access}", {"payment_method": new_card(app, localstripe_url)}
    )
    assert late.status_code == 200 and late.get_json()["redirect"] == f"/orders/{access}"
    shown = client.get(f"/orders/{access}").get_data(as_text=True)
    assert "This order was cancelled and can no longer be paid." in shown
