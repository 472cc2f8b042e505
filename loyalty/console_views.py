"""Console: loyalty tiers and programme settings (admins)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("loyalty", __name__, url_prefix="/loyalty")
