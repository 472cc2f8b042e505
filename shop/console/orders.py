"""Console: orders (list, detail, ship, cancel, refund) and the mail outbox."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")
