"""Back-in-stock alerts: asked for on a product page, listed and cancelled in the account,
answered by one e-mail per shopper once the product is on sale with stock again."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.accounts import privacy
from shop.accounts.models import User
from shop.catalog import stock_alerts
from shop.catalog.availability import public_viewer
from shop.catalog.models import Product, StockAlert
from shop.db import db, utcnow
from shop.mail.models import OutboxEmail
from tests import factories
from tests.console_support import client_as
from tests.helpers import csrf_token, sign_in

BASE = "https://shop.example"


@pytest.fixture
def items(session: Session) -> dict[str, Product]:
    """Two sold-out products, one in stock, one taken off sale, one not launched yet."""
    candles = factories.category(session, "candles", "Candles & holders")
    made = {
        "lantern": factories.product(session, candles, sku="L1", name="Lantern", stock=0),
        "heart": factories.product(session, candles, sku="H1", name="Heart Holder", stock=0),
        "star": factories.product(session, candles, sku="S1", name="Star Light", stock=4),
        "gone": factories.product(session, candles, sku="G1", name="Old Lamp", stock=0),
        "later": factories.product(session, candles, sku="N1", name="New Lamp", stock=0),
    }
    made["gone"].active = False
    session.commit()
    return made


@pytest.fixture
def ann(app: Flask, session: Session, items: dict[str, Product]) -> FlaskClient:
    """Ann, signed in."""
    factories.user(session, "ann@example.com", "Ann")
    session.commit()
    client = app.test_client()
    sign_in(client, "ann@example.com", factories.PASSWORD)
    return client


def _ask(client: FlaskClient, product_id: int) -> tuple[int, str]:
    token = csrf_token(client, f"/products/{product_id}")
    response = client.post(
        f"/products/{product_id}/stock-alert", data={"csrf_token": token}, follow_redirects=True
    )
    return response.status_code, response.get_data(as_text=True)


def _alerts(session: Session) -> list[tuple[str, str]]:
    session.rollback()
    rows = session.execute(
        select(User.email, Product.sku)
        .join(StockAlert, StockAlert.user_id == User.id)
        .join(Product, Product.id == StockAlert.product_id)
        .order_by(User.email, Product.sku)
    )
    return [(email or "", sku) for email, sku in rows]


def _change(session: Session, product_id: int, **values: object) -> None:
    """Change a product in a transaction of its own: one begun before a request wrote
    reads an old snapshot, and SQLite refuses its write."""
    session.rollback()
    session.execute(update(Product).where(Product.id == product_id).values(**values))
    session.commit()


def _send(app: Flask, **kwargs: object) -> stock_alerts.SendReport:
    with app.app_context():
        return stock_alerts.send_back_in_stock(db.transaction, BASE, **kwargs)  # type: ignore[arg-type]


def _mails(session: Session) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).where(OutboxEmail.kind == "stock_back").order_by(OutboxEmail.id)
    return list(session.scalars(query))


def test_a_visitor_is_offered_an_alert_by_e_mail(
    client: FlaskClient, items: dict[str, Product]
) -> None:
    lantern = items["lantern"].id
    page = client.get(f"/products/{lantern}").get_data(as_text=True)
    assert "Out of stock" in page
    assert f'action="/products/{lantern}/stock-alert/email"' in page
    assert 'type="email"' in page
    assert f'href="/account/login?next=/products/{lantern}">sign in</a>' in page

    token = csrf_token(client, f"/products/{lantern}")
    response = client.post(f"/products/{lantern}/stock-alert", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/products/{lantern}/stock-alert/email"


def test_a_shopper_asks_once_and_sees_it_on_the_page(
    ann: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"].id
    page = ann.get(f"/products/{lantern}").get_data(as_text=True)
    assert "E-mail me when it is back" in page

    status, page = _ask(ann, lantern)
    assert status == 200
    assert "We will e-mail you at ann@example.com when Lantern is back in stock." in page
    assert ">Don't e-mail me</button>" in page
    assert "E-mail me when it is back" not in page
    assert _alerts(session) == [("ann@example.com", "L1")]

    status, _ = _ask(ann, lantern)  # twice: still one alert
    assert status == 200
    assert _alerts(session) == [("ann@example.com", "L1")]


def test_no_alert_for_a_product_in_stock_or_not_sold(
    ann: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    star = items["star"].id
    assert "E-mail me when it is back" not in ann.get(f"/products/{star}").get_data(as_text=True)
    status, page = _ask(ann, star)
    assert status == 200
    assert "Star Light is in stock: you can add it to your cart now." in page

    token = csrf_token(ann, "/")
    for product_id in (items["gone"].id, 999_999):
        response = ann.post(f"/products/{product_id}/stock-alert", data={"csrf_token": token})
        assert response.status_code == 404
        assert "We couldn&#39;t find that product" in response.get_data(as_text=True)
    assert ann.post(f"/products/{items['lantern'].id}/stock-alert").status_code == 400
    assert _alerts(session) == []


def test_the_same_alert_asked_twice_at_once_is_kept_once(
    app: Flask, session: Session, items: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    session.add(StockAlert(user_id=ann.id, product_id=items["lantern"].id))
    session.commit()
    # The other request's row is not visible yet when this one looks.
    monkeypatch.setattr(stock_alerts, "is_waiting", lambda *_args: False)
    with app.app_context():
        viewer = public_viewer()
        assert stock_alerts.ask(db.session, ann.id, items["lantern"].id, viewer).sku == "L1"
        db.session.commit()
    assert _alerts(session) == [("ann@example.com", "L1")]


def test_an_account_waits_for_at_most_max_waiting_products(
    ann: FlaskClient, session: Session, items: dict[str, Product], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stock_alerts, "MAX_WAITING", 1)
    assert _ask(ann, items["lantern"].id)[0] == 200
    status, page = _ask(ann, items["heart"].id)
    assert status == 200
    assert "You are waiting for 1 products already." in page
    assert _alerts(session) == [("ann@example.com", "L1")]


def test_the_account_lists_the_alerts_and_cancels_one(
    ann: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    assert "Back-in-stock alerts" in ann.get("/account").get_data(as_text=True)
    empty = ann.get("/account/stock-alerts").get_data(as_text=True)
    assert "You are not waiting for any product." in empty
    _ask(ann, items["lantern"].id)
    _ask(ann, items["heart"].id)
    _change(session, items["heart"].id, active=False)  # taken off sale since

    page = ann.get("/account/stock-alerts").get_data(as_text=True)
    rows = re.findall(r'data-testid="stock-alert">\s*<a [^>]*>([^<]+)</a>(.*?)</li>', page, re.S)
    assert [name for name, _ in rows] == ["Heart Holder", "Lantern"]  # newest first
    assert "no longer sold" in rows[0][1] and "out of stock" in rows[1][1]

    token = csrf_token(ann, "/account/stock-alerts")
    response = ann.post(
        f"/products/{items['lantern'].id}/stock-alert/cancel",
        data={"csrf_token": token, "next": "https://evil.example/"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert response.request.path == "/account/stock-alerts"
    assert "We will not e-mail you about it." in response.get_data(as_text=True)
    assert _alerts(session) == [("ann@example.com", "H1")]


def test_cancelling_from_the_product_page_returns_there(
    ann: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    lantern = items["lantern"].id
    _ask(ann, lantern)
    token = csrf_token(ann, f"/products/{lantern}")
    response = ann.post(
        f"/products/{lantern}/stock-alert/cancel",
        data={"csrf_token": token, "next": f"/products/{lantern}"},
        follow_redirects=True,
    )
    assert response.request.path == f"/products/{lantern}"
    assert "E-mail me when it is back" in response.get_data(as_text=True)
    assert _alerts(session) == []


def test_one_email_per_shopper_once_the_products_are_back(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    bob = factories.user(session, "bob@example.com", "Bob")
    gone = factories.user(session, "gone@example.com", "Gone")
    asked = utcnow() - timedelta(days=3)
    for who, what in (
        (ann, "lantern"),
        (ann, "heart"),
        (ann, "later"),
        (bob, "heart"),
        (bob, "gone"),
        (gone, "heart"),
    ):
        session.add(StockAlert(user_id=who.id, product_id=items[what].id, created_at=asked))
    session.commit()
    assert _send(app) == stock_alerts.SendReport(0, 0)  # nothing is back yet

    for name in ("lantern", "heart", "gone", "later"):
        items[name].stock_qty = 5
    items["later"].launches_at = utcnow() + timedelta(days=2)  # not on sale to everyone yet
    with app.app_context():
        privacy.anonymize(session, session.get_one(User, gone.id))
    session.commit()

    report = _send(app, batch_size=1)
    assert report == stock_alerts.SendReport(emails=2, products=3)
    assert report.summary() == "2 back-in-stock e-mails queued for 3 alerts"
    mails = _mails(session)
    assert [(m.to_address, m.subject) for m in mails] == [
        ("ann@example.com", "2 products you asked about are back in stock"),
        ("bob@example.com", "Back in stock: Heart Holder"),
    ]
    text = mails[0].text_body
    assert "Hello Ann," in text
    assert f"- Heart Holder (£2.95)\n  You asked on {asked.day} {asked:%B %Y}\n" in text
    assert f"{BASE}/products/{items['lantern'].id}" in text
    assert f"{BASE}/account/stock-alerts" in text
    assert "New Lamp" not in text and "Old Lamp" not in mails[1].text_body
    assert "one-off message, not marketing" in mails[0].html_body
    # What was answered is gone; the unlaunched and inactive products still wait.
    assert _alerts(session) == [("ann@example.com", "N1"), ("bob@example.com", "G1")]
    assert _send(app) == stock_alerts.SendReport(0, 0)
    assert len(_mails(session)) == 2


def test_restocking_in_the_console_tells_the_waiting_shoppers(
    app: Flask, session: Session, ann: FlaskClient, items: dict[str, Product]
) -> None:
    lantern = items["lantern"].id
    _ask(ann, lantern)
    session.rollback()  # end the read snapshot taken before the request wrote
    staff = client_as(app, session, "merchandiser")
    page = staff.get(f"/console/products/{lantern}").get_data(as_text=True)
    assert "1 shopper is waiting for it to be back in stock." in page
    assert "stock-alert-count" not in staff.get(f"/console/products/{items['heart'].id}").text

    _change(session, lantern, stock_qty=12)
    result = app.test_cli_runner().invoke(args=["catalog", "send-stock-alerts"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 back-in-stock e-mail queued for 1 alert\n"
    assert [m.subject for m in _mails(session)] == ["Back in stock: Lantern"]
    assert "stock-alert-count" not in staff.get(f"/console/products/{lantern}").text


def test_alerts_are_in_the_data_export_and_go_with_the_account(
    app: Flask, session: Session, ann: FlaskClient, items: dict[str, Product]
) -> None:
    _ask(ann, items["lantern"].id)
    session.rollback()
    user = session.scalars(select(User).where(User.email == "ann@example.com")).one()
    with app.app_context():
        exported = json.loads(json.dumps(privacy.export_data(session, user.id)))
        assert [(a["product_id"], a["name"]) for a in exported["stock_alerts"]] == [
            (items["lantern"].id, "Lantern")
        ]
        privacy.anonymize(session, user)
    session.commit()
    assert session.scalar(select(func.count(StockAlert.id))) == 0


def test_the_console_shows_which_sold_out_products_shoppers_wait_for(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    shoppers = [factories.user(session, f"s{n}@example.com", f"S{n}") for n in range(3)]
    for who, what in ((0, "lantern"), (1, "lantern"), (2, "lantern"), (0, "heart"), (2, "gone")):
        session.add(StockAlert(user_id=shoppers[who].id, product_id=items[what].id))
    session.commit()
    staff = client_as(app, session, "merchandiser")

    board = staff.get("/console/").get_data(as_text=True)
    wanted = re.search(r'data-item="wanted"><a href="([^"]+)">([^<]+)</a>', board)
    assert wanted is not None
    # The inactive product's alert does not count: it is not on sale.
    assert wanted.group(2) == "2 sold-out products with shoppers waiting (4 back-in-stock alerts)"
    assert wanted.group(1) == "/console/products/?active=yes&amp;stock=wanted"

    listing = staff.get("/console/products/?active=yes&stock=wanted")
    assert listing.status_code == 200
    rows = re.findall(r'<td>([^<]+)</td>.*?data-testid="waiting">(\d+) waiting', listing.text, re.S)
    assert rows == [("Lantern", "3"), ("Heart Holder", "1")]  # the most awaited, not by SKU
    everything = staff.get("/console/products/").get_data(as_text=True)
    assert everything.count('data-testid="waiting"') == 3  # the inactive one too

    session.rollback()
    session.execute(update(Product).values(stock_qty=1))
    session.commit()
    assert 'data-item="wanted"' not in staff.get("/console/").get_data(as_text=True)
    assert "No products match." in staff.get("/console/products/?stock=wanted").text
