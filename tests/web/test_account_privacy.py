"""Privacy: the data export, account deletion (nothing personal left in any table), and the
personalization switch (consent records; no events stored while it is off)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from loyalty.models import (
    CommunicationPreference,
    FavouriteCategory,
    Membership,
    PointsEntry,
    Tier,
    TierChange,
)
from shop.accounts.models import AccountToken, Address, ConsentRecord, User
from shop.accounts.privacy import anonymize, personalization_refused
from shop.cart.models import Cart
from shop.catalog.models import Product
from shop.console.models import AuditEntry
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from shop.mail.sender import send_pending
from shop.models import Base
from shop.orders.models import Order, OrderStatusChange
from shop.payments.gateway import GatewayUnavailable
from shop.payments.models import PaymentAttempt, Refund, SavedCard
from shop.payments.setup import EXTENSION
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories
from tests.helpers import csrf_token, sign_in
from tests.mail_smtp import SmtpServer, smtp_server  # noqa: F401

NAME = "Zelda Quixote"
EMAIL = "zelda.q@example.com"
PHONE = "+44 7700 900123"
LINE1 = "42 Unusual Lane"
POSTCODE = "ZZ9 9ZZ"
VISITOR = "visitor-of-zelda-0001"


@dataclass
class FakeGateway:
    """Stands in for Stripe: records which cards were detached and which customers deleted."""

    detached: list[str] = field(default_factory=list)
    deleted_customers: list[str] = field(default_factory=list)
    fail: bool = False
    fail_customer: bool = False

    def detach(self, payment_method: str) -> None:
        if self.fail:
            raise GatewayUnavailable("Stripe is down")
        self.detached.append(payment_method)

    def delete_customer(self, customer: str) -> None:
        if self.fail or self.fail_customer:
            raise GatewayUnavailable("Stripe is down")
        self.deleted_customers.append(customer)


def _sign_in(app: Flask, session: Session, email: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    session.rollback()
    return client


def _zelda(session: Session, items: dict[str, Product]) -> User:
    """A member with something in every table that can hold personal data."""
    user = factories.user(session, EMAIL, NAME)
    user.phone = PHONE
    user.country = "United Kingdom"
    user.stripe_customer_id = "cus_zelda"
    session.add(
        Address(
            user_id=user.id,
            name=NAME,
            line1=LINE1,
            city="Leeds",
            postcode=POSTCODE,
            country="United Kingdom",
            phone=PHONE,
            is_default=True,
        )
    )
    order = factories.order(session, user, "W-ZELDA-1", [(items["heart"], 2)])
    order.email, order.ship_name, order.ship_line1 = EMAIL, NAME, LINE1
    order.ship_city, order.ship_postcode, order.phone = "Leeds", POSTCODE, PHONE
    order.visitor_id = VISITOR
    session.add_all(
        [
            Event(
                kind="product_view",
                visitor_id=VISITOR,
                user_id=user.id,
                product_id=items["heart"].id,
            ),
            Event(kind="search", visitor_id=VISITOR, user_id=user.id, query="lantern"),
            SavedCard(
                user_id=user.id,
                payment_method_id="pm_zelda",
                last4="4242",
                exp_month=12,
                exp_year=2030,
            ),
            Cart(user_id=user.id),
            AccountToken(
                user_id=user.id,
                purpose="email_change",
                token_hash="0" * 64,
                new_email="zelda.new@example.com",
                expires_at=datetime(2099, 1, 1),
            ),
            ConsentRecord(user_id=user.id, kind="programme_terms", granted=True, detail="v1"),
            DomainEvent(
                name="order_paid",
                payload={
                    "order_id": order.id,
                    "user_id": user.id,
                    "email": EMAIL,
                    "total_pence": 590,
                },
            ),
            OutboxEmail(
                message_id="<old-zelda@shop.local>",
                kind="order_confirmation",
                to_address=EMAIL,
                subject="Thank you for your order",
                text_body=f"Hello {NAME}, shipping to {LINE1} {POSTCODE}",
                html_body=f"<p>Hello {NAME}</p>",
                headers={},
                user_id=user.id,
                status="sent",
            ),
            OutboxEmail(
                message_id="<pending-zelda@shop.local>",
                kind="loyalty_weekly",
                to_address=EMAIL,
                subject="This week's picks",
                text_body=f"Hello {NAME}, picks for you",
                html_body=f"<p>Hello {NAME}</p>",
                headers={"List-Unsubscribe": f"<https://shop.example/u?e={EMAIL}>"},
                user_id=user.id,
                status="pending",
            ),
        ]
    )
    tier = session.scalar(select(Tier).order_by(Tier.rank).limit(1))
    if tier is None:
        tier = Tier(name="Test member", rank=1, threshold=0)
        session.add(tier)
        session.flush()
    membership = Membership(
        user_id=user.id,
        number="HP-000042",
        tier_id=tier.id,
        points_balance=120,
        terms_version="2026-1",
    )
    session.add(membership)
    session.flush()
    session.add_all(
        [
            PointsEntry(
                membership_id=membership.id,
                points=120,
                reason="earn",
                reference="order:W-ZELDA-1",
                order_id=order.id,
            ),
            TierChange(
                membership_id=membership.id, from_tier_id=None, to_tier_id=tier.id, reason="joined"
            ),
            CommunicationPreference(
                user_id=user.id, topic="weekly_deals", status="on", token_hash="1" * 64
            ),
            FavouriteCategory(user_id=user.id, category_id=items["heart"].category_id),
        ]
    )
    session.commit()
    return user


def _someone_else(session: Session, items: dict[str, Product]) -> User:
    bob = factories.user(session, "bob@example.com", "Bob Other")
    order = factories.order(session, bob, "W-BOB-1", [(items["jumbo"], 1)])
    order.ship_line1 = "1 Bob Street"
    session.add(Event(kind="search", visitor_id="bob-visitor", user_id=bob.id, query="bobsecret"))
    session.commit()
    return bob


# ------------------------------------------------------------------------------ export


def _refund_and_lists_shown(session: Session, zelda: User, bob: User) -> None:
    for user, number in ((zelda, "W-ZELDA-1"), (bob, "W-BOB-1")):
        order = session.scalar(select(Order).where(Order.number == number))
        assert order is not None
        session.add(
            Refund(
                order_id=order.id,
                amount_pence=295,
                currency="GBP",
                idempotency_key=f"refund-{number}",
                status="succeeded",
                reason="broken" if user is zelda else "bobs refund",
            )
        )
        session.add(
            OrderStatusChange(
                order_id=order.id,
                from_status="paid",
                to_status="shipped",
                note="Royal Mail" if user is zelda else "bobs parcel",
            )
        )
        session.add(
            PaymentAttempt(
                order_id=order.id,
                attempt=1,
                idempotency_key=f"pay-{number}",
                intent_id=f"pi_{number}",
                payment_method_id=f"pm_{number}",
                status="failed",
                amount_pence=590,
                currency="GBP",
                error="Your card was declined." if user is zelda else "bobs card declined",
            )
        )
        session.add(
            Impression(
                rec_id=f"rec{user.id:029d}",
                placement="home" if user is zelda else "cart",
                model_version="v1",
                strategy="personal",
                visitor_id=f"visitor-{user.id}",
                user_id=user.id,
                product_ids=[order.lines[0].product_id],
            )
        )
    session.commit()


def test_export_holds_everything_about_the_member_and_nothing_else(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    zelda = _zelda(session, items)
    bob = _someone_else(session, items)
    _refund_and_lists_shown(session, zelda, bob)
    client = _sign_in(app, session, EMAIL)
    response = client.get("/account/privacy/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="my-data-')
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))

    assert data["profile"]["id"] == zelda.id
    assert (data["profile"]["name"], data["profile"]["email"], data["profile"]["phone"]) == (
        NAME,
        EMAIL,
        PHONE,
    )
    assert [a["line1"] for a in data["addresses"]] == [LINE1]
    (order,) = data["orders"]
    assert order["number"] == "W-ZELDA-1" and order["ship_postcode"] == POSTCODE
    assert order["lines"][0]["quantity"] == 2 and order["lines"][0]["sku"] == items["heart"].sku
    assert [(r["amount_pence"], r["reason"]) for r in order["refunds"]] == [(295, "broken")]
    assert [(c["from_status"], c["to_status"], c["note"]) for c in order["status_history"]] == [
        ("paid", "shipped", "Royal Mail")
    ]
    assert order["payment_attempts"] == [
        {
            "attempt": 1,
            "status": "failed",
            "amount_pence": 590,
            "currency": "GBP",
            "error": "Your card was declined.",
            "created_at": order["payment_attempts"][0]["created_at"],
        }
    ]
    assert [s["placement"] for s in data["recommendations_shown"]] == ["home"]
    assert data["recommendations_shown"][0]["product_ids"] == [items["heart"].id]
    kinds = sorted(e["kind"] for e in data["events"])
    assert "product_view" in kinds and "search" in kinds
    assert data["loyalty"]["membership"]["number"] == "HP-000042"
    assert data["loyalty"]["membership"]["points_balance"] == 120
    assert [p["points"] for p in data["loyalty"]["points_ledger"]] == [120]
    assert data["loyalty"]["tier_history"][0]["reason"] == "joined"
    assert data["loyalty"]["communication_preferences"][0]["topic"] == "weekly_deals"
    assert [c["id"] for c in data["loyalty"]["favourite_categories"]] == [
        items["heart"].category_id
    ]
    assert [c["kind"] for c in data["consents"]] == ["programme_terms"]
    (card,) = data["saved_cards"]
    assert card == {
        "brand": "card",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "created_at": card["created_at"],
    }
    assert card["created_at"]
    assert any(e["kind"] == "order_confirmation" for e in data["emails"])
    assert (order["source"], order["campaign"]) == ("import", None)
    assert "rec_id" in order["lines"][0] and "rec_id" in data["events"][0]
    assert "result_count" in data["events"][0]
    assert "below_tier_since" in data["loyalty"]["membership"]
    assert data["campaigns_sent"] == [] and isinstance(data["account_links"], list)
    # The download itself is confirmed to the account's address.
    session.rollback()
    notice = session.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.kind == "account_profile_changed", OutboxEmail.user_id == zelda.id)
        .order_by(OutboxEmail.id.desc())
    ).first()
    assert notice is not None and "A copy of your data was downloaded" in notice.text_body
    assert notice.subject == "A copy of your account data was downloaded"
    assert "<h1" in notice.html_body and "A copy of your account data was downloaded" in (
        notice.html_body
    )

    text = response.get_data(as_text=True)
    for secret in (
        "bobsecret",
        "bobs refund",
        "bobs parcel",
        "bobs card declined",
        "pi_W-",
        "pm_W-",
        "pay-W-",
        "1 Bob Street",
        "W-BOB-1",
        "scrypt",
        "pbkdf2",
        "0" * 64,
        "1" * 64,
        "cus_zelda",
    ):
        assert secret not in text


def test_export_of_a_member_with_nothing_yet(app: Flask, session: Session) -> None:
    factories.user(session, "new@example.com", "New")
    session.commit()
    data = _sign_in(app, session, "new@example.com").get("/account/privacy/export").get_json()
    assert data["orders"] == [] and data["addresses"] == []
    assert [e["kind"] for e in data["events"]] == ["login"]
    assert data["loyalty"]["membership"] is None and data["loyalty"]["points_ledger"] == []


def test_export_and_delete_need_a_sign_in(client: FlaskClient) -> None:
    for path in ("/account/privacy", "/account/privacy/export", "/account/delete"):
        response = client.get(path)
        assert response.status_code == 302 and "/account/login" in response.headers["Location"]


# ------------------------------------------------------------------------------ delete


def _delete(client: FlaskClient, password: str, confirm: bool = True) -> TestResponse:
    token = csrf_token(client, "/account/delete")
    data = {"csrf_token": token, "password": password}
    if confirm:
        data["confirm"] = "y"
    return client.post("/account/delete", data=data)


def _personal_values_left(session: Session, values: list[str]) -> list[str]:
    """Every (table, column, value) in the database that still contains one of the values."""
    found = []
    for table in Base.metadata.sorted_tables:
        text_columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
        json_columns = [c for c in table.columns if c.type.__class__.__name__ == "JSON"]
        columns = text_columns + json_columns
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                text = json.dumps(value) if column in json_columns else (value or "")
                for personal in values:
                    if personal.lower() in str(text).lower():
                        found.append(f"{table.name}.{column.name}: {personal}")
    return found


def test_delete_anonymizes_everything_personal(
    app: Flask,
    session: Session,
    items: dict[str, Product],
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_TIMEOUT_S=5)
    fake = FakeGateway()
    app.extensions[EXTENSION] = fake
    zelda = _zelda(session, items)
    bob = _someone_else(session, items)
    membership_id = session.scalar(select(Membership.id).where(Membership.user_id == zelda.id))
    session.add(  # an admin's note, free text the member was shown
        PointsEntry(
            membership_id=membership_id,
            points=50,
            reason="adjust",
            reference="adjust:zelda-late",
            description=f"Sorry {NAME}, your parcel to {LINE1} was late",
        )
    )
    session.commit()
    client = _sign_in(app, session, EMAIL)

    response = _delete(client, factories.PASSWORD)
    assert response.status_code == 302
    assert client.get("/account").status_code == 302  # signed out
    assert fake.detached == ["pm_zelda"]
    assert fake.deleted_customers == ["cus_zelda"]

    session.rollback()
    kinds = session.scalars(select(OutboxEmail.kind).where(OutboxEmail.user_id == zelda.id))
    assert "account_profile_changed" not in set(kinds)  # no "card removed" on deletion
    user = session.get(User, zelda.id)
    assert user is not None and user.deleted_at is not None
    assert user.email == f"deleted-{zelda.id}@deleted.invalid"
    assert (user.name, user.phone, user.password_hash, user.stripe_customer_id) == (
        "",
        "",
        None,
        None,
    )
    assert user.tracking_enabled is False and not user.can_login
    for model in (Address, AccountToken, SavedCard, Cart, FavouriteCategory):
        assert session.scalars(select(model).where(model.user_id == zelda.id)).all() == []
    order = session.scalar(select(Order).where(Order.number == "W-ZELDA-1"))
    assert order is not None and order.user_id == zelda.id and order.total_pence == 590
    assert (order.email, order.ship_name, order.ship_line1, order.ship_postcode, order.phone) == (
        None,
    ) * 5
    assert len(order.lines) == 1  # kept for accounting
    events = session.scalars(select(Event).where(Event.query == "lantern")).all()
    assert [(e.user_id, e.visitor_id == VISITOR) for e in events] == [(None, False)]
    assert (
        session.scalar(select(Membership.status).where(Membership.user_id == zelda.id)) == "closed"
    )
    ledger = session.execute(
        select(PointsEntry.reason, PointsEntry.points, PointsEntry.description)
        .where(PointsEntry.membership_id == membership_id)
        .order_by(PointsEntry.id)
    ).all()
    assert ledger == [("earn", 120, ""), ("adjust", 50, "Note removed: the account was deleted.")]
    pref = session.scalar(
        select(CommunicationPreference).where(CommunicationPreference.user_id == zelda.id)
    )
    assert pref is not None and (pref.status, pref.token_hash) == ("off", None)

    # The e-mail still waiting is not sent; the goodbye is, and is then forgotten too.
    (unsent,) = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "loyalty_weekly"))
    assert (unsent.status, unsent.last_error) == ("withdrawn", "Not sent: the account was deleted.")
    (goodbye,) = session.scalars(select(OutboxEmail).where(OutboxEmail.kind == "account_deleted"))
    assert goodbye.to_address == EMAIL and goodbye.status == "pending"
    session.rollback()
    assert send_pending(app).sent == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == [EMAIL] and NAME in received.message.get_body().get_content()
    session.rollback()
    assert session.get(OutboxEmail, goodbye.id, populate_existing=True).status == "sent"
    left = _personal_values_left(
        session, [NAME, EMAIL, PHONE, LINE1, POSTCODE, VISITOR, "pm_zelda"]
    )
    assert left == [], "\n".join(left)

    # Bob is untouched.
    session.rollback()
    assert session.get(User, bob.id).email == "bob@example.com"  # type: ignore[union-attr]
    assert (
        session.scalar(select(Order.ship_line1).where(Order.number == "W-BOB-1")) == "1 Bob Street"
    )
    changes = [
        e.payload["change"]
        for e in session.scalars(select(DomainEvent).where(DomainEvent.name == "profile_changed"))
    ]
    assert changes == ["deleted"]

    # The account can no longer sign in, and the old address is free again.
    again = app.test_client()
    token = csrf_token(again, "/account/login")
    failed = again.post(
        "/account/login", data={"csrf_token": token, "email": EMAIL, "password": factories.PASSWORD}
    )
    assert failed.status_code == 400
    for address in (EMAIL, user.email):
        again.post("/account/password/reset", data={"csrf_token": token, "email": address})
    session.rollback()
    resets = select(OutboxEmail).where(OutboxEmail.kind == "account_password_reset")
    assert session.scalars(resets).all() == []
    registered = again.post(
        "/account/register",
        data={
            "csrf_token": token,
            "name": "Zelda again",
            "email": EMAIL,
            "password": "kettle mango harbour",
            "confirm": "kettle mango harbour",
        },
    )
    assert registered.status_code == 302


def test_delete_needs_the_password_and_the_tick(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    app.extensions[EXTENSION] = FakeGateway()
    zelda = _zelda(session, items)
    client = _sign_in(app, session, EMAIL)
    wrong = _delete(client, "not my password")
    assert wrong.status_code == 400
    assert "Your current password is not correct." in wrong.get_data(as_text=True)
    unticked = _delete(client, factories.PASSWORD, confirm=False)
    assert unticked.status_code == 400
    assert "Please tick the box to confirm." in unticked.get_data(as_text=True)
    session.rollback()
    user = session.get(User, zelda.id)
    assert user is not None and user.deleted_at is None and user.email == EMAIL
    assert session.scalar(select(SavedCard.id).where(SavedCard.user_id == zelda.id)) is not None
    assert client.get("/account").status_code == 200


def test_delete_stops_when_the_payment_provider_is_down(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    app.extensions[EXTENSION] = FakeGateway(fail=True)
    zelda = _zelda(session, items)
    client = _sign_in(app, session, EMAIL)
    response = _delete(client, factories.PASSWORD)
    assert response.status_code == 503
    assert "payment provider" in response.get_data(as_text=True)
    session.rollback()
    user = session.get(User, zelda.id)
    assert user is not None and user.deleted_at is None and user.name == NAME


def test_delete_stops_when_the_customer_record_cannot_be_removed(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    fake = FakeGateway(fail_customer=True)
    app.extensions[EXTENSION] = fake
    zelda = _zelda(session, items)
    client = _sign_in(app, session, EMAIL)
    response = _delete(client, factories.PASSWORD)
    assert response.status_code == 503
    assert "your account was not deleted" in response.get_data(as_text=True)
    assert fake.detached == ["pm_zelda"] and fake.deleted_customers == []
    session.rollback()
    user = session.get(User, zelda.id)
    assert user is not None and user.deleted_at is None
    assert user.stripe_customer_id == "cus_zelda"  # kept, so a retry deletes it
    fake.fail_customer = False
    assert _delete(client, factories.PASSWORD).status_code == 302
    assert fake.deleted_customers == ["cus_zelda"]


# ------------------------------------------------------------------------ personalization


def _events(session: Session) -> list[Event]:
    session.rollback()
    return list(session.scalars(select(Event).order_by(Event.id)))


def _consents(session: Session) -> list[tuple[int | None, str | None, bool]]:
    session.rollback()
    rows = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.kind == "personalization")
        .order_by(ConsentRecord.id)
    )
    return [(r.user_id, r.visitor_id, r.granted) for r in rows]


def test_a_visitor_switches_personalization_off_and_on(
    client: FlaskClient, session: Session, items: dict[str, Product]
) -> None:
    token = csrf_token(client, "/")
    assert (
        client.post("/account/tracking", data={"csrf_token": token, "next": "/"}).status_code == 302
    )
    client.get(f"/products/{items['heart'].id}")
    client.get("/search?q=lantern")
    token = csrf_token(client, "/")
    client.post(
        "/cart/add", data={"csrf_token": token, "product_id": items["heart"].id, "quantity": 1}
    )
    assert _events(session) == []
    ((user_id, visitor_id, granted),) = _consents(session)
    assert user_id is None and visitor_id and granted is False
    assert personalization_refused(session, None, visitor_id)

    client.post("/account/tracking", data={"csrf_token": token, "enabled": "y"})
    client.get(f"/products/{items['heart'].id}")
    assert [e.kind for e in _events(session)] == ["product_view"]
    assert [c[2] for c in _consents(session)] == [False, True]
    assert not personalization_refused(session, None, visitor_id)


def test_a_member_switches_off_and_nothing_is_stored_for_them(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    ann = factories.user(session, "ann@example.com")
    session.commit()
    client = _sign_in(app, session, "ann@example.com")
    token = csrf_token(client, "/account/privacy")
    client.post("/account/tracking", data={"csrf_token": token, "next": "/account/privacy"})
    before = len(_events(session))
    client.get(f"/products/{items['heart'].id}")
    client.get("/c/bags")
    assert len(_events(session)) == before
    assert _consents(session)[-1][0::2] == (ann.id, False)
    assert personalization_refused(session, ann.id, None)
    page = client.get("/account/privacy").get_data(as_text=True)
    assert "Download my data" in page and "Delete my account" in page

    # Another browser without the cookie: once signed in, the account's choice applies, and
    # what it browsed anonymously before is not attached to the account.
    other = app.test_client()
    other.get(f"/products/{items['jumbo'].id}")
    anonymous = len(_events(session))
    sign_in(other, "ann@example.com", factories.PASSWORD)
    other.get(f"/products/{items['heart'].id}")
    events = _events(session)
    assert len(events) == anonymous
    assert all(e.user_id is None for e in events[before:])

    client.post("/account/tracking", data={"csrf_token": token, "enabled": "y"})
    client.get(f"/products/{items['heart'].id}")
    assert [e.user_id for e in _events(session)][-1] == ann.id
    assert [c[2] for c in _consents(session)] == [False, True]


def test_the_only_admin_cannot_delete_their_account(app: Flask, session: Session) -> None:
    from tests.console_support import client_as

    client = client_as(app, session, "admin")
    response = _delete(client, factories.PASSWORD)
    assert response.status_code == 409
    assert "only admin" in response.get_data(as_text=True)
    session.rollback()
    admin = session.scalar(select(User).where(User.role == "admin"))
    assert admin is not None and admin.deleted_at is None
    factories.staff(session, "admin", "second@example.com")
    session.commit()
    assert _delete(client, factories.PASSWORD).status_code == 302
    # Leaving the console by deleting the account is in the audit log like a revoke.
    session.rollback()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.revoke"))
    assert entry is not None and entry.actor_id == admin.id
    assert (entry.before, entry.after) == ("admin", None)


def test_an_account_without_an_address_is_anonymised_without_a_goodbye(
    app: Flask, session: Session
) -> None:
    imported = User(email=None, name="Imported Customer")
    session.add(imported)
    session.commit()
    anonymize(session, imported)
    session.commit()
    assert imported.deleted_at is not None and imported.name == ""
    assert session.scalars(select(OutboxEmail)).all() == []


def test_deleting_an_account_cancels_its_unpaid_order_and_gives_the_stock_back(
    app: Flask, session: Session
) -> None:
    from shop.cart.services import CartOwner
    from tests.checkout_support import fresh, placed_order, stock

    items = factories.small_catalogue(session)
    ann = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    lantern, ann_id = items["lantern"], ann.id
    before = stock(session, lantern)
    unpaid = placed_order(app, [(lantern, 2)], owner=CartOwner(user_id=ann_id))
    assert stock(session, lantern) == before - 2  # held for the unpaid order
    client = _sign_in(app, session, "ann@example.com")

    assert _delete(client, factories.PASSWORD).status_code == 302
    order = fresh(session, unpaid)
    assert order.status == "cancelled"
    assert "the customer deleted their account" in order.history[-1].staff_note
    assert stock(session, lantern) == before


def test_an_account_with_paid_orders_not_shipped_yet_is_kept_until_they_ship(
    app: Flask, session: Session
) -> None:
    from shop.orders import states

    order = factories.paid_order_with_address(session, "W-WAIT-1", email="wait@example.com")
    session.commit()
    client = _sign_in(app, session, "wait@example.com")
    page = client.get("/account/delete").get_data(as_text=True)  # said before any password
    assert "Your order W-WAIT-1 is paid and not shipped yet" in page
    assert 'name="password"' not in page
    response = _delete(client, factories.PASSWORD)
    assert response.status_code == 409
    assert "Your order W-WAIT-1 is paid and not shipped yet" in response.get_data(as_text=True)
    session.rollback()
    kept = session.get(Order, order.id)
    assert kept is not None and kept.ship_line1 == "1 High Street"
    assert session.get(User, kept.user_id).deleted_at is None  # type: ignore[union-attr]

    states.transition(kept, states.SHIPPED, "Shipped")
    session.commit()
    page = client.get("/account/delete").get_data(as_text=True)
    assert "is paid and not shipped yet" not in page and 'name="password"' in page
    assert _delete(client, factories.PASSWORD).status_code == 302
    session.rollback()
    assert session.get(Order, order.id).ship_line1 is None  # type: ignore[union-attr]


def test_deleting_an_account_forgets_its_withdrawn_e_mails_too(
    app: Flask, session: Session
) -> None:
    from shop.db import db
    from shop.mail.outbox import enqueue_email

    factories.user(session, "wd@example.com", "Wanda Withdrawn")
    session.commit()
    client = _sign_in(app, session, "wd@example.com")
    user = session.scalar(select(User).where(User.email == "wd@example.com"))
    assert user is not None
    with app.app_context():
        row = enqueue_email(
            db.session,
            kind="payment_failed",
            to="wd@example.com",
            subject="Payment",
            template="marketing_subscribed",
            context={"name": "Wanda Withdrawn"},
            user_id=user.id,
        )
        row.status = "withdrawn"
        db.session.flush()
        row_id = row.id
        db.session.commit()
    assert _delete(client, factories.PASSWORD).status_code == 302
    session.rollback()
    kept = session.get(OutboxEmail, row_id)
    assert kept is not None and kept.forgotten_at is not None
    assert kept.to_address != "wd@example.com" and "Wanda" not in kept.text_body


def test_events_still_queued_when_the_account_is_deleted_are_stored_without_it(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    """A page viewed just before "Delete my account" hands its events and impressions to a
    writer that stores them up to half a second later, after the deletion (in this or
    another server process): they must lose the account and the browser's id too."""
    zelda = factories.user(session, EMAIL, NAME)
    session.commit()
    queued_event = {
        "kind": "cart_add",
        "visitor_id": VISITOR,
        "user_id": zelda.id,
        "product_id": items["heart"].id,
        "category_id": None,
        "order_id": None,
        "query": None,
        "result_count": None,
        "quantity": 1,
        "rec_id": None,
        "campaign": None,
        "created_at": datetime(2026, 11, 24, 12, 0),
    }
    queued_impression = {
        "rec_id": "a" * 32,
        "placement": "product",
        "model_version": "v1",
        "strategy": "popular",
        "variant": None,
        "visitor_id": VISITOR,
        "user_id": zelda.id,
        "product_ids": [items["heart"].id],
        "created_at": datetime(2026, 11, 24, 12, 0),
    }
    with app.app_context():
        anonymize(session, zelda)
        session.commit()
        # The writers store at once in tests, as the queued batch is stored after the deletion.
        app.extensions["event_writer"].submit([queued_event])
        app.extensions["impression_writer"].submit([queued_impression])

    session.rollback()
    for model in (Event, Impression):
        (row,) = session.scalars(select(model)).all()
        assert (row.user_id, row.visitor_id == VISITOR) == (None, False), model.__name__
        assert row.visitor_id.startswith("deleted-")
