"""The `flask loyalty` command group; the commands live with their areas."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

loyalty_cli = AppGroup("loyalty", help="Loyalty programme: tiers, points and campaigns.")


def register(app: Flask) -> None:
    """Add the group to the app's CLI once (several modules add commands to it)."""
    if "loyalty" not in app.cli.commands:
        app.cli.add_command(loyalty_cli)
