"""Console: marketing campaigns with sends, clicks, orders and revenue."""

from __future__ import annotations

from flask import Blueprint, render_template

from loyalty.campaigns import PAID_STATUSES, campaign_stats
from shop.console.access import staff_required
from shop.db import db

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


@bp.get("/")
@staff_required
def index() -> str:
    """Every campaign, newest first, with its sends, click-throughs, orders and revenue."""
    return render_template(
        "console/campaigns/index.html",
        campaigns=campaign_stats(db.session),
        paid_statuses=PAID_STATUSES,
    )
