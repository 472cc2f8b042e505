"""`flask events dispatch`: publish stored domain events that are still pending."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from shop.db import db
from shop.events.bus import dispatch_pending, failing

events_cli = AppGroup("events", help="Domain events (order_paid, order_refunded, ...).")


@events_cli.command("dispatch")
@click.option(
    "--limit",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many events.",
)
@click.option(
    "--due-only",
    is_flag=True,
    help="Leave failed events whose retry time has not come (for a schedule: the delay "
    "grows from 10 s to an hour).",
)
def dispatch_command(limit: int, due_only: bool) -> None:
    """Send pending events to their subscribers now, failed ones too unless --due-only;
    list those still failing and exit 1 if there are any."""
    assert db.write_session_factory is not None
    sent = dispatch_pending(db.write_session_factory, limit=limit, due_only=due_only)
    click.echo(f"Dispatched {sent} event(s).")
    stuck = failing(db.write_session_factory)
    for event in stuck:
        click.echo(
            f"Still failing: #{event.id} {event.name} ({event.attempts} tries): {event.last_error}",
            err=True,
        )
    if stuck:
        raise SystemExit(1)
