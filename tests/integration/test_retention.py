"""Storage limitation: `flask privacy prune` (shop/retention.py) deletes or blanks personal
data older than its retention period, and keeps what orders, members, running experiments,
the online metrics and training still need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from shop import devservices
from shop.accounts.models import AccountToken, User
from shop.cart import services as carts
from shop.cart.models import Cart, CartItem
from shop.catalog.models import GuestStockAlert, Product, StockAlert
from shop.config import TestConfig
from shop.db import db, utcnow
from shop.events.models import DomainEvent
from shop.mail import outbox
from shop.mail.models import OutboxEmail
from shop.merchandising.models import Experiment
from shop.orders.models import Order, OrderStatusChange
from shop.payments.models import PaymentAttempt
from shop.personalization import service
from shop.recommendation_data import load_interactions
from shop.recommendation_models import Impression
from shop.retention import RETAINED_TEXT, Retention, RetentionError, prune
from shop.tracking.models import Event
from tests import factories

NOW = datetime(2026, 11, 20, 12, 0)
DAY = timedelta(days=1)


def _prune(app: Flask, now: datetime = NOW, **periods: int) -> dict[str, int]:
    with app.app_context():
        return prune(db.transaction, Retention(**periods), now=now).counts


# --- carts ------------------------------------------------------------------------------------


def _cart(
    session: Session, label: str, changed: datetime, product: Product, member: User | None = None
) -> Cart:
    cart = Cart(
        visitor_id=None if member else label,
        user_id=member.id if member else None,
        updated_at=changed,
    )
    session.add(cart)
    session.flush()
    session.add(CartItem(cart_id=cart.id, product_id=product.id, quantity=1))
    session.flush()
    return cart


def test_abandoned_visitor_carts_go_with_their_lines(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session)
    _cart(session, "visitor 91 days", NOW - 91 * DAY, items["heart"])
    _cart(session, "visitor 89 days", NOW - 89 * DAY, items["heart"])
    member_cart = _cart(session, "member 2 years", NOW - 730 * DAY, items["heart"], member=ann)
    session.commit()

    assert _prune(app)["visitor_carts"] == 1

    session.rollback()
    assert set(session.scalars(select(Cart.visitor_id))) == {"visitor 89 days", None}
    assert session.scalar(select(Cart.id).where(Cart.user_id == ann.id)) == member_cart.id
    assert session.scalar(select(func.count(CartItem.id))) == 2  # the old cart's line went too


def test_changing_a_cart_makes_it_recent_again(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    long_ago = utcnow() - 200 * DAY
    for label in ("added to", "quantity set", "line removed"):
        _cart(session, label, long_ago, items["heart"])
    session.commit()
    with app.app_context(), db.transaction() as tx:
        carts.add_item(tx, carts.CartOwner(visitor_id="added to"), items["lantern"].id, 1)
        carts.set_quantity(tx, carts.CartOwner(visitor_id="quantity set"), items["heart"].id, 2)
        carts.remove_item(tx, carts.CartOwner(visitor_id="line removed"), items["heart"].id)

    assert _prune(app, now=utcnow())["visitor_carts"] == 0
    session.rollback()
    assert len(session.scalars(select(Cart.id)).all()) == 3


# --- events and impressions -------------------------------------------------------------------


def _events(
    session: Session,
    product: Product,
    rows: dict[str, tuple[str, int | None, timedelta, int | None]],
) -> None:
    """Events by label (kept in visitor_id): (kind, member id or None, age, order id)."""
    session.execute(
        insert(Event),
        [
            {
                "kind": kind,
                "visitor_id": label,
                "user_id": user_id,
                "product_id": product.id,
                "order_id": order_id,
                "query": "lantern" if kind == "search" else None,
                "created_at": NOW - age,
            }
            for label, (kind, user_id, age, order_id) in rows.items()
        ],
    )
    session.commit()


def _event_labels(session: Session) -> set[str]:
    session.rollback()
    return set(session.scalars(select(Event.visitor_id)))


def test_old_anonymous_events_go_but_purchases_orders_and_members_events_stay(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session)
    placed = factories.order(session, None, "G-1", [(items["heart"], 1)])
    session.commit()
    _events(
        session,
        items["heart"],
        {
            "view 401 days": ("product_view", None, 401 * DAY, None),
            "click 401 days": ("rec_click", None, 401 * DAY, None),
            "view 399 days": ("product_view", None, 399 * DAY, None),
            "click 364 days": ("rec_click", None, 364 * DAY, None),
            "purchase 3 years": ("purchase", None, 1095 * DAY, None),
            "cart add of an order": ("cart_add", None, 800 * DAY, placed.id),
            "member view 3 years": ("product_view", ann.id, 1095 * DAY, None),
            "member search 3 years": ("search", ann.id, 1095 * DAY, None),
            "search 91 days": ("search", None, 91 * DAY, None),
            "search 89 days": ("search", None, 89 * DAY, None),
        },
    )

    counts = _prune(app)
    assert (counts["visitor_events"], counts["visitor_searches"]) == (2, 1)
    assert _event_labels(session) == {
        "view 399 days",
        "click 364 days",
        "purchase 3 years",
        "cart add of an order",
        "member view 3 years",
        "member search 3 years",
        "search 89 days",
    }


def _impression(session: Session, label: str, age: timedelta, **extra: object) -> None:
    session.add(
        Impression(
            rec_id=label[:32],
            placement=str(extra.pop("placement", "home")),
            model_version="v1",
            strategy="personal",
            visitor_id=label,
            product_ids=[1, 2],
            created_at=NOW - age,
            **extra,
        )
    )


def _impression_labels(session: Session) -> set[str]:
    session.rollback()
    return set(session.scalars(select(Impression.visitor_id)))


def test_old_anonymous_impressions_go_but_the_metrics_window_and_members_stay(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session)
    _impression(session, "visitor 401 days", 401 * DAY)
    _impression(session, "visitor 364 days", 364 * DAY)
    _impression(session, "member 3 years", 1095 * DAY, user_id=ann.id)
    session.commit()

    assert _prune(app)["visitor_impressions"] == 1
    assert _impression_labels(session) == {"visitor 364 days", "member 3 years"}


def _experiment(session: Session, key: str, started: datetime, stopped: datetime | None) -> None:
    session.add(
        Experiment(
            key=key,
            name=key,
            status="running" if stopped is None else "stopped",
            placements=["home"],
            variants=[{"key": "a"}, {"key": "b"}],
            started_at=started,
            stopped_at=stopped,
        )
    )


def test_a_running_experiment_keeps_everything_since_it_started(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _experiment(session, "old-stopped", NOW - 900 * DAY, NOW - 800 * DAY)
    _experiment(session, "long-running", NOW - 500 * DAY, None)
    _impression(session, "shown 450 days", 450 * DAY, variant="long-running:a")
    _impression(session, "shown 600 days", 600 * DAY)
    _impression(session, "shown 850 days", 850 * DAY, variant="old-stopped:a")
    session.commit()
    _events(
        session,
        items["heart"],
        {
            "click 450 days": ("rec_click", None, 450 * DAY, None),
            "click 600 days": ("rec_click", None, 600 * DAY, None),
            "search 450 days": ("search", None, 450 * DAY, None),  # no experiment counts it
        },
    )

    counts = _prune(app)
    assert (counts["visitor_impressions"], counts["visitor_events"]) == (2, 1)
    assert _impression_labels(session) == {"shown 450 days"}
    assert _event_labels(session) == {"click 450 days"}

    session.execute(
        Experiment.__table__.update()
        .where(Experiment.key == "long-running")
        .values(status="stopped", stopped_at=NOW - DAY)
    )
    session.commit()
    counts = _prune(app)  # stopped: its data follows the normal periods again
    assert (counts["visitor_impressions"], counts["visitor_events"]) == (1, 1)
    assert _impression_labels(session) == set()


# --- e-mails --------------------------------------------------------------------------------


def _email(session: Session, label: str, status: str, age: timedelta, **extra: object) -> None:
    factories.outbox_email(
        session,
        status,
        message_id=f"<{label}@shop>",
        text_body="Dear Ann, 1 x White Hanging Heart to 1 High Street",
        html_body="<p>Dear Ann</p>",
        headers={"List-Unsubscribe": "<https://shop/u/x>"},
        created_at=NOW - age,
        **extra,
    )


def test_old_finished_emails_lose_address_and_text_but_the_row_stays(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session)
    _email(session, "sent 91 days", "sent", 91 * DAY, user_id=ann.id, sent_at=NOW - 91 * DAY)
    refused = "recipient refused: ann@example.com: 550 <ann@example.com>: address rejected"
    _email(session, "failed 91 days", "failed", 91 * DAY, user_id=ann.id, last_error=refused)
    _email(session, "withdrawn 91 days", "withdrawn", 91 * DAY)
    _email(session, "pending 91 days", "pending", 91 * DAY)
    _email(session, "sent 89 days", "sent", 89 * DAY, user_id=ann.id)
    session.commit()

    assert _prune(app)["email_text"] == 3

    session.rollback()
    rows = {
        row.message_id.strip("<>").split("@")[0]: row
        for row in session.scalars(select(OutboxEmail))
    }
    assert len(rows) == 5
    for label in ("sent 91 days", "failed 91 days", "withdrawn 91 days"):
        row = rows[label]
        assert row.to_address == outbox.FORGOTTEN_ADDRESS
        assert (row.text_body, row.html_body, row.headers) == (RETAINED_TEXT, RETAINED_TEXT, {})
        assert row.forgotten_at == NOW
        assert row.kind == "order_confirmation" and row.created_at == NOW - 91 * DAY
        assert row.subject == "Your order"  # subjects name no person: they stay
    assert rows["sent 91 days"].user_id == ann.id and rows["sent 91 days"].status == "sent"
    # Staff keep the reason a delivery failed, without the address it named.
    assert rows["failed 91 days"].last_error == (
        "recipient refused: the recipient: 550 <the recipient>: address rejected"
    )
    assert rows["sent 91 days"].last_error is None
    for label in ("pending 91 days", "sent 89 days"):
        assert rows[label].to_address == "ann@example.com"
        assert rows[label].text_body.startswith("Dear Ann")
    # The rows still count for the rate limits that look back at what an account was sent.
    count = outbox.recent_count(session, ann.id, ["order_confirmation"], 365 * DAY, NOW)
    assert count == 3


# --- account tokens -------------------------------------------------------------------------


def test_tokens_used_or_expired_long_ago_go(app: Flask, session: Session) -> None:
    ann = factories.user(session)
    rows = {
        "used 31 days ago": (NOW - 31 * DAY, NOW - 20 * DAY),
        "expired 31 days ago": (None, NOW - 31 * DAY),
        "used 29 days ago": (NOW - 29 * DAY, NOW - 28 * DAY),
        "expired 29 days ago": (None, NOW - 29 * DAY),
        "still valid": (None, NOW + DAY),
    }
    for n, (label, (used, expires)) in enumerate(rows.items()):
        session.add(
            AccountToken(
                user_id=ann.id,
                purpose="email_change",
                token_hash=f"{n:064d}",
                new_email=label,
                expires_at=expires,
                used_at=used,
                created_at=NOW - 40 * DAY,
            )
        )
    session.commit()

    assert _prune(app)["spent_tokens"] == 2
    session.rollback()
    assert set(session.scalars(select(AccountToken.new_email))) == {
        "used 29 days ago",
        "expired 29 days ago",
        "still valid",
    }


# --- cancelled guest orders -----------------------------------------------------------------


def _guest_order(
    session: Session, items: dict[str, Product], number: str, status: str, age: timedelta
) -> Order:
    order = factories.order(session, None, number, [(items["heart"], 1)])
    order.status = status
    order.source = "web"
    order.placed_at = NOW - age
    order.email = "guest@example.com"
    order.ship_name, order.ship_line1, order.ship_city = "Gus Guest", "1 High St", "York"
    order.ship_postcode, order.phone, order.visitor_id = "YO1 1AA", "01234", f"v-{number}"
    session.flush()
    session.add(
        PaymentAttempt(
            order_id=order.id,
            attempt=1,
            idempotency_key=f"key-{number}",
            status="failed",
            amount_pence=order.total_pence,
            currency="GBP",
            payment_method_id=f"pm_{number}",
        )
    )
    return order


def test_cancelled_unpaid_guest_orders_lose_their_contact_details(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _guest_order(session, items, "CANCELLED-181", "cancelled", 181 * DAY)
    _guest_order(session, items, "CANCELLED-179", "cancelled", 179 * DAY)
    paid = _guest_order(session, items, "PAID-THEN-CANCELLED", "cancelled", 400 * DAY)
    session.add(
        OrderStatusChange(order_id=paid.id, from_status="pending_payment", to_status="paid")
    )
    _guest_order(session, items, "DELIVERED-400", "delivered", 400 * DAY)
    member = _guest_order(session, items, "MEMBER-CANCELLED", "cancelled", 400 * DAY)
    member.user_id = factories.user(session).id
    session.commit()

    assert _prune(app)["cancelled_guest_orders"] == 1

    session.rollback()
    orders = {o.number: o for o in session.scalars(select(Order))}
    assert len(orders) == 5
    blanked = orders["CANCELLED-181"]
    details = (blanked.email, blanked.ship_name, blanked.ship_line1, blanked.ship_city)
    assert details == (None, None, None, None)
    assert (blanked.ship_postcode, blanked.phone, blanked.visitor_id) == (None, None, None)
    assert len(blanked.lines) == 1 and blanked.total_pence == items["heart"].price_pence
    for number in ("CANCELLED-179", "PAID-THEN-CANCELLED", "DELIVERED-400", "MEMBER-CANCELLED"):
        assert orders[number].email == "guest@example.com"
        assert orders[number].ship_line1 == "1 High St"
    query = select(PaymentAttempt.idempotency_key, PaymentAttempt.payment_method_id)
    methods = {key: method for key, method in session.execute(query)}
    assert methods["key-CANCELLED-181"] is None
    assert methods["key-CANCELLED-179"] == "pm_CANCELLED-179"


# --- domain events --------------------------------------------------------------------------


def _domain_event(
    session: Session, label: str, created: timedelta, dispatched: timedelta | None, **extra: object
) -> None:
    """An `order_paid` event (its number is the label) recorded and dispatched that long
    before NOW; `dispatched` None: not dispatched yet."""
    session.add(
        DomainEvent(
            name="order_paid",
            payload={"number": label, "user_id": None, "email": "guest@example.com"},
            created_at=NOW - created,
            dispatched_at=None if dispatched is None else NOW - dispatched,
            **extra,
        )
    )


def _domain_events_left(session: Session) -> dict[str, DomainEvent]:
    session.rollback()
    return {event.payload["number"]: event for event in session.scalars(select(DomainEvent))}


def test_dispatched_domain_events_go_but_pending_and_failing_ones_stay(
    app: Flask, session: Session
) -> None:
    _domain_event(session, "dispatched 31 days", 31 * DAY, 31 * DAY)
    _domain_event(session, "dispatched 29 days", 3 * 365 * DAY, 29 * DAY)  # after retries
    _domain_event(session, "pending 3 years", 3 * 365 * DAY, None)
    failing = {"attempts": 40, "last_error": "RuntimeError: ledger down"}
    _domain_event(session, "failing 3 years", 3 * 365 * DAY, None, **failing)
    session.commit()

    assert _prune(app)["domain_events"] == 1

    left = _domain_events_left(session)
    assert set(left) == {"dispatched 29 days", "pending 3 years", "failing 3 years"}
    for label in ("pending 3 years", "failing 3 years"):
        assert left[label].payload["email"] == "guest@example.com"
        assert left[label].dispatched_at is None
    assert (left["failing 3 years"].attempts, left["failing 3 years"].last_error) == (
        40,
        "RuntimeError: ledger down",
    )
    assert _prune(app, now=NOW + 400 * DAY)["domain_events"] == 1  # never the pending ones
    assert set(_domain_events_left(session)) == {"pending 3 years", "failing 3 years"}


# --- all kinds together: batches, idempotence, command, daily job ---------------------------


def _one_of_each(session: Session, items: dict[str, Product], now: datetime) -> None:
    """Two old rows of every kind, and one recent row of every kind."""
    ann = factories.user(session)
    for n, age in enumerate((3000 * DAY, 2000 * DAY, DAY)):
        label = f"{n}-{age.days}"
        _cart(session, label, now - age, items["heart"])
        for kind in ("product_view", "search"):
            session.add(Event(kind=kind, visitor_id=label, created_at=now - age))
        session.add(
            Impression(
                rec_id=label,
                placement="home",
                model_version="v1",
                strategy="popular",
                visitor_id=label,
                product_ids=[],
                created_at=now - age,
            )
        )
        factories.outbox_email(
            session,
            message_id=label,
            kind="welcome",
            to_address="a@example.com",
            created_at=now - age,
        )
        session.add(
            AccountToken(
                user_id=ann.id,
                purpose="password_reset",
                token_hash=label,
                expires_at=now - age + DAY,
                created_at=now - age,
            )
        )
        order = _guest_order(session, items, label, "cancelled", 0 * DAY)
        order.placed_at = now - age
        alerted = items[("heart", "lantern", "jumbo")[n]]
        session.add(StockAlert(user_id=ann.id, product_id=alerted.id, created_at=now - age))
        for confirmed in (now - age, None):
            session.add(
                GuestStockAlert(
                    email=f"{label}-{confirmed is None}@example.com",
                    product_id=alerted.id,
                    token_hash=f"{label}-{confirmed is None}",
                    created_at=now - age,
                    confirm_sent_at=now - age,
                    confirmed_at=confirmed,
                )
            )
        session.add(
            DomainEvent(
                name="order_paid",
                payload={"number": label},
                created_at=now - age,
                dispatched_at=now - age,
            )
        )
        session.add(DomainEvent(name="order_paid", payload={}, created_at=now - age))
    session.commit()


EACH_TWICE = {
    "visitor_carts": 2,
    "visitor_searches": 2,
    "visitor_events": 2,
    "visitor_impressions": 2,
    "email_text": 2,
    "spent_tokens": 2,
    "cancelled_guest_orders": 2,
    "domain_events": 2,
    "stock_alerts": 2,
    "guest_stock_alerts": 2,
    "unconfirmed_stock_alerts": 2,
}


def test_batches_are_short_transactions_and_a_second_run_removes_nothing(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _one_of_each(session, items, NOW)
    transactions = 0

    @contextmanager
    def counting() -> Iterator[Session]:
        nonlocal transactions
        transactions += 1
        with db.transaction() as tx:
            yield tx

    with app.app_context():
        report = prune(counting, now=NOW, batch_size=1)
        assert report.counts == EACH_TWICE
        # One to find running experiments, then three per kind: 1, 1, and the empty one.
        assert transactions == 1 + 3 * len(EACH_TWICE)
        assert prune(db.transaction, now=NOW, batch_size=1).total == 0

    session.rollback()
    assert len(session.scalars(select(Cart.id)).all()) == 1
    assert len(session.scalars(select(Event.id)).all()) == 2
    assert len(session.scalars(select(Impression.id)).all()) == 1
    assert len(session.scalars(select(AccountToken.id)).all()) == 1
    assert session.scalar(select(func.count()).where(OutboxEmail.forgotten_at.is_not(None))) == 2
    assert session.scalar(select(func.count()).where(Order.email.is_(None))) == 2
    # The recent dispatched event and the three not dispatched yet.
    assert session.scalar(select(func.count(DomainEvent.id))) == 4
    # A day old: one confirmed visitor's alert and one still waiting to be confirmed.
    assert session.scalar(select(func.count(GuestStockAlert.id))) == 2
    assert session.scalars(select(StockAlert.created_at)).all() == [NOW - DAY]


def test_the_command_prunes_with_the_settings_and_says_what_per_kind(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _one_of_each(session, items, utcnow())
    runner = app.test_cli_runner()

    result = runner.invoke(args=["privacy", "prune", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Deleted 2 abandoned visitor cart(s) older than 90 day(s).",
        "Deleted 2 visitor search(es) older than 90 day(s).",
        "Deleted 2 other visitor event(s) older than 400 day(s).",
        "Deleted 2 visitor recommendation impression(s) older than 400 day(s).",
        "Blanked 2 e-mail(s)' address and text older than 90 day(s).",
        "Deleted 2 used or expired account link(s) older than 30 day(s).",
        "Blanked 2 cancelled unpaid guest order(s)' contact details older than 180 day(s).",
        "Deleted 2 dispatched domain event(s) older than 30 day(s).",
        "Deleted 2 unanswered back-in-stock alert(s) older than 365 day(s).",
        "Deleted 2 unanswered visitor back-in-stock alert(s) older than 365 day(s).",
        "Deleted 2 unconfirmed visitor back-in-stock alert(s) older than 7 day(s).",
    ]
    again = runner.invoke(args=["privacy", "prune"])
    assert again.exit_code == 0, again.output
    assert all(" 0 " in line for line in again.output.splitlines())

    app.config["RETAIN_VISITOR_CARTS_DAYS"] = 1  # the recent cart was changed a day ago
    shorter = runner.invoke(args=["privacy", "prune"])
    assert "Deleted 1 abandoned visitor cart(s) older than 1 day(s)." in shorter.output
    session.rollback()
    assert session.scalars(select(Cart.id)).all() == []


def test_make_run_prunes_daily(app: Flask, session: Session, items: dict[str, Product]) -> None:
    jobs = {job.name: job for job in devservices.dev_jobs()}
    job = jobs["data retention"]
    assert (job.every_s, job.retry_s) == (
        devservices.DAILY_EVERY_S,
        devservices.HOUSEKEEPING_EVERY_S,
    )
    _one_of_each(session, items, utcnow())

    job.run_if_due(app, 1000.0)
    assert job.due_at == 1000.0 + devservices.DAILY_EVERY_S  # it worked
    session.rollback()
    assert len(session.scalars(select(Cart.id)).all()) == 1


def test_settings_come_from_the_environment_and_refuse_too_short_periods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Retention.from_config(TestConfig().as_dict()) == Retention()
    monkeypatch.setenv("SHOP_RETAIN_VISITOR_CARTS_DAYS", "30")
    assert Retention.from_config(TestConfig().as_dict()).visitor_carts == 30
    monkeypatch.setenv("SHOP_RETAIN_VISITOR_EVENTS_DAYS", "365")
    with pytest.raises(ValueError, match="SHOP_RETAIN_VISITOR_EVENTS_DAYS must be at least 366"):
        TestConfig()
    with pytest.raises(RetentionError, match="online metrics"):
        Retention(visitor_impressions=365)
    with pytest.raises(RetentionError, match="at least 1 day"):
        Retention(spent_tokens=0)
    with pytest.raises(RetentionError, match="domain_events must be kept at least 1 day"):
        Retention(domain_events=0)
    monkeypatch.delenv("SHOP_RETAIN_VISITOR_EVENTS_DAYS")
    monkeypatch.setenv("SHOP_RETAIN_DOMAIN_EVENTS_DAYS", "7")
    assert Retention.from_config(TestConfig().as_dict()).domain_events == 7
    for bad, message in [
        ("0", "SHOP_RETAIN_DOMAIN_EVENTS_DAYS must be at least 1, not 0"),
        ("a month", "SHOP_RETAIN_DOMAIN_EVENTS_DAYS must be a whole number, not 'a month'"),
    ]:
        monkeypatch.setenv("SHOP_RETAIN_DOMAIN_EVENTS_DAYS", bad)
        with pytest.raises(ValueError, match=message):
            TestConfig()


# --- training -------------------------------------------------------------------------------


def test_the_recommender_trains_on_the_same_data_after_a_prune(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    """Like the demo shop: a year of members' purchases ending yesterday, plus what
    visitors did, old and new."""
    buyers = [factories.user(session, f"b{i}@example.com", f"B{i}") for i in range(4)]
    session.commit()
    now = utcnow()
    names = list(items)
    rows = [
        {
            "kind": "purchase",
            "visitor_id": "import",
            "user_id": buyers[day % 4].id,
            "product_id": items[names[(day + k) % len(names)]].id,
            "quantity": 1,
            "created_at": now - timedelta(days=day + 1),
        }
        for day in range(0, 365, 5)
        for k in range(2)
    ]
    session.execute(insert(Event), rows)
    session.commit()
    with app.app_context():
        before = load_interactions(db.session)
    _events(
        session,
        items["heart"],
        {
            "old visitor view": ("product_view", None, (now - NOW) + 500 * DAY, None),
            "recent visitor view": ("product_view", None, (now - NOW) + 10 * DAY, None),
        },
    )

    with app.app_context():
        assert prune(db.transaction).counts["visitor_events"] == 1
        after = load_interactions(db.session)
        assert service().train(db.session)
    assert len(after) == len(before) + 1  # the recent view only
    purchases = after.of_kinds(["purchase"])
    assert np.array_equal(np.sort(purchases.timestamps), np.sort(before.timestamps))
