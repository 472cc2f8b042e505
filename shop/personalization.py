"""Wires the recommendation service into the Flask app: the model store in instance/, the
event writer's not-yet-written events, and a batch writer for impressions."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask import session as browser_session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.privacy import personalization_refused
from shop.db import WRITE_OPTION, db
from shop.merchandising.live import LiveSettings, experiment_assigner
from shop.recommendation_models import Impression
from shop.recommendations import (
    PLACEMENTS,
    ModelStore,
    RecommendationService,
    Shopper,
    TrainingParams,
    model_directory,
    with_placement,
)
from shop.tracking.recorder import event_writer, hand_over
from shop.tracking.services import forget_deleted_accounts
from shop.tracking.writer import EventWriter
from shop.visitor import staff_signed_in

EXTENSION = "recommendations"
ATTRIBUTION_KEY = "rec_for"
ATTRIBUTION_SIZE = 30
PENDING_IMPRESSIONS = "pending_impressions"


def init_app(app: Flask) -> None:
    """Create the app's recommendation service (models live in instance/models/)."""
    assert db.engine is not None
    impressions = EventWriter(
        db.engine.execution_options(**{WRITE_OPTION: True}),
        table=Impression.__table__,  # type: ignore[arg-type]
        background=app.config.get("TRACKING_BACKGROUND", True),
        after_insert=lambda conn, rows: forget_deleted_accounts(
            conn,
            Impression.__table__,  # type: ignore[arg-type]
            rows,
        ),
    )
    app.extensions["impression_writer"] = impressions
    directory = app.config.get("RECOMMENDER_MODEL_DIR") or model_directory(app.instance_path)

    def pending(shopper: Shopper) -> list[dict[str, Any]]:
        return event_writer(app).unsettled(
            lambda row: (
                row["visitor_id"] == shopper.visitor_id
                or (shopper.user_id is not None and row["user_id"] == shopper.user_id)
            )
        )

    placements = dict(PLACEMENTS)
    for name, changes in (app.config.get("RECOMMENDER_PLACEMENTS") or {}).items():
        if name not in placements:
            raise ValueError(f"RECOMMENDER_PLACEMENTS: unknown placement {name!r}")
        if not isinstance(changes, dict):
            raise ValueError(f"RECOMMENDER_PLACEMENTS: {name!r} needs an object of settings")
        try:
            placements = with_placement(placements, name, **changes)
        except ValueError as exc:
            raise ValueError(f"RECOMMENDER_PLACEMENTS: {exc}") from exc
    check_s = float(app.config.get("RECOMMENDER_MODEL_CHECK_S", 1.0))
    recs = RecommendationService(
        store=ModelStore(directory),
        placements=placements,
        pending_events=pending,
        log_impression=lambda row: log_impression(impressions, row),
        model_check_s=check_s,
        enabled=bool(app.config.get("RECOMMENDATIONS_ENABLED", True)),
    )
    settings = LiveSettings(recs.config_from, check_s)
    recs.live_config = settings
    if app.config.get("EXPERIMENTS_ENABLED", True):
        recs.assign = experiment_assigner(settings)
    app.extensions[EXTENSION] = recs

    @app.after_request
    def _hand_over_impressions(response: Any) -> Any:
        hand_over(impressions, g.pop(PENDING_IMPRESSIONS, None))
        return response


def log_impression(writer: EventWriter, row: dict[str, Any]) -> None:
    """Queue a shown list's impression: after the request when there is one, else now."""
    if has_request_context():
        g.setdefault(PENDING_IMPRESSIONS, []).append(row)
    else:
        writer.submit([row])


def service() -> RecommendationService:
    """The current app's recommendation service."""
    return current_app.extensions[EXTENSION]


def live_training_params(session: Session) -> TrainingParams:
    """The training settings merchandisers published (the tuned defaults until then)."""
    recs = service()
    config = recs.live_config(session) if recs.live_config else recs.default_config()
    return TrainingParams.from_dict(config.training)


def current_shopper() -> Shopper:
    """The visitor (and account) of this request, and whether they allow personalization."""
    user_id = int(current_user.get_id()) if current_user.is_authenticated else None
    opted_out = request.cookies.get(current_app.config["TRACKING_COOKIE"]) == "off" or (
        current_user.is_authenticated and not current_user.tracking_enabled
    )
    return Shopper(
        visitor_id=g.get("visitor_id") or "unknown",
        user_id=user_id,
        personalized=not opted_out,
        recorded=bool(current_app.config.get("TRACKING_ENABLED", True)),
        counted=not (g.get("robot", False) or staff_signed_in()),
    )


def email_shopper(session: Session, order: Any) -> Shopper:
    """The shopper behind an order, for lists rendered into its e-mails."""
    refused = personalization_refused(session, order.user_id, order.visitor_id)
    return Shopper(
        visitor_id=order.visitor_id or f"order-{order.number}",
        user_id=order.user_id,
        personalized=not refused,
        recorded=bool(current_app.config.get("TRACKING_ENABLED", True)),
    )


def remember_click(product_id: int, rec_id: str) -> None:
    """Keep which list a product was clicked from, for the cart add that may follow."""
    clicks = dict(browser_session.get(ATTRIBUTION_KEY) or {})
    clicks.pop(str(product_id), None)
    clicks[str(product_id)] = rec_id
    browser_session[ATTRIBUTION_KEY] = dict(list(clicks.items())[-ATTRIBUTION_SIZE:])


def forget_click(product_id: int) -> None:
    """The product's page was opened some other way than from a list: an add to cart that
    follows is not the list's (nor is a later order of it)."""
    clicks = browser_session.get(ATTRIBUTION_KEY)
    if clicks and str(product_id) in clicks:
        browser_session[ATTRIBUTION_KEY] = {k: v for k, v in clicks.items() if k != str(product_id)}


def clicked_from(product_id: int) -> str | None:
    """The recommendation list this product was last clicked from in this session."""
    return (browser_session.get(ATTRIBUTION_KEY) or {}).get(str(product_id))


def valid_rec_id(raw: str | None) -> str | None:
    """A recommendation id from a link, or None when it is missing or malformed."""
    if raw and len(raw) == 32 and all(c in "0123456789abcdef" for c in raw):
        return raw
    return None


# Lists sent by e-mail: a click counts from any browser (the member opens their mail where
# they like); a list on a page counts only for the visitor or account it was shown to.
EMAILED_PLACEMENTS = frozenset({"order_email", "weekly_email", "picks_email", "segment_email"})


def clicked_rec_id(session: Session, raw: str | None, product_id: int) -> str | None:
    """The recommendation id of a click on `product_id`, when that list really showed it
    to this shopper (a made-up or copied id is not attributed); None otherwise."""
    rec_id = valid_rec_id(raw)
    if rec_id is None:
        return None
    # Shown a moment ago, the impression may not be stored yet: asked first, the writer
    # still holds it or it is in the table.
    writer = current_app.extensions["impression_writer"]
    queued = writer.unsettled(lambda row: row["rec_id"] == rec_id)
    if queued:
        shown = queued[0]
    else:
        found = session.execute(
            select(
                Impression.product_ids,
                Impression.placement,
                Impression.visitor_id,
                Impression.user_id,
            ).where(Impression.rec_id == rec_id)
        ).first()
        shown = found._asdict() if found is not None else None
    if shown is None or product_id not in shown["product_ids"]:
        return None
    if shown["placement"] in EMAILED_PLACEMENTS:
        return rec_id
    me = current_shopper()
    mine = shown["visitor_id"] == me.visitor_id or (
        me.user_id is not None and shown.get("user_id") == me.user_id
    )
    return rec_id if mine else None
