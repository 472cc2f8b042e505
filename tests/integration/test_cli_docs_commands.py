"""Command-line behaviour the README promises: clear errors for bad input, honest help."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.accounts.sign_ins import IDLE_LIMIT


def _users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0


def test_create_admin_refuses_an_address_that_is_not_one(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(
        args=["console", "create-admin", "--email", "boss", "--password", "long password here"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--email'" in result.output
    assert "not an e-mail address" in result.output
    assert _users(session) == 0


def test_create_admin_refuses_a_password_a_sign_up_would_refuse(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(
        args=["console", "create-admin", "--email", "boss@example.com", "--password", "x"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--password': Use at least 10 characters." in result.output
    assert _users(session) == 0


def test_create_admin_refuses_a_guessable_password(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    common = runner.invoke(
        args=["console", "create-admin", "--email", "boss@example.com", "--password", "1234567890"]
    )
    own_address = runner.invoke(
        args=["console", "create-admin", "--email", "boss@example.com"],
        input="boss@example.com\nboss@example.com\n",
    )
    assert common.exit_code == 2 and "too easy to guess" in common.output
    assert own_address.exit_code == 1 and "too easy to guess" in own_address.output
    assert _users(session) == 0


def test_create_admin_asks_again_for_a_short_prompted_password(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(
        args=["console", "create-admin", "--email", "boss@example.com"],
        input="short\nlong password here\nlong password here\n",
    )
    assert result.exit_code == 0, result.output
    assert "Use at least 10 characters." in result.output
    user = session.scalar(select(User).where(User.email == "boss@example.com"))
    assert user is not None and user.role == "admin"


def test_prune_sign_ins_help_says_idle_sign_ins_are_ended(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["accounts", "prune-sign-ins", "--help"])
    assert result.exit_code == 0
    assert f"End sign-ins unused for {IDLE_LIMIT.days} days" in result.output
    assert "never touched" not in result.output
