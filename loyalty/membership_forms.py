"""The member pages' form: joining with consent to the programme terms."""

from __future__ import annotations

from wtforms import BooleanField
from wtforms.validators import DataRequired

from shop.form_fields import ShopForm


class JoinForm(ShopForm):
    """Join the programme; the terms must be accepted explicitly."""

    consent = BooleanField(
        "I have read and accept the programme terms",
        validators=[DataRequired("Please accept the programme terms to join.")],
    )
