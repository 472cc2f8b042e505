"""`flask console create-admin` and the demo staff printed by `make run`."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from shop.accounts.models import User
from shop.console.models import AuditEntry
from shop.console.staff import DEMO_STAFF_PASSWORD, create_demo_staff
from shop.db import utcnow
from tests import factories


def test_create_admin_creates_an_account_that_can_sign_in(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "console",
            "create-admin",
            "--email",
            "Boss@Example.com",
            "--password",
            "boss password 2026",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "boss@example.com is an admin" in result.output
    user = session.scalar(select(User).where(User.email == "boss@example.com"))
    assert user is not None and user.role == "admin" and user.can_login
    assert check_password_hash(user.password_hash or "", "boss password 2026")
    entry = session.scalar(select(AuditEntry))
    assert entry is not None and entry.actor_email == "command line"


def test_create_admin_promotes_an_existing_account_without_a_password(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com").email_confirmed_at = utcnow()
    session.commit()
    result = app.test_cli_runner().invoke(
        args=["console", "create-admin", "--email", "ann@example.com"]
    )
    assert result.exit_code == 0, result.output
    session.rollback()
    user = session.scalar(select(User).where(User.email == "ann@example.com"))
    assert user is not None and user.role == "admin"


def test_create_admin_promotes_an_unconfirmed_address_only_when_told_to(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")  # anyone could have registered it
    session.commit()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["console", "create-admin", "--email", "ann@example.com"])
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    session.rollback()
    user = session.scalar(select(User).where(User.email == "ann@example.com"))
    assert user is not None and user.role is None
    told = ["console", "create-admin", "--email", "ann@example.com", "--unconfirmed"]
    assert runner.invoke(args=told).exit_code == 0
    session.rollback()
    assert session.get(User, user.id).role == "admin"  # type: ignore[union-attr]


def test_create_admin_prompts_for_a_password_for_a_new_account(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(
        args=["console", "create-admin", "--email", "new@example.com"],
        input="long password here\nlong password here\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.email == "new@example.com"))
    assert user is not None and check_password_hash(user.password_hash or "", "long password here")


def test_demo_staff_are_created_once(session: Session) -> None:
    first = create_demo_staff(session)
    again = create_demo_staff(session)
    assert first == again
    roles = dict(session.execute(select(User.email, User.role).where(User.role.is_not(None))).all())
    assert roles == {"admin@demo.shop": "admin", "merchandiser@demo.shop": "merchandiser"}
    assert {p for _e, p, _w in first} == {DEMO_STAFF_PASSWORD}
