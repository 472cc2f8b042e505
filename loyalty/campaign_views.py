"""Console: marketing campaigns with sends, clicks, orders and revenue."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
