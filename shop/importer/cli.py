"""`flask shop import-online-retail`: load the UCI Online Retail dataset into the database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from shop.db import db
from shop.importer.dataset import DatasetFormatError
from shop.importer.online_retail import DatasetMissingError, import_online_retail

PHASE_LABELS = {
    "read": "Reading the file",
    "categories": "Categories",
    "products": "Products",
    "customers": "Customers",
    "orders": "Orders",
    "lines": "Order lines",
    "events": "Purchase events",
}


class ProgressBars:
    """Show one click progress bar per import phase."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: Any = None
        self.done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self.phase:
            self.close()
            self.phase, self.done = phase, 0
            label = PHASE_LABELS.get(phase, phase).ljust(16)
            self.bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        """Finish the current bar, if any."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def default_dataset_path() -> Path:
    """SHOP_DATA_DIR/online-retail/online_retail.csv.gz."""
    return Path(current_app.config["SHOP_DATA_DIR"]) / "online-retail" / "online_retail.csv.gz"


@click.command(
    "import-online-retail",
    epilog="Dataset: UCI Machine Learning Repository, "
    "https://archive.ics.uci.edu/dataset/352/online+retail",
)
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--no-shift-dates",
    is_flag=True,
    help="Keep the dataset's own dates (2010-12-01 to 2011-12-09) instead of moving them "
    "so that the last invoice falls on today (or yesterday, if its time of day is still "
    "ahead). Only the first import decides the shift.",
)
@with_appcontext
def import_online_retail_command(path: Path | None, no_shift_dates: bool) -> None:
    """Import the UCI Online Retail dataset: products, customers, orders and events.

    PATH is the dataset as .csv.gz or .csv (default:
    SHOP_DATA_DIR/online-retail/online_retail.csv.gz). The import is idempotent: running it
    again adds only what is missing and changes nothing else. Rows that are not goods
    (postage, fees, adjustments) are skipped and counted. Everything is written in one
    transaction.
    """
    path = path or default_dataset_path()
    bars = ProgressBars()
    try:
        with db.transaction() as session:
            summary = import_online_retail(
                session, path, shift_dates=not no_shift_dates, progress=bars
            )
            bars.close()
            click.echo("Committing...", err=True)
    except (DatasetMissingError, DatasetFormatError) as exc:
        bars.close()
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.as_text())
