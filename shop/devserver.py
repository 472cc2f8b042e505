"""`make run`: migrate, load the demo shop on first run, print the demo logins, start
localstripe, the mail catcher and the background worker, and serve.

Each step is idempotent, so a second run reuses what the first one built.
"""

from __future__ import annotations

import os
import signal
import sys

import click
from flask import Flask
from sqlalchemy import select

from loyalty.tiers import ensure_default_tiers
from shop import create_app, migrate, personalization
from shop.access_log import RedactingRequestHandler
from shop.accounts.services import create_demo_accounts
from shop.config import load_config
from shop.console.staff import create_demo_staff
from shop.db import db
from shop.devservices import background_worker, local_stripe, mail_catcher
from shop.importer.models import ImportRun
from shop.importer.online_retail import DatasetMissingError
from shop.promotions.demo import create_demo_code

HOST = os.environ.get("SHOP_HOST", "127.0.0.1")
PORT = int(os.environ.get("SHOP_PORT", "5000"))


def _import_if_needed(app: Flask) -> None:
    with app.app_context():
        done = db.session.scalar(
            select(ImportRun.id).where(
                ImportRun.source == "online_retail", ImportRun.finished_at.is_not(None)
            )
        )
    if done:
        click.echo("Demo shop already loaded; skipping the import.")
        return
    click.echo("Loading the demo shop from the UCI Online Retail dataset (first run only)...")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["shop", "import-online-retail"], catch_exceptions=False)
    click.echo(result.output)
    if result.exit_code != 0:
        raise DatasetMissingError("the import stopped (see the message above)")


def _train_if_needed(app: Flask) -> None:
    with app.app_context():
        store = personalization.service().store
        problem = store.pointer_error()
        if problem is None and store.active() is not None:
            click.echo("Recommender already trained; using the active model version.")
            return
        if problem is not None:
            click.secho(f"{problem}; training a new version to replace it.", fg="yellow")
    click.echo("Training the recommender (first run only)...")
    result = app.test_cli_runner().invoke(args=["recommender", "train"], catch_exceptions=False)
    click.echo(result.output)
    if result.exit_code != 0:
        click.secho("Serving best sellers until a model is trained.", fg="yellow", err=True)


def main() -> int:
    """Prepare the database and demo data, start the dev services, then serve."""
    # Stop like Ctrl+C on SIGTERM too, so localstripe and the catcher are shut down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with local_stripe(load_config().INSTANCE_PATH) as stripe_url:
        app = create_app()
        click.echo(f"Database: {app.config['DATABASE_URL']}")
        migrate.upgrade(app.config["DATABASE_URL"])
        try:
            _import_if_needed(app)
        except DatasetMissingError as exc:
            click.secho(f"The demo data could not be loaded: {exc}", fg="red", err=True)
            click.secho("Serving an empty shop.", fg="yellow", err=True)
        _train_if_needed(app)
        with app.app_context(), db.transaction() as session:
            accounts = create_demo_accounts(session)
            staff = create_demo_staff(session)
            ensure_default_tiers(session)
            demo_code = create_demo_code(session)
        click.echo("\nDemo logins (e-mail / password):")
        for account in accounts:
            click.echo(f"  {account.email:<24} {account.password:<20} {account.description}")
        for email, password, what in staff:
            click.echo(f"  {email:<24} {password:<20} {what}, at http://{HOST}:{PORT}/console")
        click.echo(f"Discount code {demo_code}")
        with mail_catcher(app) as mail_dir, background_worker(app):
            if stripe_url:
                click.echo(
                    f"\nPayments: localstripe on {stripe_url}; pay with 4242 4242 4242 4242."
                )
            if mail_dir:
                click.echo(f"E-mail: caught on port {app.config['SMTP_PORT']}, saved in {mail_dir}")
            click.secho(
                f"\nServing the shop on http://{HOST}:{PORT}  (Ctrl+C to stop)\n", fg="green"
            )
            app.run(
                host=HOST,
                port=PORT,
                threaded=True,
                use_reloader=False,
                request_handler=RedactingRequestHandler,  # no working secret link in the log
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
