"""A member's Stripe customer record follows their name and e-mail address: the
`profile_changed` subscriber, against a real localstripe server through the stripe SDK."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.accounts import profile, security, tokens
from shop.accounts.models import User
from shop.db import db, utcnow
from shop.events.bus import dispatch_pending
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from shop.payments import cards, customer_sync
from shop.payments.gateway import PaymentGateway
from shop.payments.setup import EXTENSION, gateway
from shop.payments.stripe_gateway import StripeGateway
from tests import factories
from tests.stripe_support import (
    SECRET_KEY,
    config,  # noqa: F401
    localstripe_url,  # noqa: F401
)

BASE = "http://shop.test"
UNDO_RE = re.compile(r"/account/email/undo/([A-Za-z0-9_\-]+)")


class Recording:
    """The app's gateway, with every `update_customer` call written down first."""

    def __init__(self, real: PaymentGateway, before: Any = None) -> None:
        self.real = real
        self.calls: list[tuple[str, str, str]] = []
        self.before = before

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_customer(self, customer: str, *, email: str, name: str) -> None:
        self.calls.append((customer, email, name))
        if self.before is not None:
            self.before(len(self.calls))
        self.real.update_customer(customer, email=email, name=name)


@pytest.fixture
def recording(app: Flask) -> Iterator[Recording]:
    """Record the subscriber's calls to the gateway."""
    real = app.extensions[EXTENSION]
    spy = Recording(real)
    app.extensions[EXTENSION] = spy
    yield spy
    app.extensions[EXTENSION] = real


def _customer_member(app: Flask, session: Session) -> tuple[int, str]:
    """Ann, with a customer record at Stripe made as saving a card makes it."""
    member = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    with app.app_context():
        customer = cards.ensure_customer(db.transaction, gateway(), member.id)
    return member.id, customer


def _at_stripe(localstripe_url: str, customer: str) -> tuple[str, str]:  # noqa: F811
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe_url})  # type: ignore[arg-type]
    found = client.v1.customers.retrieve(customer)
    return str(found.email), str(found.name)


def _events(session: Session) -> list[DomainEvent]:
    session.rollback()
    query = select(DomainEvent).where(DomainEvent.name == "profile_changed")
    return list(session.scalars(query.order_by(DomainEvent.id)))


def _rename(app: Flask, user_id: int, name: str, phone: str = "") -> None:
    with app.app_context(), db.transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert profile.update_details(session, user, name, phone, BASE)


def _change_email(app: Flask, user_id: int, new_email: str) -> None:
    """Ask for the change and open the link sent to the new address."""
    with app.app_context():
        with db.transaction() as session:
            user = session.get(User, user_id)
            assert user is not None
            security.request_email_change(session, user, factories.PASSWORD, new_email, BASE)
            # The link's token is only in the e-mail; issue the same kind of link directly.
            tokens.void_all(session, user_id, tokens.EMAIL_CHANGE)
            token = tokens.issue(session, user_id, tokens.EMAIL_CHANGE, new_email=new_email)
        with db.transaction() as session:
            security.confirm_email_change(session, token, BASE)


def test_a_name_change_updates_the_customer_record(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
    recording: Recording,
) -> None:
    user_id, customer = _customer_member(app, session)
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann")

    _rename(app, user_id, "Ann Smith")

    assert recording.calls == [(customer, "ann@example.com", "Ann Smith")]
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann Smith")
    [event] = _events(session)
    assert event.dispatched_at is not None and event.last_error is None


def test_a_phone_change_alone_does_not_call_stripe(
    app: Flask,
    session: Session,
    recording: Recording,
) -> None:
    user_id, _customer = _customer_member(app, session)
    _rename(app, user_id, "Ann", phone="01234 567890")
    assert recording.calls == []
    [event] = _events(session)
    assert event.payload["fields"] == ["phone"] and event.dispatched_at is not None


def test_a_confirmed_email_change_and_its_undo_link_update_the_customer_record(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
    recording: Recording,
) -> None:
    user_id, customer = _customer_member(app, session)

    _change_email(app, user_id, "ann.new@example.com")
    assert recording.calls == [(customer, "ann.new@example.com", "Ann")]
    assert _at_stripe(localstripe_url, customer) == ("ann.new@example.com", "Ann")

    session.rollback()
    notice = session.scalars(
        select(OutboxEmail).where(OutboxEmail.kind == "account_email_changed")
    ).one()
    assert notice.to_address == "ann@example.com"
    match = UNDO_RE.search(notice.text_body)
    assert match is not None
    with app.app_context(), db.transaction() as tx:
        security.revert_email_change(tx, match.group(1), BASE)

    assert recording.calls[-1] == (customer, "ann@example.com", "Ann")
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann")
    events = _events(session)
    assert [e.payload["change"] for e in events] == ["email", "email_revert"]
    assert all(e.dispatched_at is not None for e in events)


def test_a_member_without_a_customer_record_is_not_sent(
    app: Flask,
    session: Session,
    recording: Recording,
) -> None:
    member = factories.user(session, "bob@example.com", "Bob")
    session.commit()
    _rename(app, member.id, "Robert")
    _change_email(app, member.id, "robert@example.com")
    assert recording.calls == []
    events = _events(session)
    assert len(events) == 2 and all(e.dispatched_at is not None for e in events)


def test_a_deleted_account_is_not_sent(app: Flask, session: Session, recording: Recording) -> None:
    user_id, _customer = _customer_member(app, session)
    # As if deleted while an older event waited (anonymize also clears the customer id).
    session.rollback()
    session.execute(update(User).where(User.id == user_id).values(deleted_at=utcnow()))
    session.commit()
    with app.app_context():
        assert not customer_sync.sync_customer(db.session_factory, gateway, user_id)  # type: ignore[arg-type]
    assert recording.calls == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_stripe_failure_leaves_the_event_pending_and_a_late_retry_sends_current_values(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
) -> None:
    user_id, customer = _customer_member(app, session)
    working = app.extensions[EXTENSION]
    app.extensions[EXTENSION] = StripeGateway(
        secret_key=SECRET_KEY,
        publishable_key="",
        webhook_secret="",
        api_base=f"http://127.0.0.1:{_closed_port()}",
        timeout_s=2,
    )
    _rename(app, user_id, "Ann Smith")  # Stripe cannot be reached

    [first] = _events(session)
    assert first.dispatched_at is None
    assert first.attempts == 1
    assert first.last_error and first.last_error.startswith("GatewayUnavailable")
    assert first.next_attempt_at is not None
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann")
    with app.app_context():
        assert db.write_session_factory is not None
        assert dispatch_pending(db.write_session_factory) == 0  # still waiting out its backoff

    # Stripe is back; a later change goes through at once...
    app.extensions[EXTENSION] = working
    _rename(app, user_id, "Ann Jones")
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann Jones")
    # ...and the older event, retried afterwards, sends what the account says now.
    with app.app_context():
        assert db.write_session_factory is not None
        assert dispatch_pending(db.write_session_factory, due_only=False) == 1
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann Jones")
    assert all(e.dispatched_at is not None for e in _events(session))


def test_a_customer_gone_at_stripe_is_logged_and_the_event_dispatched(
    app: Flask,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_id, customer = _customer_member(app, session)
    with app.app_context():
        gateway().delete_customer(customer)

    _rename(app, user_id, "Ann Smith")

    [event] = _events(session)
    assert event.dispatched_at is not None and event.last_error is None
    assert f"customer record {customer} is gone" in caplog.text
    user = session.get(User, user_id)
    assert user is not None and user.stripe_customer_id == customer  # nothing cleared


def test_a_change_committed_during_the_request_is_sent_too(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
    recording: Recording,
) -> None:
    user_id, customer = _customer_member(app, session)

    def meanwhile(call: int) -> None:
        if call == 1:  # another change commits while the first request is on its way
            with db.transaction() as tx:
                tx.execute(update(User).where(User.id == user_id).values(name="Ann Later"))

    recording.before = meanwhile
    with app.app_context():
        assert customer_sync.sync_customer(db.session_factory, gateway, user_id)  # type: ignore[arg-type]
    assert recording.calls == [
        (customer, "ann@example.com", "Ann"),
        (customer, "ann@example.com", "Ann Later"),
    ]
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann Later")


def test_an_account_that_keeps_changing_raises_so_the_event_is_retried(
    app: Flask, session: Session, recording: Recording
) -> None:
    user_id, _customer = _customer_member(app, session)

    def meanwhile(call: int) -> None:
        with db.transaction() as tx:
            tx.execute(update(User).where(User.id == user_id).values(name=f"Ann {call}"))

    recording.before = meanwhile
    with app.app_context(), pytest.raises(customer_sync.CustomerChangedMeanwhile):
        customer_sync.sync_customer(db.session_factory, gateway, user_id)  # type: ignore[arg-type]
    assert len(recording.calls) == customer_sync.MAX_ROUNDS


def test_a_change_made_while_the_customer_record_is_created_reaches_it(
    app: Flask,
    session: Session,
    localstripe_url: str,  # noqa: F811
    recording: Recording,
) -> None:
    member = factories.user(session, "ann@example.com", "Ann")
    session.commit()
    user_id = member.id
    real_create = recording.real.create_customer

    def create_then_rename(*, email: str, name: str) -> str:
        made = real_create(email=email, name=name)
        _rename(app, user_id, "Ann Smith")  # its event finds no customer id yet
        return made

    recording.create_customer = create_then_rename  # type: ignore[attr-defined]
    with app.app_context():
        customer = cards.ensure_customer(db.transaction, gateway(), user_id)
    assert recording.calls == [(customer, "ann@example.com", "Ann Smith")]
    assert _at_stripe(localstripe_url, customer) == ("ann@example.com", "Ann Smith")
