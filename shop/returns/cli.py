"""`flask returns lapse`: close the returns whose parcel never arrived (run daily)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.returns.handling import lapse_returns
from shop.returns.rules import LAPSE_DAYS

returns_cli = AppGroup("returns", help="Returns: close those whose parcel never arrived.")


@returns_cli.command("lapse")
@click.option(
    "--days",
    default=LAPSE_DAYS,
    show_default=True,
    type=click.IntRange(min=14),
    help="Close returns asked for this many days ago whose parcel has not arrived.",
)
def lapse_command(days: int) -> None:
    """Close the returns whose parcel has not arrived, and tell each shopper (run daily)."""
    checkout = CheckoutSettings.from_config(current_app.config)
    lapsed = lapse_returns(db.transaction, checkout, days=days)
    click.echo(f"Closed {len(lapsed)} return(s) whose parcel had not arrived after {days} days.")
    for number in lapsed:
        click.echo(f"  {number}")
