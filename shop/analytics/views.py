"""Console: offline and online recommendation quality."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from shop.analytics.offline import UnknownVersionError, metric_labels, offline_page
from shop.analytics.online import MetricsInputError, online_report, parse_period, parse_placement
from shop.db import db, utcnow
from shop.personalization import service

bp = Blueprint("metrics", __name__, url_prefix="/metrics")

ID_LIMIT = 100  # longer "version ids" are cut before they reach a message


def _arg(name: str) -> str:
    return request.args.get(name, "").strip()[:ID_LIMIT]


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"metric_labels": metric_labels}


@bp.get("/offline")
def offline() -> tuple[str, int]:
    """Each model version's evaluation against the baselines; compare two versions."""
    selected, a, b = _arg("version"), _arg("a"), _arg("b")
    if bool(a) != bool(b):
        message = "Pick two versions to compare: A and B."
        return render_template("console/metrics/offline.html", page=None, error=message), 400
    try:
        page = offline_page(service().store, selected or None, (a, b) if a and b else None)
    except UnknownVersionError as exc:
        return render_template("console/metrics/offline.html", page=None, error=str(exc)), 404
    return render_template("console/metrics/offline.html", page=page, a=a, b=b, error=None), 200


@bp.get("/online")
def online() -> tuple[str, int]:
    """Impressions, CTR, add-to-cart, conversion and revenue per placement and day."""
    placements = sorted(service().placements)
    form = {name: _arg(name) for name in ("start", "end", "placement")}
    try:
        period = parse_period(form["start"], form["end"], today=utcnow().date())
        placement = parse_placement(form["placement"], placements)
    except MetricsInputError as exc:
        return render_template(
            "console/metrics/online.html",
            report=None,
            form=form,
            placements=placements,
            error=str(exc),
        ), 400
    report = online_report(db.session, period, placement)
    return render_template(
        "console/metrics/online.html",
        report=report,
        form={"start": period.start, "end": period.end, "placement": placement or ""},
        placements=placements,
        currency=current_app.config.get("CURRENCY", "GBP"),
        error=None,
    ), 200
