"""`flask accounts ...`: housekeeping of member accounts from the shell."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup

from shop.accounts import sign_ins
from shop.cli_options import batch_size_option
from shop.db import db

accounts_cli = AppGroup("accounts", help="Member accounts: housekeeping of their sign-ins.")


@accounts_cli.command("prune-sign-ins")
@click.option(
    "--days",
    default=sign_ins.KEEP_ENDED.days,
    show_default=True,
    type=click.IntRange(min=0),
    help="Keep sign-ins that ended within this many days.",
)
@batch_size_option(sign_ins.PRUNE_BATCH_SIZE, "Rows deleted per transaction.")
def prune_sign_ins_command(days: int, batch_size: int) -> None:
    """End sign-ins unused for 30 days, then delete every account's sign-ins that ended
    more than --days ago (run daily).

    A browser in use stays signed in, however long ago it signed in.
    """
    pruned = sign_ins.prune_ended(db.transaction, keep=timedelta(days=days), batch_size=batch_size)
    click.echo(f"Deleted {pruned} sign-in(s) that ended more than {days} day(s) ago.")
