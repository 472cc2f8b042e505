"""`flask console create-admin` and the demo merchandiser."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from shop.console import audit
from shop.console.staff import StaffError, grant_role
from shop.db import db

console_cli = AppGroup("console", help="Merchandiser console: staff accounts.")


@console_cli.command("create-admin")
@click.option("--email", required=True, help="E-mail; an existing account is promoted.")
@click.option("--password", help="Password for a new account (prompted when omitted).")
@click.option("--name", default="", help="Display name for a new account.")
@with_appcontext
def create_admin_command(email: str, password: str | None, name: str) -> None:
    """Create the first admin, or promote an existing account to admin."""
    try:
        with db.transaction() as session:
            user = grant_role(
                session, audit.CLI_ACTOR, email, "admin", name=name, password=password
            )
            label = user.email
    except StaffError as exc:
        if "give a password" not in str(exc):
            raise click.ClickException(str(exc)) from exc
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        with db.transaction() as session:
            label = grant_role(
                session, audit.CLI_ACTOR, email, "admin", name=name, password=password
            ).email
    click.echo(f"{label} is an admin; sign in and open /console.")
