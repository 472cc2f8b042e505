"""`flask catalog send-stock-alerts`: e-mail shoppers whose products are back in stock."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from shop.catalog import stock_alert_jobs, stock_alerts
from shop.cli_options import batch_size_option
from shop.db import db

catalog_cli = AppGroup("catalog", help="The catalogue: back-in-stock alerts.")


@catalog_cli.command("send-stock-alerts")
@batch_size_option(stock_alerts.BATCH_SIZE, "Shoppers handled per transaction.", most=10_000)
def send_stock_alerts_command(batch_size: int) -> None:
    """Queue one e-mail per shopper (account or confirmed visitor's address) whose products
    are on sale with stock again (run every few minutes); each alert is answered once."""
    base_url = str(current_app.config["SHOP_BASE_URL"])
    report = stock_alert_jobs.send_back_in_stock(db.transaction, base_url, batch_size=batch_size)
    click.echo(report.summary())
