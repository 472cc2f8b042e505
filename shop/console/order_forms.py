"""Forms of the console's order pages: filters, ship, cancel, refund and e-mail retry."""

from __future__ import annotations

from typing import Any

from wtforms import BooleanField, DateField, Field, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from shop.accounts.customer_refs import parse_customer_ref
from shop.console.order_admin import OrderFilters
from shop.db import parse_id
from shop.form_fields import (
    DATE_RANGE_MESSAGE,
    ConfirmedForm,
    ShopForm,
    WholeNumberField,
    date_in_range,
    strip,
)
from shop.money import to_minor
from shop.orders import states
from shop.orders.models import Order
from shop.orders.services import TO_SHIP


class OrderFilterForm(ShopForm):
    """The order list's filters (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices={"": "Any", TO_SHIP: "Waiting to ship (paid or partly refunded)", **states.LABELS},
        default="",
    )
    placed_from = DateField("Placed from", validators=[Optional()])
    placed_to = DateField("Placed to", validators=[Optional()])
    customer = StringField(
        "Customer e-mail, #account id, customer number or order number",
        filters=[strip],
        validators=[Optional(), Length(max=254)],
    )
    priority = BooleanField("Priority support members only")

    def validate_customer(self, field: Field) -> None:
        """An account named with "#" (or "account") needs its id, a whole number."""
        ref = parse_customer_ref(field.data or "")
        if ref.kind == "account" and parse_id(ref.value) is None:
            raise ValidationError(
                f"{ref.value!r} is not an account id: after # comes the account's number "
                "(e.g. #12). Type an order number without the #."
            )

    def validate_placed_from(self, field: Field) -> None:
        """A date a real order could have."""
        if field.data and not date_in_range(field.data):
            raise ValidationError(DATE_RANGE_MESSAGE)

    def validate_placed_to(self, field: Field) -> None:
        """The range must not end before it starts."""
        if field.data and not date_in_range(field.data):
            raise ValidationError(DATE_RANGE_MESSAGE)
        if field.data and self.placed_from.data and field.data < self.placed_from.data:
            raise ValidationError("The end date is before the start date.")

    def filters(self) -> OrderFilters:
        """The validated filters for the order service."""
        return OrderFilters(
            status=self.status.data or None,
            placed_from=self.placed_from.data,
            placed_to=self.placed_to.data,
            customer=self.customer.data or "",
            priority_only=bool(self.priority.data),
        )


class _ActionForm(ShopForm):
    """A form on the order page; its prefix keeps its field names and ids apart."""

    form_prefix = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.form_prefix)
        super().__init__(*args, **kwargs)


class ShipForm(_ActionForm):
    """Mark an order shipped, with an optional carrier and tracking reference."""

    form_prefix = "ship"

    tracking = StringField(
        "Carrier and tracking reference (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=120)],
    )


class DeliverForm(_ActionForm):
    """Mark a shipped order delivered (only the CSRF token)."""

    form_prefix = "deliver"


class CancelForm(_ActionForm, ConfirmedForm):
    """Cancel an unpaid order (after a confirmation page)."""

    form_prefix = "cancel"

    reason = StringField(
        "Reason (optional, for staff only)",
        filters=[strip],
        validators=[Optional(), Length(max=200)],
    )


class RetryForm(ShopForm):
    """Retry a failed e-mail (only the CSRF token)."""


def pounds_amount(_form: ShopForm, field: Field) -> None:
    """An amount in pounds above zero, such as 4.50; sets `field.pence`."""
    text = (field.data or "").replace("£", "").strip()
    digits = text.replace(".", "", 1)
    if not digits or not digits.isascii() or not digits.isdigit() or len(text) > 12:
        raise ValidationError("Enter an amount in pounds, such as 4.50.")
    if "." in text and len(text.split(".")[1]) > 2:
        raise ValidationError("Use at most two decimal places (pence).")
    field.pence = to_minor(text)
    if field.pence <= 0:
        raise ValidationError("The refund amount must be more than zero.")


def pounds_field(label: str) -> StringField:
    """A required amount in pounds above zero (its `pence` set once validated)."""
    return StringField(
        label,
        filters=[strip],
        validators=[
            DataRequired("Enter an amount in pounds, such as 4.50."),
            Length(max=12),
            pounds_amount,
        ],
    )


def _refunded_before(_form: ShopForm, field: Field) -> None:
    text = field.data or ""
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise ValidationError("This form is out of date: open the order again and retry.")


class RefundForm(_ActionForm, ConfirmedForm):
    """Refund an amount in pounds, optionally putting chosen lines back in stock, after a
    confirmation page.

    Build it with `refund_form(order)`: it adds a `restock_<line id>` field per line.
    """

    form_prefix = "refund"

    amount = pounds_field("Amount to refund (£)")
    reason = StringField(
        "Reason (optional, for staff only)",
        filters=[strip],
        validators=[Optional(), Length(max=200)],
    )
    # What had been refunded when the page was opened: a refund booked since then (a
    # second submit of this form, or another merchandiser) refuses this one.
    refunded_before = HiddenField(validators=[_refunded_before])

    def restock_fields(self) -> list[tuple[int, Field]]:
        """(line id, field) for each order line's restock quantity."""
        return [
            (int(name.removeprefix("restock_")), fld)
            for name, fld in self._fields.items()
            if name.startswith("restock_")
        ]

    def restock(self) -> dict[int, int]:
        """Line id -> quantity to put back, for lines with a quantity above zero."""
        return {line_id: int(f.data) for line_id, f in self.restock_fields() if f.data}


def refund_form(order: Order, **kwargs: Any) -> RefundForm:
    """A RefundForm for this order, with a restock quantity field per line (none when the
    order never took its items out of stock)."""

    class OrderRefundForm(RefundForm):
        pass

    for line in order.lines if order.stock_reserved else []:
        left = line.quantity - line.restocked_qty
        setattr(
            OrderRefundForm,
            f"restock_{line.id}",
            WholeNumberField(
                f"Put back {line.sku}",
                default=0,
                validators=[
                    Optional(),
                    NumberRange(min=0, max=max(left, 0), message=f"Between 0 and {left}."),
                ],
            ),
        )
    return OrderRefundForm(**kwargs)
