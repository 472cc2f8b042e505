"""Cart forms (CSRF-protected); quantities are validated again by the cart service."""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField
from wtforms.validators import InputRequired, NumberRange, StopValidation

from shop.form_fields import ShopForm, WholeNumberField

ADD_QTY_MESSAGE = "Enter a whole number from 1 to 999."
QTY_MESSAGE = f"{ADD_QTY_MESSAGE} To take an item out, use Remove."


class QuantityField(WholeNumberField):
    """A cart quantity: anything but a whole number from 1 to 999 gets one message, once."""

    def __init__(self, label: str = "Quantity", message: str = QTY_MESSAGE, **kwargs: Any) -> None:
        validators = [InputRequired(message), NumberRange(min=1, max=999, message=message)]
        super().__init__(label, validators=validators, **kwargs)
        self.message = message

    def pre_validate(self, form: object) -> None:
        """Text that is not a whole number stops here, so the range adds no second message."""
        if self.process_errors:
            self.errors[:] = [self.message]
            raise StopValidation()


class AddToCartForm(ShopForm):
    """Add a product to the cart."""

    product_id = HiddenField()
    quantity = QuantityField(default=1, message=ADD_QTY_MESSAGE)  # no Remove on that page


class UpdateLineForm(ShopForm):
    """Change the quantity of a cart line."""

    product_id = HiddenField()
    quantity = QuantityField()


class RemoveLineForm(ShopForm):
    """Remove a cart line."""

    product_id = HiddenField()
