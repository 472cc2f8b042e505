"""Cart forms (CSRF-protected); quantities are validated again by the cart service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange

QTY_MESSAGE = "Enter a whole number from 1 to 999. To take an item out, use Remove."


class AddToCartForm(FlaskForm):
    """Add a product to the cart."""

    product_id = HiddenField()
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[InputRequired(QTY_MESSAGE), NumberRange(min=1, max=999, message=QTY_MESSAGE)],
    )


class UpdateLineForm(FlaskForm):
    """Change the quantity of a cart line."""

    product_id = HiddenField()
    quantity = IntegerField(
        "Quantity",
        validators=[InputRequired(QTY_MESSAGE), NumberRange(min=1, max=999, message=QTY_MESSAGE)],
    )


class RemoveLineForm(FlaskForm):
    """Remove a cart line."""

    product_id = HiddenField()
