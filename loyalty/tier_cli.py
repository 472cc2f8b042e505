"""`flask loyalty evaluate-tiers`, `expire-points` and `create-default-tiers`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask

from loyalty import expiry, tiers
from loyalty.cli import loyalty_cli, register
from shop.cli_options import batch_size_option
from shop.db import db, utcnow

AT_HELP = (
    "Evaluate as of this UTC time (YYYY-MM-DD or YYYY-MM-DDTHH:MM) instead of now, e.g. to "
    "catch up on a missed run."
)
FUTURE_HELP = "Allow an --at time in the future (for a test copy of the shop)."


def _parse_at(value: str | None, allow_future: bool) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD or YYYY-MM-DDTHH:MM", param_hint="--at") from exc
    if moment.tzinfo is not None:  # the shop keeps naive UTC times
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment > utcnow() and not allow_future:
        # A mistyped year would expire points or move members before their time, and tell
        # them so by e-mail.
        raise click.BadParameter(
            f"{moment:%Y-%m-%d %H:%M} UTC is in the future; members would be e-mailed about "
            "changes that are not due. Add --future to do it anyway (on a test copy).",
            param_hint="--at",
        )
    return moment


@loyalty_cli.command("evaluate-tiers")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--future", is_flag=True, help=FUTURE_HELP)
@batch_size_option(tiers.BATCH_SIZE)
def evaluate_tiers_command(at: str | None, future: bool, batch_size: int) -> None:
    """Re-evaluate every member's tier (run daily).

    Upgrades at once; a member below their tier is downgraded only after the programme's
    grace period (downgrade_grace_days). Every change goes to the tier history and is
    confirmed by e-mail.
    """
    moment = _parse_at(at, future)
    result = tiers.evaluate_tiers(db.transaction, now=moment, batch_size=batch_size)
    click.echo(result.summary())


@loyalty_cli.command("expire-points")
@click.option("--at", "at", default=None, help=AT_HELP)
@click.option("--future", is_flag=True, help=FUTURE_HELP)
def expire_points_command(at: str | None, future: bool) -> None:
    """Expire points past their date and e-mail reminders before points expire (run daily)."""
    result = expiry.expire_points(db.transaction, now=_parse_at(at, future))
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
