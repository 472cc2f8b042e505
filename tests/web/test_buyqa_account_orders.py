"""The account's page of an order placed from the checkout and not paid yet: the member
can go on to pay it from there, as from the order's own link."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from shop.cart.services import CartOwner
from shop.catalog.models import Product
from shop.orders.holds import release_stock
from tests import factories
from tests.checkout_support import fresh, placed_order
from tests.helpers import sign_in


def test_an_unpaid_order_in_the_account_links_to_its_payment_page(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com")
    session.commit()
    order_id = placed_order(app, [(items["lantern"], 1)], owner=CartOwner(user_id=ann.id))
    order = fresh(session, order_id)
    release_stock(session, order, "Stock hold expired")  # the shopper left the payment page
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    page = client.get(f"/account/orders/{order.number}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "This order is waiting for payment." in html
    assert f'href="/checkout/pay/{order.access_token}"' in html
    overview = client.get("/account").get_data(as_text=True)
    assert "<td>Awaiting payment</td>" in overview  # as on the order's page
    assert "Pending payment" not in overview


def test_a_delivered_order_in_the_account_offers_no_payment(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com")
    factories.order(session, ann, "536365", [(items["lantern"], 1)])
    session.commit()
    sign_in(client, "ann@example.com", factories.PASSWORD)

    html = client.get("/account/orders/536365").get_data(as_text=True)

    assert "waiting for payment" not in html and "/checkout/pay/" not in html


def test_free_delivery_reads_free_on_the_order_page_as_at_checkout(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    order_id = placed_order(app, [(items["heart"], 17)])  # £50.15: over the free threshold
    order = fresh(session, order_id)
    assert order.shipping_pence == 0

    html = client.get(f"/orders/{order.access_token}").get_data(as_text=True)

    assert '<td data-testid="order-shipping">Free</td>' in html
