"""The shopper's return form: how many of each item (fields named qty-<order line id>),
why, and an optional note."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from shop.form_fields import ShopForm, strip
from shop.returns.rules import REASONS

QTY_PREFIX = "qty-"


class ReturnForm(ShopForm):
    """Send items of a dispatched order back."""

    reason = SelectField(
        "Why are you sending them back?",
        choices=[SelectChoice("", "Choose a reason"), *(SelectChoice(*r) for r in REASONS.items())],
        default="",
        validators=[DataRequired(message="Choose why you are sending the items back.")],
    )
    comment = TextAreaField(
        "Anything we should know? (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=500, message="Keep it under 500 characters.")],
    )


def chosen_quantities(
    formdata: Mapping[str, Any], most: Mapping[int, int]
) -> tuple[dict[int, int], dict[int, str]]:
    """The quantities asked back, by order-line id, from the fields of the lines that may
    come back (`most`: how many of each); and an error per line whose field is wrong."""
    chosen: dict[int, int] = {}
    errors: dict[int, str] = {}
    for line_id, limit in most.items():
        text = str(formdata.get(f"{QTY_PREFIX}{line_id}", "") or "0").strip()
        try:
            qty = int(text)
        except ValueError:
            errors[line_id] = "Enter how many, as a whole number."
            continue
        if not 0 <= qty <= limit:
            errors[line_id] = f"Choose between 0 and {limit}."
        elif qty:
            chosen[line_id] = qty
    return chosen, errors
