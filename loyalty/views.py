"""Member pages under /account/loyalty: the join page and the member's own page.

Every page reads the signed-in customer's own membership; no URL or parameter names a
member, so nobody can reach anyone else's data.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug import Response

from loyalty import membership, tiers
from loyalty.membership_forms import JoinForm
from loyalty.settings import load_settings
from shop.db import db
from shop.pagination import PageError, parse_page

bp = Blueprint("loyalty", __name__, url_prefix="/account/loyalty")


def _join_page(form: JoinForm, status: int = 200) -> tuple[str, int]:
    settings = load_settings(db.session)
    tier_rows = tiers.all_tiers(db.session)
    return render_template(
        "loyalty/join.html", form=form, settings=settings, tiers=tier_rows
    ), status


@bp.get("")
@login_required
def index() -> str | tuple[str, int]:
    """The member page for members; the join page for everyone else."""
    try:
        points_page = parse_page(request.args.get("points_page"))
        history_page = parse_page(request.args.get("history_page"))
        summary = membership.member_summary(
            db.session,
            int(current_user.get_id()),
            points_page=points_page,
            history_page=history_page,
        )
    except PageError as exc:
        abort(exc.status, str(exc))
    except membership.NotAMember:
        return _join_page(JoinForm())
    return render_template(
        "loyalty/member.html", summary=summary, settings=load_settings(db.session)
    )


@bp.post("/join")
@login_required
def join() -> Response | tuple[str, int]:
    """Join with consent to the terms; members who join again land on their page."""
    if membership.find_membership(db.session, int(current_user.get_id())) is not None:
        return redirect(url_for("loyalty.index"))  # a stale join form: nothing to do
    form = JoinForm()
    if not form.validate_on_submit():
        return _join_page(form, 400)
    try:
        result = membership.join(db.session, int(current_user.get_id()), consent=True)
    except membership.MembershipError as exc:
        db.session.rollback()
        form.consent.errors = [str(exc)]
        return _join_page(form, 400)
    db.session.commit()
    if result.created:
        flash(f"Welcome! Your membership number is {result.membership.number}.", "success")
    return redirect(url_for("loyalty.index"))


def init_app(app: Flask) -> None:
    """Register the member pages."""
    app.register_blueprint(bp)
