"""`flask loyalty evaluate-tiers`, `expire-points` and `create-default-tiers`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask

from loyalty import expiry, tiers
from loyalty.cli import loyalty_cli, register
from shop.db import db

AT_HELP = "Evaluate as of this UTC time (YYYY-MM-DD or YYYY-MM-DDTHH:MM) instead of now."


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from exc
    if moment.tzinfo is not None:  # the shop keeps naive UTC times
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@loyalty_cli.command("evaluate-tiers")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option(
    "--batch-size", default=tiers.BATCH_SIZE, show_default=True, type=click.IntRange(1, 100_000)
)
def evaluate_tiers_command(at: str | None, batch_size: int) -> None:
    """Re-evaluate every member's tier (run daily).

    Upgrades at once; a member below their tier is downgraded only after the programme's
    grace period (downgrade_grace_days). Every change goes to the tier history and is
    confirmed by e-mail.
    """
    result = tiers.evaluate_tiers(db.transaction, now=_parse_at(at), batch_size=batch_size)
    click.echo(result.summary())


@loyalty_cli.command("expire-points")
@click.option("--at", "at", default=None, help=AT_HELP)
def expire_points_command(at: str | None) -> None:
    """Expire points past their date and e-mail reminders before points expire (run daily)."""
    result = expiry.expire_points(db.transaction, now=_parse_at(at))
    click.echo(result.summary())


@loyalty_cli.command("create-default-tiers")
def create_default_tiers_command() -> None:
    """Create the four default tiers, calibrated to the customers' 12-month spend.

    Does nothing when tiers exist already.
    """
    with db.transaction() as session:
        existed = bool(tiers.all_tiers(session))
        rows = tiers.ensure_default_tiers(session)
        for tier in rows:
            click.echo(f"{tier.rank}. {tier.name}: threshold {tier.threshold}")
    click.echo("Tiers existed already; nothing changed." if existed else "Default tiers created.")


def init_app(app: Flask) -> None:
    """Add the commands to `flask loyalty`."""
    register(app)
