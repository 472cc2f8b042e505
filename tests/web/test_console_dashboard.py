"""The console's start page: sales, what needs attention and the recommendations' week."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from loyalty.models import Tier
from shop.accounts.models import User
from shop.console.audit import Actor
from shop.db import utcnow
from shop.merchandising import revisions
from shop.merchandising.models import Experiment
from shop.orders.models import Order, OrderStatusChange
from shop.personalization import service
from shop.recommendation_models import Impression
from tests import factories
from tests.console_support import client_as


def _section(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}"')[1].split("</dl>")[0].split("</ul>")[0]


def _metric(section: str, name: str) -> str:
    return section.split(f'data-metric="{name}">')[1].split("</dd>")[0]


def _order(
    session: Session,
    number: str,
    placed_at: datetime,
    total: int,
    *,
    status: str = "paid",
    refunded: int = 0,
    kind: str = "sale",
) -> Order:
    return factories.bare_order(
        session, number, placed_at, total, status=status, refunded_pence=refunded, kind=kind
    )


def test_an_empty_shop_has_nothing_waiting_and_no_live_model(app: Flask, session: Session) -> None:
    page = client_as(app, session, "merchandiser").get("/console/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nothing waiting" in _section(html, "attention")
    sales = _section(html, "sales")
    assert _metric(sales, "week") == "£0.00" and "0 orders" in sales
    assert "no sales in the 7 days before" in _metric(sales, "change")
    assert _metric(_section(html, "recommendations"), "impressions") == "0"
    assert "No model is live" in html.split('data-testid="live-model"')[1]
    assert 'href="/console/products/"' in html  # the area tiles stay


def test_sales_count_paid_sale_orders_by_day_after_refunds(app: Flask, session: Session) -> None:
    now = utcnow()
    today = datetime.combine(now.date(), time(0, 1))
    _order(session, "T1", today, 1000)
    _order(session, "T2", today, 2500, status="partially_refunded", refunded=500)
    _order(session, "T3", today, 9999, status="pending_payment")  # not paid: not a sale
    _order(session, "T4", today, 9999, status="cancelled")  # cancelled unpaid
    _order(session, "T5", today, -300, status="refunded", kind="return")  # goods sent back
    _order(session, "W1", today - timedelta(days=6), 1500, status="delivered")
    _order(session, "W2", today - timedelta(days=7), 4000, status="delivered")  # week before
    _order(session, "W3", today - timedelta(days=13), 1000, status="refunded", refunded=1000)
    _order(session, "OLD", today - timedelta(days=14), 7777, status="delivered")
    session.commit()

    html = client_as(app, session, "merchandiser").get("/console/").get_data(as_text=True)
    sales = _section(html, "sales")
    assert _metric(sales, "today") == "£27.00"  # 10.00 + 25.00 - 5.00 refunded - 3.00 returned
    assert _metric(sales, "week") == "£42.00"
    assert _metric(sales, "week-before") == "£40.00"
    assert _metric(sales, "change") == "+5%"
    assert _metric(sales, "average") == "£14.00"  # £42.00 over 3 orders (the return is none)
    assert "2 orders" in sales.split('data-metric="today"')[1].split("</div>")[0]


def test_the_weeks_customers_are_new_or_returning(app: Flask, session: Session) -> None:
    now = utcnow()
    ann = factories.user(session, "ann@example.com")
    bob = factories.user(session, "bob@example.com", "Bob")
    cy = factories.user(session, "cy@example.com", "Cy")
    boss = factories.staff(session, "admin", "boss@example.com")
    _order(session, "A1", now - timedelta(days=2), 1000).user_id = ann.id  # new
    _order(session, "A2", now - timedelta(days=1), 1000).user_id = ann.id
    _order(session, "B0", now - timedelta(days=40), 1000).user_id = bob.id
    _order(session, "B1", now - timedelta(days=3), 1000).user_id = bob.id  # returning
    _order(session, "C0", now - timedelta(days=40), 1000).user_id = cy.id  # not this week
    _order(session, "C1", now - timedelta(days=1), 1000, status="pending_payment").user_id = cy.id
    _order(session, "G1", now - timedelta(days=1), 1000).email = "Guest@example.com"  # new
    _order(session, "S1", now - timedelta(days=1), 1000).user_id = boss.id  # staff: never
    session.commit()
    html = client_as(app, session, "merchandiser").get("/console/").get_data(as_text=True)
    people = _section(html, "customers")
    assert (_metric(people, "new"), _metric(people, "returning")) == ("2", "1")
    assert _metric(people, "returning-share") == "33%"
    assert 'href="/console/customers/"' in html


def test_what_needs_attention_is_counted_and_linked(app: Flask, session: Session) -> None:
    cat = factories.category(session)
    factories.product(session, cat, sku="OUT", name="Sold Out Lantern", stock=0)
    factories.product(session, cat, sku="OFF", name="Retired Lantern", stock=0, active=False)
    factories.product(session, cat, sku="LOW", name="Last Few Candles", stock=3)
    factories.product(session, cat, sku="OK", name="Plenty of Bags", stock=50)
    placed = utcnow() - timedelta(days=20)
    for number in ("P1", "P2"):
        _order(session, number, placed, 500)
    vip = factories.member(session, "pia@example.com", tier="Platinum")
    session.execute(update(Tier).where(Tier.name == "Platinum").values(priority_support=True))
    _order(session, "VIP1", placed, 500).user_id = vip.id
    _order(session, "S1", placed, 500, status="shipped")
    _order(session, "U1", placed, 500, status="pending_payment")
    # Partly refunded before shipping: still to ship. Partly refunded after: shipped.
    _order(session, "R1", placed, 500, status="partially_refunded", refunded=100)
    sent = _order(session, "R2", placed, 500, status="partially_refunded", refunded=100)
    session.flush()
    session.add(OrderStatusChange(order_id=sent.id, from_status="paid", to_status="shipped"))
    factories.outbox_email(session, "failed")
    session.commit()

    client = client_as(app, session, "merchandiser")
    attention = _section(client.get("/console/").get_data(as_text=True), "attention")
    expected = {
        "to-ship": ("4 paid orders waiting to ship", "/console/orders/?status=to_ship"),
        "to-ship-priority": (
            "1 paid order of priority-support members waiting to ship",
            "/console/orders/?status=to_ship&amp;priority=y",
        ),
        "failed-emails": ("1 e-mail failed to send", "/console/orders/outbox"),
        "out-of-stock": (
            "1 product on sale but out of stock",
            "/console/products/?active=yes&amp;stock=out",
        ),
        "low-stock": (
            "1 product on sale with 1 to 5 left",
            "/console/products/?active=yes&amp;stock=low",
        ),
        "awaiting-payment": (
            "1 order awaiting payment",
            "/console/orders/?status=pending_payment",
        ),
    }
    for key, (text, href) in expected.items():
        item = attention.split(f'data-item="{key}"')[1].split("</li>")[0]
        assert text in item and f'href="{href}"' in item, (key, item)
    assert 'data-item="unpublished"' not in attention
    # Each link leads to a list holding exactly what was counted.
    listed = client.get("/console/products/?active=yes&stock=out").get_data(as_text=True)
    assert "Sold Out Lantern" in listed and "Retired Lantern" not in listed
    orders = client.get("/console/orders/?status=to_ship").get_data(as_text=True)
    assert ">P1<" in orders and ">P2<" in orders and ">R1<" in orders and ">VIP1<" in orders
    assert ">S1<" not in orders and ">R2<" not in orders and ">U1<" not in orders
    priority = client.get("/console/orders/?status=to_ship&priority=y").get_data(as_text=True)
    assert ">VIP1<" in priority and ">P1<" not in priority


def test_unpublished_changes_experiments_and_recommendation_week(
    app: Flask, session: Session, trained: list[User]
) -> None:
    staff = factories.staff(session, "merchandiser", "merch2@example.com")
    draft = revisions.draft_to_edit(session)
    draft["note"] = "testing"
    revisions.save_draft(session, Actor.of(staff), draft, "settings.update", "settings")
    session.add(
        Experiment(
            key="exp1",
            name="Model against best sellers",
            placements=["home"],
            variants=[{"key": "a", "kind": "popularity", "weight": 100}],
        )
    )
    now = utcnow()
    for n in range(4):
        session.add(
            Impression(
                rec_id=f"r{n}",
                placement="home",
                model_version="v",
                strategy="model",
                product_ids=[1, 2],
                visitor_id="v1",
                created_at=now - timedelta(days=n * 3),  # the last one is 9 days old
            )
        )
    session.commit()

    html = client_as(app, session, "merchandiser").get("/console/").get_data(as_text=True)
    attention = _section(html, "attention")
    assert "Unpublished recommendation changes" in attention
    recs = _section(html, "recommendations")
    assert _metric(recs, "impressions") == "3"
    assert ">1</a>" in _metric(recs, "experiments")
    live = html.split('data-testid="live-model"')[1].split("</p>")[0]
    with app.app_context():
        active = service().store.active()
    assert active and f">{active}</a>" in live and "No model is live" not in live
