"""The demo logins `make run` creates (`flask shop create-demo-accounts` does the same) have
confirmed e-mail addresses: they are the shop's own, so the account page has nothing to ask."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.accounts.services import DEMO_PASSWORD
from shop.console.staff import DEMO_STAFF_PASSWORD
from shop.promotions.models import PromoCode
from tests import factories
from tests.helpers import sign_in

DEMO_SHOPPERS = ("regular@demo.shop", "occasional@demo.shop", "new@demo.shop")
DEMO_STAFF = ("admin@demo.shop", "merchandiser@demo.shop")
NAG = "Send me a confirmation link"


def _imported_customers(session: Session) -> None:
    """Three imported customers (no e-mail, no password) with 3, 2 and 1 orders."""
    cat = factories.category(session)
    item = factories.product(session, cat, sku="85123A", name="Heart Holder")
    for ref, orders in (("12346", 3), ("12347", 2), ("12348", 1)):
        customer = User(name=f"Customer {ref}", external_ref=ref)
        session.add(customer)
        session.flush()
        for n in range(orders):
            factories.order(session, customer, f"{ref}-{n}", [(item, 1)])
    session.commit()


def _confirmed(session: Session) -> dict[str | None, bool]:
    session.rollback()
    rows = session.execute(select(User.email, User.email_confirmed_at))
    return {email: confirmed is not None for email, confirmed in rows}


def test_the_demo_logins_have_confirmed_addresses(app: Flask, session: Session) -> None:
    _imported_customers(session)
    result = app.test_cli_runner().invoke(args=["shop", "create-demo-accounts"])
    assert result.exit_code == 0, result.output
    confirmed = _confirmed(session)
    assert all(confirmed[email] for email in DEMO_SHOPPERS + DEMO_STAFF), confirmed
    # The imported customer left without a login has no address to confirm.
    left = session.scalar(select(User).where(User.external_ref == "12348"))
    assert left is not None and left.email is None and left.email_confirmed_at is None

    for email, password in (
        ("regular@demo.shop", DEMO_PASSWORD),
        ("new@demo.shop", DEMO_PASSWORD),
        ("merchandiser@demo.shop", DEMO_STAFF_PASSWORD),
    ):
        client = app.test_client()
        sign_in(client, email, password)
        page = client.get("/account")
        assert page.status_code == 200
        assert NAG not in page.get_data(as_text=True), email


def test_demo_logins_made_before_are_confirmed_on_the_next_run(
    app: Flask, session: Session
) -> None:
    _imported_customers(session)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["shop", "create-demo-accounts"]).exit_code == 0
    session.rollback()
    for user in session.scalars(select(User).where(User.email.like("%@demo.shop"))):
        user.email_confirmed_at = None  # as a database from before this release has them
    session.commit()
    again = runner.invoke(args=["shop", "create-demo-accounts"])
    assert again.exit_code == 0, again.output
    confirmed = _confirmed(session)
    assert all(confirmed[email] for email in DEMO_SHOPPERS + DEMO_STAFF), confirmed


def test_the_demo_shop_has_a_discount_code_to_try_which_staff_changes_survive(
    app: Flask, session: Session
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shop", "create-demo-accounts"])
    assert result.exit_code == 0, result.output
    assert (
        "Discount code WELCOME10: 10% off orders of £20 or more, once per customer" in result.output
    )
    session.rollback()
    code = session.scalar(select(PromoCode).where(PromoCode.code == "WELCOME10"))
    assert code is not None
    assert (code.kind, code.percent_bp, code.min_subtotal_pence, code.once_per_customer) == (
        "percent",
        1000,
        2000,
        True,
    )
    code.percent_bp = 1500  # a merchandiser changed it in the console
    session.commit()
    assert runner.invoke(args=["shop", "create-demo-accounts"]).exit_code == 0
    session.rollback()
    assert session.scalars(select(PromoCode.percent_bp)).all() == [1500]
