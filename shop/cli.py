"""Flask CLI commands: `flask db upgrade`, `flask shop ...` and the areas' own groups."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from shop import migrate
from shop.db import db

db_cli = AppGroup("db", help="Database schema commands (Alembic migrations).")
shop_cli = AppGroup("shop", help="Demo shop data: import the Online Retail dataset, demo logins.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Apply the migrations to the configured database."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at revision {revision}.")


@shop_cli.command("create-demo-accounts")
@with_appcontext
def create_demo_accounts_command() -> None:
    """Create the demo logins and discount code (idempotent) and print them."""
    from shop.accounts.services import create_demo_accounts
    from shop.console.staff import create_demo_staff
    from shop.promotions.demo import create_demo_code

    with db.transaction() as session:
        accounts = create_demo_accounts(session)
        staff = create_demo_staff(session)
        demo_code = create_demo_code(session)
    for account in accounts:
        click.echo(f"  {account.email:<24} {account.password:<20} {account.description}")
    for email, password, what in staff:
        click.echo(f"  {email:<24} {password:<20} {what}")
    click.echo(f"Discount code {demo_code}")


def init_app(app: Flask) -> None:
    """Register the command groups."""
    from shop.accounts.cli import accounts_cli
    from shop.catalog.cli import catalog_cli
    from shop.console.cli import console_cli
    from shop.events.cli import events_cli
    from shop.importer.cli import import_online_retail_command
    from shop.mail.cli import mail_cli
    from shop.orders.cli import checkout_cli, orders_cli
    from shop.payments.cli import payments_cli
    from shop.recommender_cli import recommender_cli
    from shop.retention_cli import privacy_cli
    from shop.returns.cli import returns_cli

    shop_cli.add_command(import_online_retail_command)
    app.cli.add_command(db_cli)
    app.cli.add_command(shop_cli)
    for group in (
        accounts_cli,
        catalog_cli,
        console_cli,
        orders_cli,
        checkout_cli,
        returns_cli,
        payments_cli,
        events_cli,
        mail_cli,
        recommender_cli,
        privacy_cli,
    ):
        app.cli.add_command(group)
