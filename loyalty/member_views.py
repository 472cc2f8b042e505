"""Console: find loyalty members, see their points and tiers, adjust points (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug import Response

from loyalty import member_admin, membership
from loyalty.member_forms import AdjustPointsForm, MemberSearchForm
from shop.accounts.models import User
from shop.console import audit
from shop.console.access import admin_required
from shop.db import db
from shop.pagination import Page, PageError, parse_page

bp = Blueprint("members", __name__, url_prefix="/loyalty/members")

PER_PAGE = 50


@bp.get("/")
@admin_required
def index() -> str | tuple[str, int]:
    """Members, newest first, or those matching the search."""
    form = MemberSearchForm(request.args)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    empty: Page[object] = Page([], 0, 1, PER_PAGE)
    if not form.validate():
        return render_template(
            "console/loyalty/members.html", form=form, page=empty, args=args
        ), 400
    try:
        page = parse_page(request.args.get("page"))
        found = member_admin.find_members(
            db.session, form.q.data or "", page=page, per_page=PER_PAGE
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    return render_template("console/loyalty/members.html", form=form, page=found, args=args)


CLOSED = "There is no active membership with that number: it may have been closed."


def _member_page(membership_id: int, form: AdjustPointsForm, status: int = 200) -> tuple[str, int]:
    member = member_admin.active_member(db.session, membership_id)
    if member is None:
        abort(404, CLOSED)
    try:
        summary = membership.member_summary(
            db.session,
            member.user_id,
            points_page=parse_page(request.args.get("points_page")),
            history_page=parse_page(request.args.get("history_page")),
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    user = db.session.get(User, member.user_id)
    return render_template(
        "console/loyalty/member.html", summary=summary, user=user, form=form
    ), status


@bp.get("/<int:membership_id>")
@admin_required
def detail(membership_id: int) -> tuple[str, int]:
    """One member: tier, balance, points and tier history, and the adjustment form."""
    return _member_page(membership_id, AdjustPointsForm.fresh())


@bp.post("/<int:membership_id>/points")
@admin_required
def adjust(membership_id: int) -> Response | tuple[str, int]:
    """Add or take off points by hand; the member is told by e-mail."""
    if member_admin.active_member(db.session, membership_id) is None:
        abort(404, CLOSED)  # closed (the account was deleted) since the page was opened
    form = AdjustPointsForm()
    if not form.validate_on_submit():
        return _member_page(membership_id, form, 400)
    try:
        done = member_admin.adjust_points(
            db.session,
            audit.Actor.of(current_user),
            membership_id,
            form.points.data,
            form.note.data,
            form.key.data,
        )
    except member_admin.MemberAdminError as exc:
        db.session.rollback()
        form.form_errors.append(str(exc))
        return _member_page(membership_id, form, 400)
    db.session.commit()
    if done.repeated:
        flash(
            "This form was sent before, so nothing changed now. To adjust again, use the "
            "form below.",
            "info",
        )
    else:
        told = " The member was told by e-mail." if done.member_told else ""
        flash(
            f"Points adjusted by {done.entry.points:+,}; balance {done.balance:,}.{told}", "success"
        )
    return redirect(url_for("console.members.detail", membership_id=membership_id))
