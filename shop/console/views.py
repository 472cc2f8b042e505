"""The console's shell: staff-only access for every /console route, dashboard, audit, staff."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from werkzeug import Response
from werkzeug.exceptions import HTTPException

from shop.console import audit, dashboard, staff
from shop.console.access import admin_required, staff_role
from shop.console.forms import StaffForm
from shop.db import db, utcnow
from shop.pagination import PageError, parse_page
from shop.personalization import service

bp = Blueprint("console", __name__, url_prefix="/console")

# (label, endpoint, admin only); entries whose endpoint is not registered are hidden.
NAV = (
    ("Dashboard", "console.index", False),
    ("Products", "console.products.index", False),
    ("Orders", "console.orders.index", False),
    ("Returns", "console.returns.index", False),
    ("Mail outbox", "console.orders.outbox", False),
    ("Recommendations", "console.recs.index", False),
    ("Rules", "console.recs.rules", False),
    ("Preview", "console.recs.preview", False),
    ("Models", "console.recs.versions", False),
    ("Quality", "console.metrics.offline", False),
    ("Online metrics", "console.metrics.online", False),
    ("A/B tests", "console.experiments.index", False),
    ("Customers", "console.customers.index", False),
    ("Campaigns", "console.campaigns.index", False),
    ("Discount codes", "console.promotions.index", False),
    ("Loyalty tiers", "console.loyalty.tiers", True),
    ("Loyalty members", "console.members.index", True),
    ("Audit log", "console.audit_log", False),
    ("Staff", "console.staff_list", True),
)


def _staff_only() -> None:
    # An app-wide hook: a blueprint's hook would come after the CSRF check (a 400) and never
    # run for a wrong method (a 405), and both would tell someone who may not use a console
    # page that it exists.
    path = request.path
    if not (path == bp.url_prefix or path.startswith(f"{bp.url_prefix}/")):
        return
    role = staff_role()
    if role is None or (role != "admin" and _admin_only_path(path)):
        abort(404)


def _admin_only_path(path: str) -> bool:
    """Whether the path belongs to an admin-only view, whatever the request's method."""
    adapter = current_app.url_map.bind("localhost")
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(path, method=method)
        except HTTPException:
            continue
        return bool(getattr(current_app.view_functions[endpoint], "admin_only", False))
    return False


@bp.record_once
def _guard_every_console_path(state: BlueprintSetupState) -> None:
    # Appended when the storefront registers the console: after the visitor hooks, so the
    # 404 page is the same as any other (cookie and footer), and before CSRFProtect's hook,
    # which the app factory adds later.
    state.app.before_request_funcs.setdefault(None, []).append(_staff_only)


@bp.app_context_processor
def _console_nav() -> dict[str, object]:
    if not request.blueprint or not request.blueprint.startswith("console"):
        return {}
    role = staff_role()
    links = [
        (label, endpoint)
        for label, endpoint, admin_only in NAV
        if endpoint in current_app.view_functions and (role == "admin" or not admin_only)
    ]
    return {"console_nav": links, "console_role": role, "console_area": _area(links)}


def _area(links: list[tuple[str, str]]) -> str | None:
    """The menu entry of the page shown: its own, or else the first of its blueprint (a
    customer's page is under Customers)."""
    endpoint = request.endpoint or ""
    if any(endpoint == target for _label, target in links):
        return endpoint
    blueprint = endpoint.rpartition(".")[0]
    return next((t for _label, t in links if t.rpartition(".")[0] == blueprint), None)


@bp.route("/")
def index() -> str:
    """The console's start page: sales, what needs attention, recommendations."""
    board = dashboard.dashboard(db.session, service().store, utcnow().date())
    return render_template("console/index.html", board=board)


@bp.route("/audit")
def audit_log() -> str | tuple[str, int]:
    """Every console change, newest first, filterable by action and date."""
    action = request.args.get("action", "").strip()[:80] or None
    since_raw = request.args.get("since", "").strip()
    try:
        page = parse_page(request.args.get("page"))
        since = audit.parse_since(since_raw)
        found = audit.audit_page(
            db.session, page=page, action=action, since=since, admin=staff_role() == "admin"
        )
    except PageError as exc:
        return render_template("errors/error.html", status=exc.status, message=str(exc)), exc.status
    except ValueError as exc:  # a bad date: the log's own page, the filters as typed
        return render_template(
            "console/audit.html",
            page=None,
            action=action or "",
            since=since_raw[:40],
            since_error=str(exc),
        ), 400
    return render_template("console/audit.html", page=found, action=action or "", since=since_raw)


@bp.get("/audit/<int:entry_id>.json")
def audit_entry(entry_id: int) -> Response | tuple[Response, int]:
    """One audit entry in full, as JSON (the log page cuts long values)."""
    entry = audit.entry(db.session, entry_id, admin=staff_role() == "admin")
    if entry is None:
        return jsonify(error="There is no such audit entry."), 404
    return jsonify(
        id=entry.id,
        created_at=entry.created_at.isoformat(),
        actor=entry.actor_email,
        action=entry.action,
        target=entry.target,
        before=entry.before,
        after=entry.after,
    )


@bp.route("/staff", methods=["GET", "POST"])
@admin_required
def staff_list() -> Response | tuple[str, int]:
    """Admins see the staff and grant roles."""
    form = StaffForm()
    if form.validate_on_submit():
        try:
            user = staff.grant_role(
                db.session,
                audit.Actor.of(current_user),
                form.email.data,
                form.role.data,
                name=form.name.data or "",
                password=form.password.data or None,
                confirmed_only=True,
            )
        except staff.StaffError as exc:
            db.session.rollback()
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"{user.email} is now {user.role}.", "success")
            return redirect(url_for("console.staff_list"))
    status = 400 if form.is_submitted() else 200
    members = staff.staff_members(db.session)
    return render_template("console/staff.html", form=form, members=members), status


@bp.route("/staff/<int:user_id>/revoke", methods=["POST"])
@admin_required
def staff_revoke(user_id: int) -> Response | tuple[str, int]:
    """Remove an account's console role."""
    try:
        user = staff.revoke_role(db.session, audit.Actor.of(current_user), user_id)
    except staff.StaffError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.staff_list"))
    db.session.commit()
    flash(f"{user.email} no longer has console access.", "success")
    return redirect(url_for("console.staff_list"))
