"""Cart forms (CSRF-protected); quantities are validated again by the cart service."""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from shop.form_fields import ShopForm, WholeNumberField

ADD_QTY_MESSAGE = "Enter a whole number from 1 to 999."
QTY_MESSAGE = f"{ADD_QTY_MESSAGE} To take an item out, use Remove."


class QuantityField(WholeNumberField):
    """A cart quantity: anything but a whole number from 1 to 999 gets one message, once
    (unreadable text stops at its own message, see WholeNumberField)."""

    def __init__(self, label: str = "Quantity", message: str = QTY_MESSAGE, **kwargs: Any) -> None:
        validators = [InputRequired(message), NumberRange(min=1, max=999, message=message)]
        super().__init__(label, validators=validators, **kwargs)
        self.unreadable = message


class AddToCartForm(ShopForm):
    """Add a product to the cart."""

    product_id = HiddenField()
    quantity = QuantityField(default=1, message=ADD_QTY_MESSAGE)  # no Remove on that page


class UpdateLineForm(ShopForm):
    """Change the quantity of a cart line."""

    product_id = HiddenField()
    quantity = QuantityField()


class PromoCodeForm(ShopForm):
    """Enter a discount code (the promotions service checks what it is worth)."""

    code = StringField(
        "Discount code",
        validators=[
            InputRequired("Enter a discount code."),
            Length(max=40, message="That is too long for a discount code."),
        ],
    )


class RemoveLineForm(ShopForm):
    """Remove a cart line."""

    product_id = HiddenField()
