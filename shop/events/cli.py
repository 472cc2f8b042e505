"""`flask events dispatch`: publish stored domain events that are still pending."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from shop.db import db
from shop.events.bus import dispatch_pending

events_cli = AppGroup("events", help="Domain events (order_paid, order_refunded, ...).")


@events_cli.command("dispatch")
@click.option("--limit", default=500, show_default=True, help="At most this many events.")
def dispatch_command(limit: int) -> None:
    """Send pending events to their subscribers (after a subscriber failed, for instance)."""
    assert db.write_session_factory is not None
    sent = dispatch_pending(db.write_session_factory, limit=limit)
    click.echo(f"Dispatched {sent} event(s).")
