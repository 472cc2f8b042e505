"""Console: customer analytics (RFM segments, lifetime value, retention, shopping funnel)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user
from werkzeug import Response

from shop.analytics import customers
from shop.analytics.customer_profile import customer_profile
from shop.analytics.customers import CustomerAnalyticsError
from shop.analytics.online import MetricsInputError, parse_period
from shop.analytics.shopping_funnel import shopping_funnel
from shop.console import audit
from shop.db import db, utcnow
from shop.pagination import PageError, parse_page

bp = Blueprint("customers", __name__, url_prefix="/customers")


def _error(exc: CustomerAnalyticsError | PageError) -> tuple[str, int]:
    return render_template("errors/error.html", status=exc.status, message=str(exc)), exc.status


@bp.context_processor
def _currency() -> dict[str, object]:
    return {"currency": current_app.config.get("CURRENCY", "GBP")}


@bp.get("/")
def index() -> str:
    """Customer value so far and the RFM segments."""
    page = customers.overview(db.session, utcnow().date())
    return render_template("console/customers/index.html", page=page)


@bp.get("/account/<int:user_id>")
def customer(user_id: int) -> str | tuple[str, int]:
    """One customer: value and segment, orders, loyalty, marketing consent and activity."""
    try:
        profile = customer_profile(db.session, user_id, utcnow())
    except CustomerAnalyticsError as exc:
        return _error(exc)
    return render_template("console/customers/customer.html", profile=profile)


@bp.get("/segments/<slug>")
def segment(slug: str) -> str | tuple[str, int]:
    """One RFM segment's customers, best spenders first."""
    try:
        found = customers.segment_page(
            db.session, slug, utcnow().date(), parse_page(request.args.get("page"))
        )
    except (CustomerAnalyticsError, PageError) as exc:
        return _error(exc)
    return render_template("console/customers/segment.html", found=found)


@bp.get("/segments/<slug>.csv")
def segment_csv(slug: str) -> Response | tuple[str, int]:
    """Download one segment's customers as CSV; the download is in the audit log."""
    today = utcnow().date()
    try:
        body = customers.segment_csv(
            db.session, db.transaction, audit.Actor.of(current_user), slug, today
        )
    except CustomerAnalyticsError as exc:
        return _error(exc)
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="customers-{slug}-{today}.csv"'},
    )


@bp.get("/cohorts")
def cohorts() -> str | tuple[str, int]:
    """Retention and value per customer by month of first order."""
    try:
        months = customers.parse_months(request.args.get("months"))
    except CustomerAnalyticsError as exc:
        return render_template(
            "console/customers/cohorts.html", report=None, error=str(exc)
        ), exc.status
    report = customers.cohort_report(db.session, utcnow().date(), months)
    return render_template("console/customers/cohorts.html", report=report, error=None)


@bp.get("/funnel")
def funnel() -> str | tuple[str, int]:
    """How far the period's visitors got: visit, product, cart, order, payment."""
    form = {name: request.args.get(name, "").strip()[:20] for name in ("start", "end")}
    try:
        period = parse_period(form["start"], form["end"], today=utcnow().date())
    except MetricsInputError as exc:
        return render_template(
            "console/customers/funnel.html", funnel=None, form=form, error=str(exc)
        ), 400
    found = shopping_funnel(db.session, period)
    form = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    return render_template("console/customers/funnel.html", funnel=found, form=form, error=None)
