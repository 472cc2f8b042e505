"""Member pages under /account/loyalty."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("loyalty", __name__, url_prefix="/account/loyalty")


def init_app(app: Flask) -> None:
    """Register the member pages."""
    app.register_blueprint(bp)
