"""The shopper's form for cancelling their own order."""

from __future__ import annotations

from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from shop.form_fields import ShopForm
from shop.orders.customer_cancel import REASONS


class CancelOrderForm(ShopForm):
    """Cancel an order before dispatch, with an optional reason for the shop."""

    reason = SelectField(
        "Why are you cancelling? (optional)",
        choices=[SelectChoice("", "Choose a reason"), *(SelectChoice(*r) for r in REASONS.items())],
        default="",
        validators=[Optional()],
    )
