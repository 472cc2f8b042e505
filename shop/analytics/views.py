"""Console: offline and online recommendation quality."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("metrics", __name__, url_prefix="/metrics")
