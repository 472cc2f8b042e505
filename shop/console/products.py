"""Console: the catalogue (list, search, edit, create, CSV)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("products", __name__, url_prefix="/products")
