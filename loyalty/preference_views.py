"""Communication preferences, double opt-in, one-click unsubscribe and favourite categories."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("preferences", __name__)


def init_app(app: Flask) -> None:
    """Register the preference pages."""
    app.register_blueprint(bp)
