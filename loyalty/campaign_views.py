"""Console: marketing campaigns with sends, clicks, orders and revenue, and mailings to
one RFM segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug import Response

from loyalty import segment_mailings
from loyalty.campaign_forms import CancelMailingForm, SegmentMailingForm
from loyalty.campaigns import PAID_STATUSES, campaign_stats
from loyalty.preferences import links_from_config
from shop.accounts.models import User
from shop.analytics import rfm
from shop.console import audit
from shop.console.access import staff_required
from shop.db import db, utcnow
from shop.mail.outbox import render_email
from shop.personalization import service
from shop.recommendation_data import Shopper
from shop.wording import counted

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

Preview = tuple[dict[str, Any], str] | None


@bp.get("/")
@staff_required
def index() -> str:
    """Every campaign, newest first, with its sends, click-throughs, orders and revenue."""
    return render_template(
        "console/campaigns/index.html",
        campaigns=campaign_stats(db.session),
        mailings=segment_mailings.recent_mailings(db.session),
        paid_statuses=PAID_STATUSES,
    )


def _live_picks(session: Session, user: User) -> tuple[Sequence[Any], bool]:
    """The customer's segment e-mail picks under the published settings, not logged, and
    whether they are personal (the job sends only those)."""
    recs = service()
    config = recs.live_config(session) if recs.live_config else recs.default_config()
    shopper = Shopper(f"preview-{user.id}", user.id, personalized=user.tracking_enabled)
    shown = recs.preview(session, shopper, config)[segment_mailings.PLACEMENT]
    return shown.items, shown.strategy == "personal"


@bp.route("/segment-mailing", methods=["GET", "POST"])
@staff_required
def segment_mailing() -> Response | tuple[str, int]:
    """Write a note to one segment, preview one customer's copy, and queue it."""
    form = SegmentMailingForm()
    if not form.is_submitted():
        chosen = request.args.get("segment", rfm.SEGMENT_LIST[0].slug)
        if chosen not in rfm.SEGMENTS:
            message = f"There is no segment {chosen[:40]!r}."
            return render_template("errors/error.html", status=404, message=message), 404
        form.segment.data = chosen
        form.form_token.data = segment_mailings.new_form_token()
    today = utcnow().date()
    chosen = form.segment.data if form.segment.data in rfm.SEGMENTS else None
    reach = segment_mailings.audience(db.session, chosen, today) if chosen else None
    if not form.is_submitted():
        return _form_page(form, reach, False, 200)
    if not form.validate() or reach is None:
        return _form_page(form, reach, False, 400)
    if request.form.get("action") != "queue":
        try:  # the time is checked again when it is queued; say now what is wrong with it
            segment_mailings.check_send_after(form.send_at.data, utcnow())
        except segment_mailings.MailingError as exc:
            form.send_at.errors = [*form.send_at.errors, str(exc)]
            return _form_page(form, reach, _preview(reach, form), 400)
        return _form_page(form, reach, _preview(reach, form), 200)
    try:
        queued = segment_mailings.queue_mailing(
            db.session,
            audit.Actor.of(current_user),
            reach.segment.slug,
            form.subject.data,
            form.message.data,
            form.form_token.data or "",
            today,
            reach,
            send_at=form.send_at.data,
        )
    except segment_mailings.MailingError as exc:
        db.session.rollback()
        target = getattr(form, exc.field, None)
        if target is not None and exc.field != "form_token":
            target.errors = [*target.errors, str(exc)]
        else:
            form.form_errors.append(str(exc))
        return _form_page(form, reach, False, 400)
    db.session.commit()
    if queued.created:
        who = counted(queued.mailing.audience, "customer")
        send_after = queued.mailing.send_after
        if send_after is None:
            flash(
                f"Queued “{queued.mailing.subject}” for {who} in {reach.segment.name} "
                f"(campaign {queued.key}). The e-mails go out within a minute.",
                "success",
            )
        else:
            flash(
                f"Scheduled “{queued.mailing.subject}” for {who} in {reach.segment.name} "
                f"(campaign {queued.key}) to go out at {send_after:%d %b %Y %H:%M} UTC.",
                "success",
            )
    else:
        flash(f"That mailing was already queued (campaign {queued.key}).", "info")
    return redirect(url_for(".index"))


@bp.get("/segment-mailings/<int:mailing_id>/cancel")
@staff_required
def confirm_cancel_segment_mailing(mailing_id: int) -> Response | str:
    """Ask before taking a mailing back: what it is and whom it would reach."""
    mailing = segment_mailings.mailing_row(db.session, mailing_id)
    if mailing is None:
        abort(404)
    if not mailing.cancellable:
        flash(f"“{mailing.subject}” cannot be cancelled: it is {mailing.state}.", "info")
        return redirect(url_for(".index"))
    return render_template(
        "console/campaigns/cancel_mailing.html", mailing=mailing, form=CancelMailingForm()
    )


@bp.post("/segment-mailings/<int:mailing_id>/cancel")
@staff_required
def cancel_segment_mailing(mailing_id: int) -> Response:
    """Take back a mailing that has not gone out yet."""
    if not CancelMailingForm().validate():
        abort(400)
    try:
        cancelled = segment_mailings.cancel_mailing(
            db.session, audit.Actor.of(current_user), mailing_id
        )
    except segment_mailings.MailingNotFound:
        db.session.rollback()
        abort(404)
    except segment_mailings.MailingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(
            f"Cancelled “{cancelled.subject}” (campaign {cancelled.key}); nobody gets it.",
            "success",
        )
    return redirect(url_for(".index"))


def _preview(reach: segment_mailings.Audience, form: SegmentMailingForm) -> Preview:
    """The text e-mail the segment's best spender who gets it would get (None: nobody)."""
    links = links_from_config(current_app.config)
    context = segment_mailings.preview_context(
        db.session, reach, form.subject.data, form.message.data, links, _live_picks
    )
    if context is None:
        return None
    return context, render_email(segment_mailings.TEMPLATE, context)[0]


def _form_page(
    form: SegmentMailingForm,
    reach: segment_mailings.Audience | None,
    preview: Preview | Literal[False],
    status: int,
) -> tuple[str, int]:
    """The form; `preview` is False when none was asked for, None when nobody to show."""
    return render_template(
        "console/campaigns/segment_mailing.html",
        form=form,
        reach=reach,
        preview=preview,
        now=utcnow(),
        schedule_days=segment_mailings.SCHEDULE_DAYS,
    ), status
