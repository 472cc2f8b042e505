"""The checkout pages through the test client: details, delivery, review, place, pay."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.models import CartItem
from shop.catalog.models import Product
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from shop.payments.models import PaymentAttempt, SavedCard
from tests import factories
from tests.checkout_support import emails, fresh, new_card
from tests.helpers import CHECKOUT_FORM, add_to_cart, csrf_token, sign_in
from tests.stripe_support import config, localstripe_url  # noqa: F401


def _review_page(client: FlaskClient, method: str = "standard", **contact: str) -> str:
    """Fill in the details (CHECKOUT_FORM, with `contact` over it) and the delivery; the
    review page."""
    token = csrf_token(client, "/checkout")
    details = {**CHECKOUT_FORM, **contact, "csrf_token": token}
    assert client.post("/checkout", data=details).status_code == 302
    response = client.post("/checkout/shipping", data={"csrf_token": token, "method": method})
    assert response.status_code == 302
    review = client.get("/checkout/review")
    assert review.status_code == 200
    return review.get_data(as_text=True)


def _through_review(client: FlaskClient, method: str = "standard") -> str:
    review = _review_page(client, method)
    match = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    assert match, review
    return match.group(1)


def _shown(client: FlaskClient) -> dict[str, str]:
    """The hidden fields the review page posts with "Place order": its total and fingerprint."""
    review = client.get("/checkout/review").get_data(as_text=True)
    fields = dict(re.findall(r'name="(total|fingerprint)" type="hidden" value="([^"]*)"', review))
    assert set(fields) == {"total", "fingerprint"}, review
    return fields


def _place(client: FlaskClient, order_token: str, **extra: str) -> str:
    token = csrf_token(client, "/cart")
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": order_token, **_shown(client), **extra},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith("/checkout/pay/")
    return location.rsplit("/", 1)[1]


def _json(client: FlaskClient, url: str, body: object):  # type: ignore[no-untyped-def]
    return client.post(url, json=body, headers={"X-CSRFToken": csrf_token(client, "/cart")})


def test_a_member_saves_the_card_they_pay_with(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    member = factories.user(session, "saver@example.com", "Sam Saver")
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    setup = _json(client, f"/checkout/pay/{access}/setup", {"save_card": True})
    assert setup.status_code == 200, setup.get_json()
    session.rollback()
    customer = session.get(User, member.id).stripe_customer_id  # type: ignore[union-attr]
    assert customer and customer.startswith("cus_")
    from tests.stripe_support import browser_card

    card = browser_card(localstripe_url, setup.get_json()["client_secret"])
    paid = _json(client, f"/checkout/pay/{access}", {"payment_method": card, "save_card": True})
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    session.rollback()
    saved = session.scalars(select(SavedCard).where(SavedCard.user_id == member.id)).all()
    assert [card.last4 for card in saved] == ["4242"]
    page = client.get("/account/cards").get_data(as_text=True)
    assert page.count('data-testid="saved-card"') == 1 and "ending 4242" in page


def test_the_cart_shows_subtotal_shipping_and_total(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 2)
    page = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="subtotal">£5.90<' in page
    assert 'data-testid="shipping">£3.95<' in page
    assert 'data-testid="total">£9.85<' in page
    assert "Spend £44.10 more for free standard delivery" in page
    add_to_cart(client, items["jumbo"], 30)
    page = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="shipping">Free<' in page


def test_a_guest_checks_out_and_pays_with_a_card(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    add_to_cart(client, items["heart"], 2)
    review_token = _through_review(client, "express")
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "YO1 7HH" in review and "£13.85" in review  # 5.90 + 7.95 express
    access = _place(client, review_token)
    pay_page = client.get(f"/checkout/pay/{access}")
    assert pay_page.status_code == 200
    html = pay_page.get_data(as_text=True)
    assert f"{localstripe_url}/js.stripe.com/v3/" in html
    assert "/static/js/checkout.js" in html

    setup = _json(client, f"/checkout/pay/{access}/setup", {"save_card": False})
    assert setup.status_code == 200
    from tests.stripe_support import browser_card

    card = browser_card(localstripe_url, setup.get_json()["client_secret"])
    # One token for both payments: fetching one renders a page, which would show the flash.
    headers = {"X-CSRFToken": csrf_token(client, "/cart")}
    body = {"payment_method": card, "amount": 1}
    paid = client.post(f"/checkout/pay/{access}", json=body, headers=headers)
    assert paid.status_code == 200
    assert paid.get_json() == {
        "status": "paid",
        "message": "",
        "redirect": f"/orders/{access}",
    }
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None
    assert (order.status, order.total_pence, order.shipping_method) == ("paid", 1385, "express")
    assert order.email == "grace@example.com"
    # Paying again (a double click that arrives late) changes nothing,
    # and the page it leads to thanks the shopper once.
    again = client.post(f"/checkout/pay/{access}", json=body, headers=headers)
    assert again.get_json()["status"] == "paid"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PaymentAttempt)) == 1
    page = client.get(f"/orders/{access}").get_data(as_text=True)
    assert 'data-testid="order-status">Paid<' in page
    assert "Payment received" in page and "Order placed" in page
    thanks = "Thank you! Your payment was received and a confirmation is on its way to grace@"
    assert page.count(thanks) == 1
    # Said once, right after paying: not to whoever opens the order from its e-mail later.
    later = client.get(f"/orders/{access}").get_data(as_text=True)
    assert 'data-testid="order-status">Paid<' in later and "Thank you!" not in later
    assert client.get("/cart").get_data(as_text=True).count('data-testid="cart-line"') == 0
    assert len(emails(session, "order_confirmation")) == 1


def test_a_double_submitted_place_order_makes_one_order(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 1)
    review_token = _through_review(client)
    first = _place(client, review_token)
    # The second click still carries the same review token.
    token = csrf_token(client, "/cart")
    second = client.post("/checkout/place", data={"csrf_token": token, "token": review_token})
    assert second.status_code == 302
    assert second.headers["Location"] == f"/checkout/pay/{first}"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert session.get(Product, items["heart"].id).stock_qty == 49  # type: ignore[union-attr]


def test_a_cart_changed_after_the_review_goes_back_to_the_review(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 1)
    review_token = _through_review(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    shown = re.search(r'name="total" type="hidden" value="(\d+)"', review)
    assert shown and shown.group(1) == "690"  # 2.95 + 3.95 standard delivery
    add_to_cart(client, items["jumbo"], 10)  # in another tab
    token = csrf_token(client, "/cart")
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": review_token, "total": shown.group(1)},
        follow_redirects=True,
    )
    assert response.request.path == "/checkout/review"
    assert "Your order changed since you reviewed it" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    # Placing from the new review works.
    _place(client, review_token, total=_review_total(client))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_cart_swapped_for_other_items_at_the_same_total_goes_back_to_the_review(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    twin = factories.product(
        session, None, sku="TWIN-295", name="Blue Hanging Heart", price=295, stock=5
    )
    session.commit()
    add_to_cart(client, items["heart"], 1)
    review_token = _through_review(client)
    shown = _shown(client)
    assert shown["total"] == "690"
    # In another tab: the heart is swapped for another item of the same price.
    token = csrf_token(client, "/cart")
    client.post("/cart/remove", data={"csrf_token": token, "product_id": items["heart"].id})
    add_to_cart(client, twin, 1)
    assert (
        _shown(client)["total"] == "690" and _shown(client)["fingerprint"] != shown["fingerprint"]
    )
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": review_token, **shown},
        follow_redirects=True,
    )
    assert response.request.path == "/checkout/review"
    page = response.get_data(as_text=True)
    assert "Your order changed since you reviewed it" in page
    assert "1 \u00d7 Blue Hanging Heart" in page and "White Hanging Heart" not in page
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert session.get(Product, twin.id).stock_qty == 5  # type: ignore[union-attr]
    # Without a fingerprint nothing shows what was reviewed: back to the review, too.
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": review_token, "total": "690"},
    )
    assert response.headers["Location"] == "/checkout/review"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    # Placing from the up-to-date review places what it shows.
    access = _place(client, review_token)
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None
    assert [(line.product_id, line.quantity) for line in order.lines] == [(twin.id, 1)]


@pytest.mark.parametrize("change", ["quantity", "delivery"])
def test_a_review_of_other_quantities_or_delivery_is_not_placed(
    client: FlaskClient, session: Session, items: dict[str, Product], change: str
) -> None:
    add_to_cart(client, items["heart"], 2)
    review_token = _through_review(client)
    shown = _shown(client)
    token = csrf_token(client, "/cart")
    if change == "quantity":
        client.post(
            "/cart/update",
            data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 3},
        )
    else:
        client.post("/checkout/shipping", data={"csrf_token": token, "method": "express"})
    # The fingerprint alone catches it (the total is checked as well when posted).
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": review_token, "fingerprint": shown["fingerprint"]},
    )
    assert response.headers["Location"] == "/checkout/review"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def _review_total(client: FlaskClient) -> str:
    review = client.get("/checkout/review").get_data(as_text=True)
    match = re.search(r'name="total" type="hidden" value="(\d+)"', review)
    assert match, review
    return match.group(1)


def test_tampered_prices_quantities_and_currency_are_ignored(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 1)
    review_token = _through_review(client)
    access = _place(
        client, review_token, price_pence="1", total_pence="1", currency="USD", quantity="50"
    )
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None
    assert (order.currency, order.subtotal_pence, order.total_pence) == ("GBP", 295, 690)
    assert [line.quantity for line in order.lines] == [1]
    for quantity in ("0", "-3", "100000", "lots"):
        token = csrf_token(client, "/cart")
        response = client.post(
            "/cart/update",
            data={"csrf_token": token, "product_id": items["heart"].id, "quantity": quantity},
        )
        assert response.status_code in (302, 400)
    assert fresh(session, order.id).total_pence == 690


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "doesn&#39;t look like an e-mail"),
        ("postcode", "!!", "check the postcode"),
        ("line1", "", "street address"),
        ("name", "x" * 500, "at most"),
    ],
)
def test_bad_details_get_a_form_error(
    client: FlaskClient, items: dict[str, Product], field: str, value: str, message: str
) -> None:
    add_to_cart(client, items["heart"], 1)
    token = csrf_token(client, "/checkout")
    response = client.post("/checkout", data={**CHECKOUT_FORM, field: value, "csrf_token": token})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page or message.replace("at most", "Field cannot be longer") in page


def test_checkout_steps_need_a_cart_and_earlier_steps(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    assert client.get("/checkout").headers["Location"] == "/cart"
    add_to_cart(client, items["heart"], 1)
    assert client.get("/checkout/shipping").headers["Location"] == "/checkout"
    assert client.get("/checkout/review").headers["Location"] == "/checkout"
    token = csrf_token(client, "/cart")
    response = client.post("/checkout/place", data={"csrf_token": token, "token": "f" * 20})
    assert response.headers["Location"] == "/checkout"
    assert client.post("/checkout/place", data={"token": "x" * 20}).status_code == 400


def test_the_last_item_cannot_be_sold_twice(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    first, second = app.test_client(), app.test_client()
    for shopper in (first, second):
        add_to_cart(shopper, items["lantern"], 3)
    tokens = [_through_review(shopper) for shopper in (first, second)]
    _place(first, tokens[0])
    token = csrf_token(second, "/cart")
    response = second.post("/checkout/place", data={"csrf_token": token, "token": tokens[1]})
    assert response.headers["Location"] == "/cart"
    assert "just sold out" in second.get("/cart").get_data(as_text=True)
    session.rollback()
    assert session.get(Product, items["lantern"].id).stock_qty == 0  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_order_pages_are_private(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    stranger = app.test_client()
    assert stranger.get(f"/orders/{access}").status_code == 200  # the secret link works
    assert stranger.get("/orders/not-a-real-token").status_code == 404
    assert stranger.get("/checkout/pay/not-a-real-token").status_code == 404
    response = _json(stranger, "/checkout/pay/not-a-real-token", {"payment_method": "pm_x"})
    assert response.status_code == 404
    assert "error" in response.get_json()


def test_a_members_order_is_only_for_them_and_the_address_is_saved(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session)
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    token = csrf_token(client, "/account/login")
    client.post(
        "/account/login",
        data={"csrf_token": token, "email": member.email, "password": factories.PASSWORD},
    )
    add_to_cart(client, items["heart"], 1)
    token = csrf_token(client, "/checkout")
    client.post("/checkout", data={**CHECKOUT_FORM, "save_address": "y", "csrf_token": token})
    client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    review = client.get("/checkout/review").get_data(as_text=True)
    order_token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    assert order_token
    access = _place(client, order_token.group(1))
    assert client.get(f"/orders/{access}").status_code == 200
    details = client.get("/checkout")  # cart still holds the unpaid item
    assert "1 Market Street, York, YO1 7HH" in details.get_data(as_text=True)
    # Confirmed like an address added in the address book.
    (notice,) = emails(session, "account_profile_changed")
    assert notice.to_address == member.email
    assert "An address was added to your address book." in notice.text_body

    bob = app.test_client()
    token = csrf_token(bob, "/account/login")
    bob.post(
        "/account/login",
        data={"csrf_token": token, "email": "bob@example.com", "password": factories.PASSWORD},
    )
    assert bob.get(f"/orders/{access}").status_code == 404
    assert bob.get(f"/checkout/pay/{access}").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/orders/{access}").status_code == 302


def test_payment_json_errors_are_clear(
    app: Flask,
    client: FlaskClient,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    blank, too_long = {"payment_method": ""}, {"payment_method": "pm_" + "x" * 100}
    for body in (None, {}, {"payment_method": 5}, ["pm"], blank, too_long):
        response = _json(client, f"/checkout/pay/{access}", body)
        assert response.status_code == 400
        assert response.get_json()["error"] == "Please enter your card details."
    for body in ([1], "x", 42, True):
        response = _json(client, f"/checkout/pay/{access}/setup", body)
        assert response.status_code == 400
        assert response.get_json() == {"error": "Send the card options as a JSON object."}
    declined = _json(
        client,
        f"/checkout/pay/{access}",
        {"payment_method": new_card(app, localstripe_url, "4000000000000341")},
    )
    assert declined.status_code == 402
    assert "declined" in declined.get_json()["error"].lower()
    page = client.get(f"/checkout/pay/{access}").get_data(as_text=True)
    assert "Your last payment did not go through" in page
    no_csrf = client.post(f"/checkout/pay/{access}", json={"payment_method": "pm_x"})
    assert no_csrf.status_code == 400
    # The payment script's routes answer JSON, whatever the request looked like.
    token = csrf_token(client, "/cart")
    for body in ("{bad", "save_card"):  # unreadable, or not JSON at all
        response = client.post(
            f"/checkout/pay/{access}/setup",
            data=body,
            headers={"X-CSRFToken": token, "Content-Type": "text/plain"},
        )
        assert response.status_code == 400
        assert response.get_json() == {"error": "Send the card options as a JSON object."}
    for path in ("setup", "complete"):
        wrong_method = client.get(f"/checkout/pay/{access}/{path}")
        assert wrong_method.status_code == 405 and "error" in wrong_method.get_json()
    for path in (f"/checkout/pay/{access}", f"/checkout/pay/{access}/setup"):
        plain = client.post(path, data="x", headers={"Content-Type": "text/plain"})
        assert plain.status_code == 400 and "error" in plain.get_json(), path
    assert "text/html" in client.get(f"/checkout/pay/{access}").content_type  # the page


def _pending_notice(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html if 'data-testid="pending-order"' in html else ""


def _order_count(session: Session) -> int:
    session.rollback()
    return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def test_after_placing_the_checkout_points_to_the_unpaid_order_and_holds_its_stock_once(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["lantern"], 3)  # the last three
    access = _place(client, _through_review(client))
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None
    # The Back button: every step points to the order waiting for payment.
    for path in ("/checkout", "/checkout/shipping", "/checkout/review"):
        notice = _pending_notice(client, path)
        assert f'href="/checkout/pay/{access}"' in notice, path
        assert f"Pay for order {order.number}" in notice
        assert f'action="/checkout/pending/{access}/cancel"' in notice
    assert 'action="/checkout/place"' not in client.get("/checkout/review").get_data(as_text=True)
    assert "1 Market Street" in client.get("/checkout").get_data(as_text=True)  # details kept
    # Placing the same cart again (from a review page still open) goes to that order.
    token = csrf_token(client, "/cart")
    again = client.post("/checkout/place", data={"csrf_token": token, "token": "a" * 32})
    assert again.headers["Location"] == f"/checkout/pay/{access}"
    assert _order_count(session) == 1
    assert session.get(Product, items["lantern"].id).stock_qty == 0  # type: ignore[union-attr]
    # Another cart is not placed while that order holds stock: back to the review.
    add_to_cart(client, items["heart"], 1)
    other = client.post(
        "/checkout/place", data={"csrf_token": token, "token": "b" * 32}, follow_redirects=True
    )
    assert other.request.path == "/checkout/review"
    assert f"Order {order.number} is still waiting for payment" in other.get_data(as_text=True)
    assert _order_count(session) == 1


def test_cancelling_the_unpaid_order_puts_its_stock_back_and_starts_again(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["lantern"], 3)
    first = _place(client, _through_review(client))
    token = csrf_token(client, "/checkout/review")
    response = client.post(
        f"/checkout/pending/{first}/cancel", data={"csrf_token": token}, follow_redirects=True
    )
    assert response.request.path == "/checkout/review"
    page = response.get_data(as_text=True)
    assert "is cancelled and its items are no longer held" in page
    assert 'data-testid="pending-order"' not in page and 'action="/checkout/place"' in page
    session.rollback()
    cancelled = session.scalar(select(Order).where(Order.access_token == first))
    assert cancelled is not None and cancelled.status == "cancelled"
    assert session.get(Product, items["lantern"].id).stock_qty == 3  # type: ignore[union-attr]
    assert emails(session, "order_cancelled") == []  # the page told the shopper
    # The shopper places the same cart again: the last three are theirs, not "sold out".
    review = client.get("/checkout/review").get_data(as_text=True)
    new_token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    assert new_token
    second = _place(client, new_token.group(1))
    assert second != first and _order_count(session) == 2
    assert session.get(Product, items["lantern"].id).stock_qty == 0  # type: ignore[union-attr]
    # Cancelling needs the form's CSRF token, and only the shopper's own pending order.
    assert client.post(f"/checkout/pending/{second}/cancel").status_code == 400
    stranger = app.test_client()
    add_to_cart(stranger, items["heart"], 1)
    token = csrf_token(stranger, "/cart")
    refused = stranger.post(f"/checkout/pending/{second}/cancel", data={"csrf_token": token})
    assert refused.headers["Location"] == "/checkout"
    session.rollback()
    assert session.scalar(select(Order.status).where(Order.access_token == second)) == (
        "pending_payment"
    )


def test_an_order_with_a_bank_check_open_is_cancelled_from_the_checkout_too(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None
    session.add(
        PaymentAttempt(
            order_id=order.id,
            attempt=1,
            idempotency_key=f"order-{order.id}-attempt-1",
            status="requires_action",
            amount_pence=order.total_pence,
            currency="GBP",
        )
    )
    session.commit()
    token = csrf_token(client, "/cart")
    # The open check is cancelled at the gateway after the order (as from the pay page), so
    # finishing it later cannot take the money; a payment already taken would be flagged.
    response = client.post(f"/checkout/pending/{access}/cancel", data={"csrf_token": token})
    assert response.headers["Location"] == "/checkout/review"
    session.rollback()
    assert fresh(session, order.id).status == "cancelled"


def test_a_members_unpaid_order_is_shown_on_their_other_devices_until_its_hold_ends(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member = factories.user(session, "mo@example.com", "Mo")
    session.commit()
    sign_in(client, member.email, factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    phone = app.test_client()
    sign_in(phone, member.email, factories.PASSWORD)
    assert f'href="/checkout/pay/{access}"' in _pending_notice(phone, "/checkout")
    guest = app.test_client()  # another shopper sees nothing of it
    add_to_cart(guest, items["heart"], 1)
    assert _pending_notice(guest, "/checkout") == ""
    # Once the hold has run out, the order no longer blocks a new one.
    session.rollback()
    session.execute(
        update(Order)
        .where(Order.access_token == access)
        .values(reserved_until=datetime(2000, 1, 1))
    )
    session.commit()
    assert _pending_notice(client, "/checkout") == ""
    _place(client, _through_review(client))
    assert _order_count(session) == 2


def test_stock_held_by_the_shoppers_own_unpaid_order_is_not_flagged_as_sold_out(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    add_to_cart(client, lantern, lantern.stock_qty)  # every one there is
    _place(client, _through_review(client))
    session.rollback()
    assert session.get(Product, lantern.id).stock_qty == 0  # held for the order
    assert 'data-testid="line-unavailable"' not in client.get("/cart").get_data(as_text=True)
    summary = client.get("/checkout").get_data(as_text=True)
    assert 'data-testid="summary-unavailable"' not in summary
    # Somebody else's cart with the same product is told it is sold out.
    other = client.application.test_client()
    token = csrf_token(other, f"/products/{lantern.id}")
    session.rollback()
    session.execute(update(Product).where(Product.id == lantern.id).values(stock_qty=1))
    session.commit()
    other.post("/cart/add", data={"csrf_token": token, "product_id": lantern.id, "quantity": 1})
    session.rollback()
    session.execute(update(Product).where(Product.id == lantern.id).values(stock_qty=0))
    session.commit()
    assert "Sold out: remove it to check out." in other.get("/cart").get_data(as_text=True)


def test_a_new_order_replaces_one_whose_card_was_declined_so_the_basket_is_not_paid_twice(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    add_to_cart(client, items["heart"], 1)
    first = _place(client, _through_review(client))
    declined = _json(
        client,
        f"/checkout/pay/{first}",
        {"payment_method": new_card(app, localstripe_url, "4000000000000341")},
    )
    assert declined.status_code == 402
    second = _place(client, _through_review(client))
    assert second != first
    session.rollback()
    old = session.scalar(select(Order).where(Order.access_token == first))
    assert old is not None and old.status == "cancelled"
    replacement = session.scalar(select(Order.number).where(Order.access_token == second))
    assert old.history[-1].note == f"Replaced by order {replacement}"
    # The old e-mail's "try again" link can no longer charge the same basket.
    retry = _json(
        client, f"/checkout/pay/{first}", {"payment_method": new_card(app, localstripe_url)}
    )
    assert retry.get_json()["status"] == "closed"
    assert retry.get_json()["message"] == "This order was cancelled and can no longer be paid."
    paid = _json(
        client, f"/checkout/pay/{second}", {"payment_method": new_card(app, localstripe_url)}
    )
    assert paid.status_code == 200
    session.rollback()
    statuses = session.scalars(select(Order.status).where(Order.kind == "sale")).all()
    assert sorted(statuses) == ["cancelled", "paid"]


def test_a_members_payment_link_opened_signed_out_asks_to_sign_in_first(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "payer@example.com", "Pat Payer")
    factories.user(session, "other@example.com", "Other")
    session.commit()
    sign_in(client, "payer@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    signed_out = app.test_client()
    page = signed_out.get(f"/checkout/pay/{access}")
    assert page.status_code == 302
    assert page.headers["Location"] == f"/account/login?next=/checkout/pay/{access}"
    token = csrf_token(signed_out, "/cart")
    refused = signed_out.post(
        f"/checkout/pay/{access}", json={"payment_method": "pm_x"}, headers={"X-CSRFToken": token}
    )
    assert refused.status_code == 401
    assert refused.get_json() == {"error": "Please sign in to pay for or cancel this order."}
    sign_in(signed_out, "payer@example.com", factories.PASSWORD)
    assert signed_out.get(f"/checkout/pay/{access}").status_code == 200
    other = app.test_client()
    sign_in(other, "other@example.com", factories.PASSWORD)
    assert other.get(f"/checkout/pay/{access}").status_code == 404  # never another member's


def test_card_details_the_gateway_cannot_use_keep_the_order_and_send_no_e_mail(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    for _ in range(2):
        response = _json(client, f"/checkout/pay/{access}", {"payment_method": "pm_doesnotexist"})
        assert response.status_code == 402
        assert response.get_json()["error"] == (
            "Those card details could not be used. Please enter them again."
        )
    assert "refused by the gateway" in caplog.text  # the gateway's words, for staff only
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None and order.status == "pending_payment" and order.stock_reserved
    assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0
    page = client.get(f"/checkout/pay/{access}").get_data(as_text=True)
    assert "Not Found" not in page
    paid = _json(
        client, f"/checkout/pay/{access}", {"payment_method": new_card(app, localstripe_url)}
    )
    assert paid.status_code == 200


def _cart_post(client: FlaskClient, action: str, product: Product, qty: int):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/cart")
    data = {"csrf_token": token, "product_id": product.id, "quantity": qty}
    return client.post(f"/cart/{action}", data=data)


def _cart_quantity(session: Session, product: Product) -> int | None:
    session.rollback()
    return session.scalar(select(CartItem.quantity).where(CartItem.product_id == product.id))


def _stock(session: Session, product: Product) -> int:
    session.rollback()
    return int(session.scalar(select(Product.stock_qty).where(Product.id == product.id)) or 0)


def test_the_cart_lets_the_shopper_change_what_their_own_unpaid_order_holds(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]  # three in stock
    add_to_cart(client, lantern, 2)
    access = _place(client, _through_review(client))
    assert _stock(session, lantern) == 1  # two held for the order, one free
    assert 'data-testid="line-unavailable"' not in client.get("/cart").get_data(as_text=True)
    # Free stock plus the order's hold: up to three, as the cart page itself counts.
    assert _cart_post(client, "add", lantern, 1).status_code == 302
    assert _cart_quantity(session, lantern) == 3
    assert _cart_post(client, "update", lantern, 2).status_code == 302
    assert _cart_post(client, "update", lantern, 3).status_code == 302
    assert _cart_quantity(session, lantern) == 3
    over = _cart_post(client, "update", lantern, 4)
    assert over.status_code == 400
    assert "Only 3 of White Metal Lantern left in stock." in over.get_data(as_text=True)
    more = _cart_post(client, "add", lantern, 1)
    assert more.status_code == 400
    assert "You already have 3 in your cart; only 3 are in stock." in more.get_data(as_text=True)
    assert _cart_quantity(session, lantern) == 3 and _stock(session, lantern) == 1
    # The checkout does not place a second order on top of the held one: pay or cancel it.
    token = csrf_token(client, "/cart")
    refused = client.post(
        "/checkout/place", data={"csrf_token": token, "token": "c" * 32}, follow_redirects=True
    )
    assert refused.request.path == "/checkout/review"
    assert "is still waiting for payment" in refused.get_data(as_text=True)
    assert _order_count(session) == 1 and _stock(session, lantern) == 1
    # Cancelled, its two go back, and the cart of three is placed: nothing is oversold.
    client.post(f"/checkout/pending/{access}/cancel", data={"csrf_token": token})
    assert _stock(session, lantern) == 3
    second = _place(client, _through_review(client))
    assert second != access and _order_count(session) == 2
    assert _stock(session, lantern) == 0
    held = session.scalar(select(Order).where(Order.access_token == second))
    assert held is not None and [line.quantity for line in held.lines] == [3]


def test_a_cart_whose_every_unit_is_held_for_its_own_order_can_be_lowered(
    app: Flask, client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    session.execute(update(Product).where(Product.id == lantern.id).values(stock_qty=2))
    session.commit()
    add_to_cart(client, lantern, 2)
    _place(client, _through_review(client))
    assert _stock(session, lantern) == 0
    lowered = _cart_post(client, "update", lantern, 1)
    assert lowered.status_code == 302, lowered.get_data(as_text=True)
    assert _cart_quantity(session, lantern) == 1
    # For everybody else the held units are not there.
    other = app.test_client()
    refused = _cart_post(other, "add", lantern, 1)
    assert refused.status_code == 400
    assert "Sorry, White Metal Lantern is out of stock." in refused.get_data(as_text=True)


def test_an_order_counting_on_units_its_shoppers_earlier_order_holds_is_refused_clearly(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    add_to_cart(client, lantern, 2)
    access = _place(client, _through_review(client))
    with client.session_transaction() as browser:  # the browser forgot the order it placed
        browser.pop("checkout_order")
    assert _cart_post(client, "update", lantern, 3).status_code == 302
    token = _through_review(client)
    response = client.post(
        "/checkout/place",
        data={"csrf_token": csrf_token(client, "/cart"), "token": token, **_shown(client)},
        follow_redirects=True,
    )
    assert response.request.path == "/cart"
    session.rollback()
    first = session.scalar(select(Order).where(Order.access_token == access))
    assert first is not None
    assert (
        f"Your unpaid order {first.number} holds White Metal Lantern, so only 1 more can be "
        f"ordered now (your cart has 3). Pay for order {first.number}, or cancel it"
    ) in response.get_data(as_text=True)
    assert _order_count(session) == 1 and _stock(session, lantern) == 1
    assert first.status == "pending_payment" and first.stock_reserved


def test_a_card_saved_to_another_account_cannot_pay_for_an_order(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    from shop.cart.services import CartOwner
    from shop.db import db
    from shop.payments import cards
    from shop.payments.setup import gateway
    from tests.checkout_support import pay, placed_order

    owner = factories.user(session, "owner@example.com", "Card Owner")
    thief = factories.user(session, "thief@example.com", "Thief")
    session.commit()
    with app.app_context():
        customer = cards.ensure_customer(db.transaction, gateway(), owner.id)
    card = new_card(app, localstripe_url, customer=customer)
    paid = placed_order(app, [(items["heart"], 1)], owner=CartOwner(user_id=owner.id))
    assert pay(app, paid, card, save_card=True, user_id=owner.id).ok
    session.rollback()
    saved = session.scalar(select(SavedCard.payment_method_id).where(SavedCard.user_id == owner.id))
    assert saved == card

    def try_to_pay(shopper: FlaskClient) -> None:
        add_to_cart(shopper, items["jumbo"], 1)
        access = _place(shopper, _through_review(shopper))
        response = _json(shopper, f"/checkout/pay/{access}", {"payment_method": saved})
        assert response.status_code == 403
        assert response.get_json() == {
            "error": "That card cannot be used here. Please enter your card details."
        }
        session.rollback()
        order = session.scalar(select(Order).where(Order.access_token == access))
        assert order is not None and order.status == "pending_payment" and order.stock_reserved
        attempts = select(func.count()).select_from(PaymentAttempt)
        assert session.scalar(attempts.where(PaymentAttempt.order_id == order.id)) == 0

    sign_in(client, thief.email, factories.PASSWORD)
    try_to_pay(client)  # another member
    try_to_pay(app.test_client())  # a guest
    # Its own account still pays with it.
    mine = placed_order(app, [(items["jumbo"], 2)], owner=CartOwner(user_id=owner.id))
    assert pay(app, mine, card, user_id=owner.id).ok


def test_the_review_offers_no_place_order_button_while_a_line_has_a_problem(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    heart, lantern = items["heart"], items["lantern"]
    add_to_cart(client, heart, 1)
    add_to_cart(client, lantern, 1)
    _through_review(client)
    review = client.get("/checkout/review").get_data(as_text=True)
    assert 'action="/checkout/place"' in review and 'data-testid="cart-problems"' not in review
    shown = _shown(client)
    session.rollback()
    session.execute(update(Product).where(Product.id == heart.id).values(active=False))
    session.commit()

    response = client.get("/checkout/review")
    assert response.status_code == 200
    review = response.get_data(as_text=True)
    assert "(No longer sold: remove it to check out.)" in review
    assert 'action="/checkout/place"' not in review and "Place order and pay" not in review
    notice = re.search(r'<p[^>]*data-testid="cart-problems".*?</p>', review, re.S)
    assert notice and 'href="/cart"' in notice.group(0)
    assert "Go back to your cart" in notice.group(0)
    # A review page still open elsewhere cannot place it either.
    token = csrf_token(client, "/cart")
    placed = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": "d" * 32, **shown},
        follow_redirects=True,
    )
    assert placed.request.path == "/cart"
    assert "is no longer sold; remove it to continue." in placed.get_data(as_text=True)
    assert _order_count(session) == 0

    # Sold out counts as well; once the cart is put right, the button is back.
    session.execute(update(Product).where(Product.id == heart.id).values(active=True))
    session.execute(update(Product).where(Product.id == lantern.id).values(stock_qty=0))
    session.commit()
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "(Sold out: remove it to check out.)" in review
    assert 'action="/checkout/place"' not in review and 'data-testid="cart-problems"' in review
    client.post("/cart/remove", data={"csrf_token": token, "product_id": lantern.id})
    review = client.get("/checkout/review").get_data(as_text=True)
    assert 'action="/checkout/place"' in review and 'data-testid="cart-problems"' not in review


def test_a_failed_bank_check_is_explained_in_the_shoppers_words(
    app: Flask,
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    localstripe_url: str,  # noqa: F811
) -> None:
    from tests.stripe_support import CARD_3DS, browser_3ds

    friendly = "Your bank could not confirm this payment, so nothing was charged."
    raw = "The provided PaymentMethod has failed authentication."
    add_to_cart(client, items["heart"], 1)
    access = _place(client, _through_review(client))
    card = new_card(app, localstripe_url, CARD_3DS)
    started = _json(client, f"/checkout/pay/{access}", {"payment_method": card})
    assert started.status_code == 200 and started.get_json()["status"] == "requires_action"
    browser_3ds(localstripe_url, started.get_json()["client_secret"], success=False)
    done = _json(client, f"/checkout/pay/{access}/complete", {})
    assert done.status_code == 402
    assert done.get_json()["status"] == "declined" and done.get_json()["error"] == friendly
    page = client.get(f"/checkout/pay/{access}").get_data(as_text=True)
    assert friendly in page and raw not in page
    assert page.count("try again") == 1  # said once, by the page
    session.rollback()
    order = session.scalar(select(Order).where(Order.access_token == access))
    assert order is not None and order.status == "pending_payment" and not order.stock_reserved
    attempt = session.scalar(select(PaymentAttempt).where(PaymentAttempt.order_id == order.id))
    assert attempt is not None and (attempt.status, attempt.error) == ("failed", friendly)
    (notice,) = emails(session, "payment_failed")
    assert friendly in notice.text_body and raw not in notice.text_body


def test_a_guests_unpaid_order_joins_their_account_at_sign_in_with_its_held_stock(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "grace@example.com", "Grace")
    session.commit()
    lantern = items["lantern"]
    stock = lantern.stock_qty
    add_to_cart(client, lantern, stock)  # every one there is, as a guest
    pay_token = _place(client, _through_review(client))
    session.rollback()
    number = session.scalar(select(Order.number).where(Order.checkout_token.is_not(None)))
    assert session.get(Product, lantern.id).stock_qty == 0  # held for the guest's order

    sign_in(client, "Grace@Example.com", factories.PASSWORD)

    session.rollback()
    order = session.scalar(select(Order).where(Order.number == number))
    user = session.scalar(select(User).where(User.email == "grace@example.com"))
    assert order is not None and user is not None and order.user_id == user.id
    assert "linked to the account" in order.history[-1].note
    # The cart came along whole: the held units are the customer's own, not "sold out".
    assert _cart_quantity(session, lantern) == stock
    cart = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="line-unavailable"' not in cart
    assert number in client.get("/account").get_data(as_text=True)
    assert client.get(f"/checkout/pay/{pay_token}").status_code == 200


def test_a_guest_order_with_another_address_stays_a_guest_order(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "someone.else@example.com", "Someone")
    session.commit()
    add_to_cart(client, items["lantern"], 1)
    _place(client, _through_review(client))

    sign_in(client, "someone.else@example.com", factories.PASSWORD)

    session.rollback()
    assert session.scalars(select(Order.user_id)).all() == [None]
