"""The Stripe webhook endpoint and the member's saved-cards page."""

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
from flask_login import current_user, login_required
from werkzeug import Response

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.extensions import csrf
from shop.form_fields import ShopForm
from shop.payments import cards
from shop.payments.gateway import GatewayError
from shop.payments.setup import PaymentsNotConfigured, gateway
from shop.payments.webhooks import handle_webhook

webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
cards_bp = Blueprint("cards", __name__, url_prefix="/account/cards")

MAX_WEBHOOK_BYTES = 256 * 1024


@webhooks_bp.post("/stripe")
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    """Verify a Stripe event over the raw body and apply it once."""
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return jsonify(error="payload too large"), 413
    payload = request.get_data(cache=False)
    signature = request.headers.get("Stripe-Signature", "")
    try:
        result = handle_webhook(
            db.transaction,
            gateway(),
            CheckoutSettings.from_config(current_app.config),
            payload,
            signature,
        )
    except PaymentsNotConfigured as exc:
        return jsonify(error=str(exc)), 503
    if result.status_code != 200:
        return jsonify(error=result.outcome), result.status_code
    return jsonify(received=True, outcome=result.outcome), 200


@cards_bp.get("")
@login_required
def index() -> tuple[str, int]:
    """The member's saved cards."""
    saved = cards.saved_cards(db.session, int(current_user.get_id()))
    return render_template("account/cards.html", cards=saved, form=ShopForm()), 200


@cards_bp.post("/<int:card_id>/remove")
@login_required
def remove(card_id: int) -> Response:
    """Remove a saved card, at Stripe too."""
    if not ShopForm().validate_on_submit():
        abort(400, "The form expired; please try again.")
    db.session.close()
    try:
        removed = cards.remove_card(
            db.transaction,
            gateway(),
            int(current_user.get_id()),
            card_id,
            str(current_app.config["SHOP_BASE_URL"]),
        )
    except (GatewayError, PaymentsNotConfigured):
        flash("We could not reach our payment provider; please try again later.", "error")
        return redirect(url_for("cards.index"))
    if not removed:
        abort(404, "We could not find that card.")
    flash("The card was removed.", "success")
    return redirect(url_for("cards.index"))
