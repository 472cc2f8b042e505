"""`flask console create-admin` and the demo merchandiser."""

from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask.cli import AppGroup, with_appcontext

from shop.accounts.passwords import password_problem
from shop.console import audit
from shop.console.staff import StaffError, grant_role
from shop.db import db

console_cli = AppGroup("console", help="Merchandiser console: staff accounts.")


def _checked_email(email: str) -> str:
    """The address as typed (trimmed), if it looks like one, as the console's staff form asks."""
    email = email.strip()
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise click.BadParameter(f"{email!r} is not an e-mail address ({exc}).") from None
    return email


def _checked_password(password: str) -> str:
    """The password, if a sign-up would accept it (the service also checks it against the
    address)."""
    problem = password_problem(password)
    if problem is not None:
        raise click.BadParameter(problem)
    return password


@console_cli.command("create-admin")
@click.option(
    "--email",
    required=True,
    callback=lambda _ctx, _param, value: _checked_email(value),
    help="E-mail; an existing account is promoted.",
)
@click.option(
    "--password",
    callback=lambda _ctx, _param, value: None if value is None else _checked_password(value),
    help="Password for a new account (prompted when omitted).",
)
@click.option("--name", default="", help="Display name for a new account.")
@click.option(
    "--unconfirmed",
    is_flag=True,
    help="Promote an existing account whose e-mail address is not confirmed (anyone could "
    "have registered it).",
)
@with_appcontext
def create_admin_command(email: str, password: str | None, name: str, unconfirmed: bool) -> None:
    """Create the first admin, or promote an existing account with a confirmed address."""
    confirmed_only = not unconfirmed
    try:
        label = _grant_admin(email, name, password, confirmed_only)
    except StaffError as exc:
        if "give a password" not in str(exc):
            raise click.ClickException(str(exc)) from exc
        password = click.prompt(
            "Password",
            hide_input=True,
            confirmation_prompt=True,
            value_proc=_checked_password,
        )
        try:
            label = _grant_admin(email, name, password, confirmed_only)
        except StaffError as again:  # e.g. the password is the address itself
            raise click.ClickException(str(again)) from again
    click.echo(f"{label} is an admin; sign in and open /console.")


def _grant_admin(email: str, name: str, password: str | None, confirmed_only: bool) -> str:
    with db.transaction() as session:
        return grant_role(
            session,
            audit.CLI_ACTOR,
            email,
            "admin",
            name=name,
            password=password,
            confirmed_only=confirmed_only,
        ).email
