"""`flask privacy prune`: remove personal data kept longer than its retention period."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from shop import retention
from shop.cli_options import batch_size_option
from shop.db import db

privacy_cli = AppGroup("privacy", help="Storage limitation: data kept no longer than needed.")


@privacy_cli.command("prune")
@batch_size_option(retention.BATCH_SIZE, "Rows changed per transaction.")
def prune_command(batch_size: int) -> None:
    """Delete or blank what is older than its retention period (SHOP_RETAIN_*_DAYS; run
    daily). Running it again removes nothing more."""
    periods = retention.Retention.from_config(current_app.config)
    report = retention.prune(db.transaction, periods, batch_size=batch_size)
    for line in report.lines():
        click.echo(line)
