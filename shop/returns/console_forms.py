"""Forms of the console's return page: receive it (refund), or do not accept it."""

from __future__ import annotations

from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length

from shop.console.order_forms import pounds_field
from shop.form_fields import ConfirmedForm, ShopForm, strip


class ReceiveForm(ConfirmedForm):
    """The parcel arrived: refund an amount, with the items back in stock or not (after a
    confirmation page)."""

    amount = pounds_field("Refund (£)")
    restock = BooleanField("Put the items back in stock (leave unticked if they cannot be sold)")


class RejectForm(ShopForm):
    """Do not accept the return; the reason is e-mailed to the customer."""

    reason = TextAreaField(
        "Why not (the customer is told)",
        filters=[strip],
        validators=[
            DataRequired("Say why the return is not accepted; the customer is told."),
            Length(max=300, message="Keep it under 300 characters."),
        ],
    )
