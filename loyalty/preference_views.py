"""Communication preferences, double opt-in, one-click unsubscribe and favourite categories;
and remembering which campaign e-mail a visit came from (?cmp=)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug import Response
from wtforms import BooleanField, HiddenField, SelectMultipleField
from wtforms.validators import AnyOf
from wtforms.widgets import CheckboxInput, ListWidget

from loyalty import campaigns
from loyalty import preferences as prefs
from loyalty.membership import find_membership
from shop.db import db
from shop.extensions import csrf
from shop.form_fields import ShopForm

bp = Blueprint("preferences", __name__)

CAMPAIGN_SESSION_KEY = "campaign"


class TopicsForm(ShopForm):
    """Tick the marketing e-mails you want (each needs confirming by e-mail)."""

    weekly_deals = BooleanField(prefs.TOPIC_LABELS["weekly_deals"])
    recommendations = BooleanField(prefs.TOPIC_LABELS["recommendations"])
    tier_news = BooleanField(prefs.TOPIC_LABELS["tier_news"])

    def chosen(self) -> list[str]:
        """The ticked topics."""
        return [topic for topic in prefs.MARKETING_TOPICS if self[topic].data]


class ResendForm(ShopForm):
    """The button that sends a pending topic's confirmation link again."""

    topic = HiddenField(validators=[AnyOf(prefs.MARKETING_TOPICS)])


class ConfirmForm(ShopForm):
    """The button that confirms a marketing opt-in."""


class FavouritesForm(ShopForm):
    """Tick your favourite categories."""

    categories = SelectMultipleField(
        "Favourite categories",
        coerce=int,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )


def _links() -> prefs.MailLinks:
    return prefs.links_from_config(current_app.config)


def _user_id() -> int:
    return int(current_user.get_id())


def _page(topics: TopicsForm, favourites: FavouritesForm, status: int = 200) -> tuple[str, int]:
    states = prefs.preferences(db.session, _user_id())
    return render_template(
        "loyalty/preferences.html",
        topics_form=topics,
        favourites_form=favourites,
        states=states,
        transactional=prefs.TRANSACTIONAL,
        members_only=prefs.MEMBERS_ONLY_TOPICS,
        is_member=find_membership(db.session, _user_id()) is not None,
    ), status


def _current_topics() -> TopicsForm:
    states = prefs.preferences(db.session, _user_id())
    return TopicsForm(formdata=None, **{s.topic: s.status in ("on", "pending") for s in states})


def _favourites_form(**kwargs: object) -> FavouritesForm:
    form = FavouritesForm(**kwargs)
    form.categories.choices = [(c.id, c.name) for c in prefs.categories(db.session)]
    return form


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def index() -> Response | tuple[str, int]:
    """The member's e-mail topics (double opt-in) and favourite categories."""
    user_id = _user_id()
    form = TopicsForm()
    if form.validate_on_submit():
        try:
            changes = prefs.update_preferences(
                db.session, current_user._get_current_object(), form.chosen(), _links()
            )
        except prefs.PreferenceError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
            return _page(form, _favourites_form(), 400)
        db.session.commit()
        for topic in changes.requested:
            flash(
                f"Nearly done: we've sent you an e-mail to confirm "
                f"{prefs.TOPIC_LABELS[topic].lower()}. Nothing is sent until you confirm.",
                "success",
            )
        for topic in changes.stopped:
            flash(f"You will no longer get {prefs.TOPIC_LABELS[topic].lower()}.", "success")
        if not changes.requested and not changes.stopped:
            flash("Your e-mail choices are unchanged.", "info")
        return redirect(url_for("preferences.index"))
    if form.is_submitted():
        return _page(form, _favourites_form(), 400)
    favourites = _favourites_form(
        formdata=None, categories=sorted(prefs.favourite_ids(db.session, user_id))
    )
    return _page(_current_topics(), favourites)


@bp.post("/account/preferences/resend")
@login_required
def resend() -> Response:
    """Send the confirmation link of a topic waiting for it again (the e-mail went astray)."""
    form = ResendForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; please try again.")
    topic = form.topic.data
    label = prefs.TOPIC_LABELS[topic].lower()
    try:
        sent = prefs.resend_opt_in(db.session, current_user._get_current_object(), topic, _links())
    except prefs.PreferenceError as exc:
        db.session.rollback()
        flash(str(exc), "info")
        return redirect(url_for("preferences.index"))
    db.session.commit()
    if sent:
        flash(
            f"We've sent a new link to confirm {label}; the one we sent before no longer works.",
            "success",
        )
    else:
        flash(f"{prefs.TOPIC_LABELS[topic]} is not waiting for confirmation.", "info")
    return redirect(url_for("preferences.index"))


@bp.post("/account/preferences/favourites")
@login_required
def favourites() -> Response | tuple[str, int]:
    """Save the member's favourite categories."""
    form = _favourites_form()
    if form.validate_on_submit():
        try:
            prefs.set_favourites(
                db.session,
                current_user._get_current_object(),
                form.categories.data or [],
                _links().base_url,
            )
        except prefs.PreferenceError as exc:
            db.session.rollback()
            form.categories.errors = [str(exc)]
        else:
            db.session.commit()
            flash("Your favourite categories are saved.", "success")
            return redirect(url_for("preferences.index"))
    if form.categories.errors:  # WTForms says "'x' is not a valid choice"; say it plainly
        form.categories.errors = ["Please choose categories from the list."]
    return _page(_current_topics(), form, 400)


@bp.route("/preferences/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> tuple[str, int]:
    """The opt-in link: GET asks (mail scanners that open links confirm nothing), POST
    turns the topic on. A used or unknown link changes nothing."""
    try:
        if request.method == "GET":
            topic = prefs.pending_opt_in(db.session, token).topic
            return render_template(
                "loyalty/preferences_link.html",
                state="ask",
                topic_label=prefs.TOPIC_LABELS[topic],
                form=ConfirmForm(),
            ), 200
        if not ConfirmForm().validate_on_submit():
            raise prefs.LinkError("This form has expired. Please open the link again.", 400)
        topic = prefs.confirm_opt_in(db.session, token, _links())
        db.session.commit()
    except prefs.LinkError as exc:
        db.session.rollback()
        return render_template(
            "loyalty/preferences_link.html", state="invalid", message=str(exc)
        ), exc.status
    return render_template(
        "loyalty/preferences_link.html", state="done", topic_label=prefs.TOPIC_LABELS[topic]
    ), 200


@csrf.exempt
@bp.route("/preferences/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> tuple[str, int]:
    """One-click unsubscribe: GET asks to confirm, POST (also RFC 8058's) switches it off."""
    secret = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        topic = prefs.unsubscribe_topic(secret, token)
        state = "confirm"
    else:
        topic = prefs.unsubscribe(db.session, secret, token)
        db.session.commit()
        state = "done"
    if topic is None:
        return render_template("loyalty/preferences_unsubscribe.html", state="invalid"), 400
    return render_template(
        "loyalty/preferences_unsubscribe.html",
        state=state,
        topic_label=prefs.TOPIC_LABELS[topic],
        token=token,
    ), 200


def remember_campaign() -> None:
    """Keep a known ?cmp= campaign key in the session for the visit; expose it as g.campaign."""
    if request.endpoint == "static":
        return
    raw = request.args.get("cmp")
    if raw is not None and campaigns.valid_key(raw) and campaigns.is_known(db.session, raw):
        session[CAMPAIGN_SESSION_KEY] = raw
    kept = session.get(CAMPAIGN_SESSION_KEY)
    g.campaign = kept if isinstance(kept, str) and campaigns.valid_key(kept) else None


def init_app(app: Flask) -> None:
    """Register the preference pages and the campaign attribution hook."""
    app.register_blueprint(bp)
    app.before_request(remember_campaign)
