"""The staff form gives console access only to an account whose address is confirmed:
anyone can register an account with a future colleague's address before the admin adds it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from shop.accounts.models import User
from shop.accounts.services import email_confirmed
from shop.console.models import AuditEntry
from tests import factories
from tests.console_support import client_as, console_token


def _grant(admin: FlaskClient, email: str, role: str) -> TestResponse:
    token = console_token(admin, "/console/staff")
    return admin.post("/console/staff", data={"csrf_token": token, "email": email, "role": role})


def test_an_unconfirmed_account_gets_no_console_role(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    squatter = factories.user(session, "jane@example.com", "Jane")  # registered, never confirmed
    squatter_id = squatter.id
    session.commit()

    response = _grant(admin, "jane@example.com", "merchandiser")

    assert response.status_code == 400
    assert "not confirmed" in response.get_data(as_text=True)
    session.rollback()
    assert session.get(User, squatter_id).role is None  # type: ignore[union-attr]
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.grant")) is None


def test_an_unconfirmed_merchandiser_is_not_made_admin_but_may_lose_access(
    app: Flask, session: Session
) -> None:
    admin = client_as(app, session, "admin")
    merch = factories.staff(session, "merchandiser", "merch@example.com")
    merch.email_confirmed_at = None
    merch_id = merch.id
    session.commit()

    assert _grant(admin, "merch@example.com", "admin").status_code == 400
    session.rollback()
    assert session.get(User, merch_id).role == "merchandiser"  # type: ignore[union-attr]

    token = console_token(admin, "/console/staff")
    response = admin.post(f"/console/staff/{merch_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    session.rollback()
    assert session.get(User, merch_id).role is None  # type: ignore[union-attr]


def test_a_confirmed_account_gets_the_role(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    colleague = factories.user(session, "jane@example.com", "Jane")
    email_confirmed(session, colleague)
    colleague_id = colleague.id
    session.commit()

    assert _grant(admin, "jane@example.com", "merchandiser").status_code == 302
    session.rollback()
    assert session.get(User, colleague_id).role == "merchandiser"  # type: ignore[union-attr]
