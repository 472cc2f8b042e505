"""Member benefits in the cart and at checkout, through the test client: the cart shows them
before payment, the review step redeems points with clear errors, and no member can spend
another member's points."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from loyalty import ledger
from loyalty.models import Membership, PointsEntry
from shop.catalog.models import Product
from shop.orders.models import Order
from tests import factories
from tests.factories import member
from tests.helpers import add_to_cart, csrf_token, sign_in

MINUS = "\N{MINUS SIGN}"
ADDRESS = {
    "address_id": "new",
    "email": "mia@example.com",
    "name": "Mia Member",
    "line1": "1 Market Street",
    "city": "York",
    "postcode": "YO1 7HH",
    "country": "United Kingdom",
}


def balance(session: Session, user_id: int) -> int:
    session.rollback()
    found = session.scalar(select(Membership.points_balance).where(Membership.user_id == user_id))
    return int(found or 0)


def _to_review(client: FlaskClient) -> str:
    token = csrf_token(client, "/checkout")
    assert client.post("/checkout", data={**ADDRESS, "csrf_token": token}).status_code == 302
    response = client.post("/checkout/shipping", data={"csrf_token": token, "method": "standard"})
    assert response.status_code == 302
    review = client.get("/checkout/review")
    assert review.status_code == 200
    return review.get_data(as_text=True)


def _use_points(client: FlaskClient, points: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/cart")
    return client.post("/checkout/review", data={"csrf_token": token, "points": points, **extra})


def _place(client: FlaskClient) -> str:
    review = client.get("/checkout/review").get_data(as_text=True)
    match = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    assert match, review
    shown = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', review)
    assert shown, review
    token = csrf_token(client, "/cart")
    response = client.post(
        "/checkout/place",
        data={"csrf_token": token, "token": match.group(1), "fingerprint": shown.group(1)},
    )
    assert response.status_code == 302
    return str(response.headers["Location"])


def test_the_cart_shows_a_members_benefits_before_payment(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member(
        session, "gold@example.com", points=1234, discount_bp=1000, free_shipping=True, tier="Gold"
    )
    sign_in(client, "gold@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 2)
    page = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="subtotal">£5.90<' in page
    assert "Gold member discount (10%)" in page
    assert f'data-testid="tier-discount">{MINUS}£0.59<' in page
    assert 'data-testid="shipping">Free<' in page and "free for members" in page
    assert 'data-testid="total">£5.31<' in page
    assert "You have 1,234 points (worth £12.34)" in page
    assert 'data-testid="points-to-earn">This basket earns you 5 points.<' in page  # £5.31
    assert "Spend" not in page  # no "spend £x more for free delivery" for free-shipping tiers
    assert 'data-testid="loyalty-hint"' not in page

    # The order page names the discount as the cart did.
    _to_review(client)
    _place(client)
    session.rollback()
    order = session.scalar(select(Order))
    assert order is not None
    detail = client.get(f"/orders/{order.access_token}").get_data(as_text=True)
    assert (
        f'Gold member discount (10%)</th><td data-testid="order-tier-discount">{MINUS}£0.59<'
        in (detail)
    )


def test_non_members_see_no_benefits_only_a_join_hint(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 2)
    guest = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="member-benefits"' not in guest
    assert "earns you" not in guest
    assert 'data-testid="loyalty-hint"' in guest
    assert 'data-testid="total">£9.85<' in guest

    session.rollback()
    factories.user(session, "nina@example.com", "Nina")
    session.commit()
    sign_in(client, "nina@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 2)
    page = client.get("/cart").get_data(as_text=True)
    assert 'data-testid="member-benefits"' not in page
    assert "Join our loyalty programme" in page and 'href="/account/loyalty"' in page
    assert 'data-testid="shipping">£3.95<' in page


def test_a_member_redeems_points_on_the_review_step_and_pays_the_rest(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, "mia@example.com", points=1500)
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    cart = client.get("/cart").get_data(as_text=True)
    assert "<p>Member</p>" in cart and "Member member" not in cart
    review = _to_review(client)
    assert "You have <strong>1,500 points</strong>" in review
    assert "You can use 500 to 1,475 points on this order." in review

    applied = _use_points(client, "1,000")
    assert applied.status_code == 302 and applied.headers["Location"] == "/checkout/review"
    review = client.get("/checkout/review").get_data(as_text=True)
    assert f'data-testid="summary-points-discount">{MINUS}£10.00<' in review
    assert "Place order and pay £23.45" in review  # 29.50 - 10.00 + 3.95
    # The goods paid (£19.50) earn the points; delivery earns none.
    assert "This order earns you 19 points once it is paid." in review
    location = _place(client)
    assert location.startswith("/checkout/pay/")
    pay_page = client.get(location).get_data(as_text=True)
    assert 'data-testid="pay-total">£23.45<' in pay_page
    assert balance(session, mia.id) == 500
    order = session.scalar(select(Order))
    assert order is not None and order.points_redeemed == 1000
    page = client.get(f"/orders/{order.access_token}").get_data(as_text=True)
    assert f'data-testid="order-points-discount">{MINUS}£10.00<' in page


def test_a_member_with_too_few_points_is_told_how_many_more_not_to_buy_more(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member(session, "mia@example.com", points=30)
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    expected = "Points can be spent from 500 at once: 470 more points to go."
    cart = client.get("/cart").get_data(as_text=True)
    assert expected in cart and "larger order" not in cart
    review = _to_review(client)
    assert expected in review and "large enough order" not in review


def test_cancelling_an_unpaid_order_says_its_points_went_back(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, "mia@example.com", points=1500)
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    _to_review(client)
    assert _use_points(client, "1000").status_code == 302
    pay = _place(client)
    assert balance(session, mia.id) == 500
    token = csrf_token(client, pay)
    cancelled = client.post(f"{pay}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 302
    cart = client.get("/cart").get_data(as_text=True)
    assert (
        "is cancelled; nothing was charged. The 1,000 points it used go back to your points "
        "balance. Your cart is as you left it." in cart
    )
    assert balance(session, mia.id) == 1500
    order = session.scalar(select(Order))
    assert order is not None and order.status == "cancelled"
    page = client.get(f"/orders/{order.access_token}").get_data(as_text=True)
    assert (
        'data-testid="order-points-returned">The order was cancelled before it was paid, so '
        "the 1,000 points it used went back to your points balance.<" in page
    )


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("-5", "Enter a number of points of 0 or more."),
        ("2.5", "Points are whole numbers"),
        ("lots", "Enter a whole number of points"),
        ("1e3", "Enter a whole number of points"),
        ("\u0661\u0662\u0663", "Enter a whole number of points"),
        ("\u0661.\u0665", "Enter a whole number of points"),
        ("5000", "You have only 1,500 points."),
        ("100", "Use at least 500 points, or none."),
        ("1480", "You can use at most 1,475 points on this order."),
        ("9" * 30, "Field cannot be longer than 20 characters."),
    ],
)
def test_bad_points_get_a_clear_form_error(
    client: FlaskClient,
    session: Session,
    items: dict[str, Product],
    points: str,
    message: str,
) -> None:
    mia = member(session, "mia@example.com", points=1500)
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    _to_review(client)
    response = _use_points(client, points)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page, page
    assert 'aria-invalid="true"' in page
    assert "Place order and pay £33.45" in page  # no points applied
    assert balance(session, mia.id) == 1500


def test_a_member_cannot_redeem_another_members_points_by_tampering(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    rich = member(session, "rich@example.com", points=50_000)
    mia = member(session, "mia@example.com", points=700)
    session.rollback()
    rich_membership = session.scalar(select(Membership).where(Membership.user_id == rich.id))
    assert rich_membership is not None
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    _to_review(client)
    forged = {
        "membership_id": str(rich_membership.id),
        "member": rich_membership.number,
        "user_id": str(rich.id),
        "balance": "50000",
    }
    response = _use_points(client, "1000", **forged)
    assert response.status_code == 400
    assert "You have only 700 points." in response.get_data(as_text=True)
    # Placing the order with the same forged fields spends nothing of anyone's.
    token = csrf_token(client, "/cart")
    review = client.get("/checkout/review").get_data(as_text=True)
    order_token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    shown = re.search(r'name="fingerprint" type="hidden" value="([0-9a-f]+)"', review)
    assert order_token and shown
    placed = client.post(
        "/checkout/place",
        data={
            "csrf_token": token,
            "token": order_token.group(1),
            "fingerprint": shown.group(1),
            "points": "1000",
            **forged,
        },
    )
    assert placed.status_code == 302
    assert balance(session, rich.id) == 50_000
    assert balance(session, mia.id) == 700
    order = session.scalar(select(Order))
    assert order is not None and (order.points_redeemed, order.discount_pence) == (0, 0)
    assert session.scalar(select(func.count()).select_from(PointsEntry)) == 2  # the welcomes


def test_guests_and_non_members_cannot_use_points(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    add_to_cart(client, items["heart"], 10)
    review = _to_review(client)
    assert 'name="points"' not in review
    response = _use_points(client, "500")
    assert response.status_code == 400
    assert "Only members of our loyalty programme can use points." in response.get_data(
        as_text=True
    )
    zero = _use_points(client, "0")  # using no points is always fine
    assert zero.status_code == 302


def test_points_spent_elsewhere_after_review_are_caught_when_placing(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    mia = member(session, "mia@example.com", points=1000)
    sign_in(client, "mia@example.com", factories.PASSWORD)
    add_to_cart(client, items["heart"], 10)
    _to_review(client)
    assert _use_points(client, "1000").status_code == 302
    review = client.get("/checkout/review").get_data(as_text=True)
    order_token = re.search(r'name="token" type="hidden" value="([0-9a-f]+)"', review)
    assert order_token
    session.rollback()
    membership = session.scalar(select(Membership).where(Membership.user_id == mia.id))
    assert membership is not None
    ledger.append(session, membership.id, -600, "adjust", "spent in another tab")
    session.commit()

    token = csrf_token(client, "/cart")
    placed = client.post(
        "/checkout/place", data={"csrf_token": token, "token": order_token.group(1)}
    )
    assert placed.status_code == 302 and placed.headers["Location"] == "/checkout/review"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    page = client.get("/checkout/review").get_data(as_text=True)
    assert "You have only 400 points." in page
    assert "Place order and pay £33.45" in page  # the points are no longer applied
    assert balance(session, mia.id) == 400


def test_free_delivery_does_not_apply_below_the_smallest_card_payment(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    member(session, "gold@example.com", discount_bp=1000, free_shipping=True, tier="Gold")
    tiny = items["heart"]
    tiny.price_pence = 12  # free delivery and 10% off would charge the card 11p
    session.commit()
    sign_in(client, "gold@example.com", factories.PASSWORD)
    add_to_cart(client, tiny, 1)
    review = _to_review(client)
    # So standard delivery is charged, the page says why, and the order can be placed.
    assert 'data-testid="below-minimum"' not in review
    assert "Free delivery applies from £0.30." in review
    assert "Place order and pay £4.06" in review
    # Three of them come to 36p less 3p off: 33p, which a card can pay.
    add_to_cart(client, tiny, 2)
    assert "Place order and pay £0.33" in client.get("/checkout/review").get_data(as_text=True)
    assert _place(client).startswith("/checkout/pay/")
