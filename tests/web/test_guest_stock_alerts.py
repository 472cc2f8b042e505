"""Back-in-stock alerts for visitors: an e-mail address given on the product page, confirmed
from the link e-mailed to it (double opt-in), cancelled from the same link, answered by one
e-mail per address once the product is back."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from shop.access_log import redact
from shop.accounts import privacy
from shop.accounts.models import User
from shop.catalog import guest_stock_alerts, stock_alert_jobs
from shop.catalog.availability import public_viewer
from shop.catalog.models import GuestStockAlert, Product, StockAlert
from shop.catalog.stock_alerts import MAX_WAITING
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from tests import factories
from tests.console_support import client_as
from tests.helpers import csrf_token, register, sign_in

BASE = "https://shop.example"
LINK = re.compile(r"https?://[^/\s]+/stock-alerts/([A-Za-z0-9_-]+)")
VERIFY_LINK = re.compile(r"https?://[^/\s]+(/account/email/verify/[A-Za-z0-9_-]+)")


@pytest.fixture
def items(session: Session) -> dict[str, Product]:
    """Two sold-out products, one in stock and one taken off sale."""
    lamps = factories.category(session, "lamps", "Lamps")
    made = {
        "lantern": factories.product(session, lamps, sku="L1", name="Lantern", stock=0),
        "heart": factories.product(session, lamps, sku="H1", name="Heart Holder", stock=0),
        "star": factories.product(session, lamps, sku="S1", name="Star Light", stock=4),
        "gone": factories.product(session, lamps, sku="G1", name="Old Lamp", stock=0),
    }
    made["gone"].active = False
    session.commit()
    return made


def _ask(client: FlaskClient, product_id: int, email: str, **data: str) -> TestResponse:
    token = csrf_token(client, "/")
    return client.post(
        f"/products/{product_id}/stock-alert/email",
        data={"csrf_token": token, "email": email, **data},
    )


def _alerts(session: Session) -> list[tuple[str, str, bool]]:
    session.rollback()
    rows = session.execute(
        select(GuestStockAlert.email, Product.sku, GuestStockAlert.confirmed_at)
        .join(Product, Product.id == GuestStockAlert.product_id)
        .order_by(GuestStockAlert.email, Product.sku)
    )
    return [(email, sku, confirmed is not None) for email, sku, confirmed in rows]


def _mails(session: Session, kind: str = "stock_alert_confirm") -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == kind).order_by(OutboxEmail.id)
    return list(session.scalars(query))


def _link(mail: OutboxEmail) -> str:
    found = LINK.search(mail.text_body)
    assert found, mail.text_body
    return found.group(1)


def _confirm(client: FlaskClient, link: str) -> TestResponse:
    token = csrf_token(client, f"/stock-alerts/{link}")
    return client.post(f"/stock-alerts/{link}/confirm", data={"csrf_token": token})


def _change(session: Session, product_id: int, **values: object) -> None:
    session.rollback()
    session.execute(update(Product).where(Product.id == product_id).values(**values))
    session.commit()


def test_a_visitor_asks_and_confirms_from_the_e_mailed_link(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    response = _ask(client, lantern.id, "  Bob@Example.COM ")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/products/{lantern.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Check your inbox at Bob@Example.COM: open the link we sent to confirm" in page
    assert _alerts(session) == [("bob@example.com", "L1", False)]

    [mail] = _mails(session)
    assert mail.to_address == "bob@example.com"
    assert mail.subject == "Confirm your back-in-stock alert for Lantern"
    assert mail.forget_after_send is True
    assert "ignore this e-mail: we will not write to you about it" in " ".join(
        mail.text_body.split()
    )
    link = _link(mail)
    stored = session.scalars(select(GuestStockAlert.token_hash)).one()
    assert stored == hashlib.sha256(link.encode()).hexdigest()  # only the hash is kept

    opened = client.get(f"/stock-alerts/{link}")
    body = opened.get_data(as_text=True)
    assert opened.status_code == 200
    assert "Confirm your back-in-stock alert" in body
    assert "bob@example.com" in body and "Lantern" in body
    assert _alerts(session) == [("bob@example.com", "L1", False)]  # opening confirms nothing

    confirmed = _confirm(client, link)
    assert confirmed.status_code == 200
    assert "Alert confirmed" in confirmed.get_data(as_text=True)
    assert _alerts(session) == [("bob@example.com", "L1", True)]

    again = client.get(f"/stock-alerts/{link}").get_data(as_text=True)
    assert "Your back-in-stock alert" in again and "Cancel the alert" in again
    assert _confirm(client, link).status_code == 200  # confirming twice changes nothing
    assert _alerts(session) == [("bob@example.com", "L1", True)]


def test_asking_again_tells_a_stranger_nothing_and_sends_no_flood(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"].id
    _ask(client, lantern, "bob@example.com")
    _confirm(client, _link(_mails(session)[0]))

    # Someone else types Bob's address: the same answer, and no e-mail to Bob.
    stranger = client.application.test_client()
    response = _ask(stranger, lantern, "bob@example.com")
    assert response.status_code == 302
    page = stranger.get(f"/products/{lantern}").get_data(as_text=True)
    assert "Check your inbox at bob@example.com" in page
    assert "If you confirmed it already, there is nothing more to do." in page
    assert len(_mails(session)) == 1

    # An unconfirmed alert asked again at once sends nothing more either.
    _ask(client, items["heart"].id, "carol@example.com")
    _ask(client, items["heart"].id, "carol@example.com")
    assert [m.to_address for m in _mails(session)] == ["bob@example.com", "carol@example.com"]


def test_a_new_link_after_ten_minutes_replaces_the_old_one_up_to_three_in_all(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    start = utcnow()
    lantern = items["lantern"].id
    with app.test_request_context():
        for minutes in (0, 5, 10, 20, 30, 40):
            guest_stock_alerts.ask(
                session,
                "dan@example.com",
                lantern,
                public_viewer(start),
                BASE,
                now=start + timedelta(minutes=minutes),
            )
        session.commit()
    mails = _mails(session)
    assert len(mails) == guest_stock_alerts.MAX_CONFIRM_SENDS == 3  # at 0, 10 and 20 minutes
    first, _, last = (_link(mail) for mail in mails)
    with pytest.raises(guest_stock_alerts.GuestAlertLinkError):
        guest_stock_alerts.find(session, first)
    assert guest_stock_alerts.find(session, last).product.id == lantern


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Please enter your e-mail address."),
        ("   ", "Please enter your e-mail address."),
        ("not an address", "That doesn&#39;t look like an e-mail address."),
        ("a" * 250 + "@example.com", "Field cannot be longer than 254 characters."),
    ],
)
def test_a_bad_address_is_a_form_error_and_nothing_is_stored(
    client: FlaskClient, session: Session, items: dict[str, Product], email: str, message: str
) -> None:
    response = _ask(client, items["lantern"].id, email)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in body
    assert 'data-testid="error-summary"' in body
    assert "Lantern" in body
    assert _alerts(session) == [] and _mails(session) == []


def test_products_in_stock_unknown_or_off_sale_and_expired_forms(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    star = _ask(client, items["star"].id, "bob@example.com")
    assert star.status_code == 302
    page = client.get(f"/products/{items['star'].id}").get_data(as_text=True)
    assert "Star Light is in stock: you can add it to your cart now." in page

    star_form = client.get(f"/products/{items['star'].id}/stock-alert/email")
    assert star_form.status_code == 302
    assert star_form.headers["Location"] == f"/products/{items['star'].id}"
    assert _ask(client, items["gone"].id, "bob@example.com").status_code == 404
    assert client.get("/products/99999/stock-alert/email").status_code == 404
    assert _ask(client, 99999, "bob@example.com").status_code == 404
    no_csrf = client.post(
        f"/products/{items['lantern'].id}/stock-alert/email", data={"email": "bob@example.com"}
    )
    assert no_csrf.status_code == 400
    assert _alerts(session) == [] and _mails(session) == []


def test_an_address_waits_for_at_most_max_waiting_products(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lamps = items["lantern"].category
    extra = [
        factories.product(session, lamps, sku=f"X{n}", name=f"Lamp {n}", stock=0)
        for n in range(MAX_WAITING + 1)
    ]
    session.commit()
    with app.test_request_context():
        for product in extra:
            guest_stock_alerts.ask(session, "eve@example.com", product.id, public_viewer(), BASE)
        session.commit()
    assert len(_alerts(session)) == MAX_WAITING
    assert len(_mails(session)) == MAX_WAITING


def test_unknown_and_expired_links_say_why_and_change_nothing(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    unknown = client.get("/stock-alerts/not-a-real-link")
    assert unknown.status_code == 404
    assert "This link is not valid any more" in unknown.get_data(as_text=True)

    _ask(client, items["lantern"].id, "bob@example.com")
    link = _link(_mails(session)[0])
    token = csrf_token(client, f"/stock-alerts/{link}")
    session.rollback()
    eight_days_ago = utcnow() - timedelta(days=8)
    session.execute(update(GuestStockAlert).values(confirm_sent_at=eight_days_ago))
    session.commit()

    expired = client.get(f"/stock-alerts/{link}")
    assert expired.status_code == 410
    assert "This link was valid for 7 days" in expired.get_data(as_text=True)
    late = client.post(f"/stock-alerts/{link}/confirm", data={"csrf_token": token})
    assert late.status_code == 410
    assert _alerts(session) == [("bob@example.com", "L1", False)]
    assert client.post(f"/stock-alerts/{link}/confirm", data={}).status_code == 400


def test_the_link_cancels_the_alert_and_forgets_the_address(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    _ask(client, items["lantern"].id, "bob@example.com")
    link = _link(_mails(session)[0])
    _confirm(client, link)
    token = csrf_token(client, f"/stock-alerts/{link}")
    cancelled = client.post(f"/stock-alerts/{link}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 200
    assert "We will not e-mail you about" in cancelled.get_data(as_text=True)
    assert _alerts(session) == []
    assert client.get(f"/stock-alerts/{link}").status_code == 404
    again = client.post(f"/stock-alerts/{link}/cancel", data={"csrf_token": token})
    assert again.status_code == 404


def _confirmed(app: Flask, session: Session, email: str, *products: Product) -> None:
    with app.test_request_context():
        for product in products:
            guest_stock_alerts.ask(session, email, product.id, public_viewer(), BASE)
        session.commit()
    for mail in _mails(session):
        if mail.to_address == email:
            guest_stock_alerts.confirm(session, _link(mail))
    session.commit()


def test_one_e_mail_per_confirmed_address_once_the_products_are_back(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern, heart = items["lantern"], items["heart"]
    _confirmed(app, session, "bob@example.com", lantern, heart)
    with app.test_request_context():  # Carol never confirms
        guest_stock_alerts.ask(session, "carol@example.com", lantern.id, public_viewer(), BASE)
        session.commit()
    for product_id in (lantern.id, heart.id):
        _change(session, product_id, stock_qty=3)

    with app.app_context():
        report = stock_alert_jobs.send_back_in_stock(db.transaction, BASE)
    assert (report.emails, report.products) == (1, 2)
    [mail] = _mails(session, "stock_back")
    assert mail.to_address == "bob@example.com"
    assert mail.subject == "2 products you asked about are back in stock"
    assert mail.forget_after_send is True and mail.user_id is None
    text = mail.text_body
    assert f"{BASE}/products/{heart.id}" in text and f"{BASE}/products/{lantern.id}" in text
    assert "Your other back-in-stock alerts" not in text
    assert "Your other back-in-stock alerts" not in mail.html_body
    assert _alerts(session) == [("carol@example.com", "L1", False)]

    with app.app_context():
        assert stock_alert_jobs.send_back_in_stock(db.transaction, BASE).emails == 0


def test_the_command_sends_accounts_and_visitors_alike(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    _confirmed(app, session, "bob@example.com", lantern)
    ann = factories.user(session, "ann@example.com", "Ann")
    session.add(StockAlert(user_id=ann.id, product_id=lantern.id))
    session.commit()
    _change(session, lantern.id, stock_qty=2)

    result = app.test_cli_runner().invoke(args=["catalog", "send-stock-alerts"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 back-in-stock e-mails queued for 2 alerts"
    assert sorted(m.to_address for m in _mails(session, "stock_back")) == [
        "ann@example.com",
        "bob@example.com",
    ]


def test_the_console_counts_confirmed_visitors_as_waiting(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"]
    _confirmed(app, session, "bob@example.com", lantern)
    with app.test_request_context():
        guest_stock_alerts.ask(session, "carol@example.com", lantern.id, public_viewer(), BASE)
        session.commit()
    staff = client_as(app, session, "merchandiser")
    page = staff.get(f"/console/products/{lantern.id}").get_data(as_text=True)
    assert "1 shopper is waiting for it to be back in stock." in page


def test_a_signed_in_shopper_keeps_the_account_alert(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    lantern = items["lantern"].id
    page = client.get(f"/products/{lantern}").get_data(as_text=True)
    assert f'action="/products/{lantern}/stock-alert/email"' not in page
    response = client.get(f"/products/{lantern}/stock-alert/email")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/products/{lantern}"


def test_the_e_mailed_link_is_kept_out_of_access_logs() -> None:
    assert redact("/stock-alerts/abcDEF123/confirm") == "/stock-alerts/[redacted]/confirm"
    assert redact("/account/stock-alerts") == "/account/stock-alerts"


@pytest.mark.parametrize("address_confirmed", [True, False])
def test_an_account_exports_and_deletes_its_address_alerts_once_it_is_confirmed(
    app: Flask, session: Session, items: dict[str, Product], address_confirmed: bool
) -> None:
    _confirmed(app, session, "bob@example.com", items["lantern"])
    _confirmed(app, session, "carol@example.com", items["heart"])
    bob = factories.user(session, "bob@example.com", "Bob")
    bob.email_confirmed_at = utcnow() if address_confirmed else None
    session.commit()

    with app.app_context():
        exported = json.loads(json.dumps(privacy.export_data(session, bob.id)))
        privacy.anonymize(session, bob)
    session.commit()
    if address_confirmed:
        [alert] = exported["stock_alerts_by_email"]
        assert (alert["product_id"], alert["name"]) == (items["lantern"].id, "Lantern")
        assert alert["confirmed_at"] is not None
        assert _alerts(session) == [("carol@example.com", "H1", True)]
    else:  # registering someone's address shows and deletes nothing of theirs
        assert exported["stock_alerts_by_email"] == []
        assert _alerts(session) == [
            ("bob@example.com", "L1", True),
            ("carol@example.com", "H1", True),
        ]


def _account_alerts(session: Session, email: str) -> list[str]:
    session.rollback()
    rows = session.scalars(
        select(Product.sku)
        .join(StockAlert, StockAlert.product_id == Product.id)
        .join(User, User.id == StockAlert.user_id)
        .where(User.email == email)
        .order_by(Product.sku)
    )
    return list(rows)


def test_confirming_an_accounts_address_moves_its_confirmed_alerts_into_the_account(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _confirmed(app, session, "nia@example.com", items["lantern"])
    with app.test_request_context():  # asked for, never confirmed: stays with the address
        guest_stock_alerts.ask(session, "nia@example.com", items["heart"].id, public_viewer(), BASE)
        session.commit()
    client = app.test_client()
    assert register(client, "nia@example.com", "a-long-password").status_code == 302
    # Registering proves nothing about the mailbox: nothing moves yet.
    assert _account_alerts(session, "nia@example.com") == []
    assert "Lantern" not in client.get("/account/stock-alerts").get_data(as_text=True)

    session.rollback()
    mails = session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "nia@example.com"))
    [verify] = [m.group(1) for mail in mails if (m := VERIFY_LINK.search(mail.text_body))]
    token = csrf_token(client, verify)
    assert client.post(verify, data={"csrf_token": token}).status_code in (200, 302)

    assert _account_alerts(session, "nia@example.com") == ["L1"]
    assert _alerts(session) == [("nia@example.com", "H1", False)]
    page = client.get("/account/stock-alerts").get_data(as_text=True)
    assert "Lantern" in page and "Heart Holder" not in page


def test_signing_in_to_a_confirmed_account_moves_alerts_set_while_signed_out(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    ann.email_confirmed_at = utcnow()
    session.add(StockAlert(user_id=ann.id, product_id=items["heart"].id))
    session.commit()
    _confirmed(app, session, "ann@example.com", items["lantern"], items["heart"])
    _confirmed(app, session, "bob@example.com", items["lantern"])
    assert len(_alerts(session)) == 3

    sign_in(app.test_client(), "ann@example.com", factories.PASSWORD)
    assert _account_alerts(session, "ann@example.com") == ["H1", "L1"]  # heart not twice
    assert _alerts(session) == [("bob@example.com", "L1", True)]

    # An account whose address is not confirmed brings in nobody's alerts.
    factories.user(session, "carol@example.com", "Carol")
    session.commit()
    _confirmed(app, session, "carol@example.com", items["lantern"])
    sign_in(app.test_client(), "carol@example.com", factories.PASSWORD)
    assert _account_alerts(session, "carol@example.com") == []
    assert ("carol@example.com", "L1", True) in _alerts(session)


def test_alerts_over_the_accounts_limit_stay_with_the_address(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    ann.email_confirmed_at = utcnow()
    lamps = items["lantern"].category
    for n in range(MAX_WAITING - 1):
        extra = factories.product(session, lamps, sku=f"X{n}", name=f"Extra {n}", stock=0)
        session.flush()
        session.add(StockAlert(user_id=ann.id, product_id=extra.id))
    session.commit()
    _confirmed(app, session, "ann@example.com", items["lantern"], items["heart"])

    sign_in(app.test_client(), "ann@example.com", factories.PASSWORD)
    assert len(_account_alerts(session, "ann@example.com")) == MAX_WAITING
    assert "L1" in _account_alerts(session, "ann@example.com")  # the older one moved
    assert _alerts(session) == [("ann@example.com", "H1", True)]
