"""Checkout forms: contact and address, shipping method, and the place-order button."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from shop.form_fields import (
    POSTCODE_SHAPE,
    ShopForm,
    country_field,
    email_field,
    phone_field,
    postcode_for_country,
    strip,
    upper,
)


class DetailsForm(ShopForm):
    """Step 1: who the order is for and where it goes."""

    # A saved address id, or "new"; the radio buttons are rendered from the address book.
    address_id = StringField("Ship to", default="new", validators=[Length(max=20)])
    email = email_field()
    name = StringField("Full name", filters=[strip], validators=[Optional(), Length(max=120)])
    line1 = StringField("Address", filters=[strip], validators=[Optional(), Length(max=200)])
    line2 = StringField(
        "Address line 2 (optional)", filters=[strip], validators=[Optional(), Length(max=200)]
    )
    city = StringField("Town or city", filters=[strip], validators=[Optional(), Length(max=100)])
    postcode = StringField(
        "Postcode",
        filters=[strip, upper],
        validators=[
            Optional(),
            Regexp(POSTCODE_SHAPE, message="Please check the postcode."),
            postcode_for_country,
        ],
    )
    country = country_field()
    phone = phone_field("Phone (optional, for the courier)")
    save_address = BooleanField("Save this address to my account")

    def picks_saved_address(self) -> bool:
        """True when the shopper picked a saved address rather than a new one."""
        return (self.address_id.data or "new") != "new"

    def saved_address_gone(self, *, signed_in: bool) -> None:
        """Say that the picked saved address is not in the address book (any more)."""
        if signed_in:
            message = (
                "The saved address you picked is no longer in your address book (it may have "
                "been deleted in another window). Choose another address or enter a new one."
            )
        else:
            message = "Sign in to ship to a saved address, or enter the address below."
        self.address_id.errors = [*self.address_id.errors, message]
        self.address_id.data = "new"

    def refuse_both_addresses(self) -> bool:
        """A saved address picked while a new one was typed too: say so rather than drop
        what was typed (True when refused)."""
        if not any(field.data for field in (self.line1, self.city, self.postcode)):
            return False
        self.address_id.errors = [
            *self.address_id.errors,
            "You picked a saved address and also typed a new one. Choose “A new address” to "
            "ship to what you typed, or clear those fields to use the saved address.",
        ]
        return True

    def validate_new_address(self) -> bool:
        """When no saved address is picked, every address field is required."""
        ok = True
        for field, message in (
            (self.name, "Please enter the recipient's name."),
            (self.line1, "Please enter the street address."),
            (self.city, "Please enter the town or city."),
            (self.postcode, "Please enter the postcode."),
        ):
            if not field.data:
                field.errors = [*field.errors, message]
                ok = False
        return ok


class ShippingForm(ShopForm):
    """Step 2: the shipping method."""

    method = RadioField(
        "Delivery",
        choices=["standard", "express"],
        validators=[InputRequired("Please choose a delivery option.")],
        default="standard",
    )


class PlaceOrderForm(ShopForm):
    """Step 3: confirm the order; the token makes a double submit place one order."""

    token = HiddenField(validators=[InputRequired(), Length(min=16, max=64)])
    # The total the review page showed: an order that would cost something else (the cart
    # changed in another tab) goes back to the review instead of being placed.
    total = HiddenField(validators=[Length(max=20)])
    # A digest of everything the review page showed (lines, delivery, discounts, total):
    # an order that differs in any of it, even at the same total, goes back to the review.
    fingerprint = HiddenField(validators=[Length(max=64)])


MAX_POINTS_INPUT = 10_000_000


class RedeemPointsForm(ShopForm):
    """Review step: how many loyalty points to use (0 or empty: none)."""

    points = StringField("Use points", filters=[strip], validators=[Length(max=20)])

    @property
    def amount(self) -> int:
        """The validated number of points (call after `validate_on_submit`)."""
        return int(self.points.data or 0)

    def validate_points(self, field: StringField) -> None:
        """A whole number of points, 0 or more."""
        raw = (field.data or "").replace(",", "")
        if not raw:
            field.data = "0"
            return
        if raw.startswith("-"):
            raise ValidationError("Enter a number of points of 0 or more.")
        if not (raw.isascii() and raw.isdigit()):
            if raw.isascii() and raw.replace(".", "", 1).isdigit():
                raise ValidationError("Points are whole numbers: leave out the decimals.")
            raise ValidationError("Enter a whole number of points, such as 500.")
        if int(raw) > MAX_POINTS_INPUT:
            raise ValidationError("That is more points than anyone has.")
        field.data = str(int(raw))
