"""Console: recommendation settings, rules, draft and publish, preview, model versions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recs", __name__, url_prefix="/recommendations")
