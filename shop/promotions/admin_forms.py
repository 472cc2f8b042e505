"""The console's forms for discount codes: new, edit, and the buttons that switch a code
off or on and delete it."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    HiddenField,
    RadioField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional

from shop.console.catalog_admin import to_the_minute
from shop.form_fields import (
    DATE_TIME_FORMATS,
    DATE_TIME_MESSAGE,
    ShopForm,
    WholeNumberField,
    strip,
    within_date_range,
)
from shop.promotions import admin
from shop.promotions.admin import PromoValues
from shop.promotions.models import AMOUNT, PERCENT


def _moment_field(label: str) -> DateTimeLocalField:
    """An optional date and time in UTC, read like a segment mailing's "Send at"."""
    return DateTimeLocalField(
        label,
        format=DATE_TIME_FORMATS,
        validators=[Optional(), within_date_range],
        invalid_value_message=DATE_TIME_MESSAGE,
    )


class PromoForm(ShopForm):
    """A new code: the code itself, what it gives, and the conditions it applies under."""

    code = StringField(
        "Code",
        filters=[strip],
        validators=[InputRequired("Enter a code."), Length(max=100, message=admin.CODE_RULE)],
    )
    description = StringField(
        "Description (internal note, optional)",
        filters=[strip],
        validators=[
            Optional(),
            Length(
                max=admin.DESCRIPTION_MAX, message=f"At most {admin.DESCRIPTION_MAX} characters."
            ),
        ],
    )
    kind = RadioField(
        "What it gives",
        choices=[SelectChoice(kind, label) for kind, label in admin.KINDS.items()],
        validate_choice=False,
        validators=[
            InputRequired("Choose what the code gives."),
            AnyOf(list(admin.KINDS), message="Choose what the code gives."),
        ],
    )
    percent = StringField("Percentage off the goods (%)", filters=[strip])
    amount = StringField("Amount off the goods (£)", filters=[strip])
    min_spend = StringField("Minimum spend on goods (£, optional)", filters=[strip])
    starts_at = _moment_field("Starts (UTC, optional)")
    ends_at = _moment_field("Ends (UTC, optional)")
    max_uses = WholeNumberField(
        "Use limit (optional)",
        validators=[
            Optional(),
            NumberRange(
                min=1,
                max=admin.MAX_USES,
                message=f"Use a whole number from 1 to {admin.MAX_USES:,}, or leave it empty.",
            ),
        ],
    )
    once_per_customer = BooleanField("Once per customer (by account and by e-mail address)")

    def chosen_kind(self) -> str | None:
        """The kind ticked, when it is one."""
        return self.kind.data if self.kind.data in admin.KINDS else None

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields' own checks, then the code's shape (see `codes.CODE_PATTERN`), the
        value the chosen kind needs and the minimum spend, read from pounds or percent."""
        valid = super().validate(extra_validators)
        if "code" in self and not self.code.errors:
            try:
                self.code.data = admin.check_code(self.code.data or "")
            except ValueError as exc:
                self.code.errors = [*self.code.errors, str(exc)]
                valid = False
        kind = self.chosen_kind()
        wanted: tuple[tuple[Field, str, Any], ...] = (
            (self.percent, PERCENT, admin.parse_percent),
            (self.amount, AMOUNT, admin.parse_amount),
        )
        for field, its_kind, parse in wanted:
            field.parsed = None
            if kind != its_kind or field.errors:
                continue
            if not field.data:
                field.errors = [
                    *field.errors,
                    "Enter the percentage off, such as 10."
                    if its_kind == PERCENT
                    else "Enter the amount off in pounds, such as 5.",
                ]
                valid = False
                continue
            try:
                field.parsed = parse(field.data)
            except ValueError as exc:
                field.errors = [*field.errors, str(exc)]
                valid = False
        self.min_spend.parsed = 0
        if not self.min_spend.errors:
            try:
                self.min_spend.parsed = admin.parse_min_spend(self.min_spend.data or "")
            except ValueError as exc:
                self.min_spend.errors = [*self.min_spend.errors, str(exc)]
                valid = False
        return valid

    def values(self) -> PromoValues:
        """The validated values for the service (all but the code and kind)."""
        return PromoValues(
            description=self.description.data or "",
            percent_bp=self.percent.parsed,  # type: ignore[attr-defined]
            amount_pence=self.amount.parsed,  # type: ignore[attr-defined]
            min_subtotal_pence=self.min_spend.parsed,  # type: ignore[attr-defined]
            starts_at=to_the_minute(self.starts_at.data),
            ends_at=to_the_minute(self.ends_at.data),
            max_uses=self.max_uses.data,
            once_per_customer=bool(self.once_per_customer.data),
        )


class EditPromoForm(PromoForm):
    """An existing code: everything but its code and kind, which never change. Built with
    the code's kind, so that only that kind's value is read."""

    code = None  # type: ignore[assignment]
    kind = None  # type: ignore[assignment]
    opened = HiddenField()  # the code's edit_stamp when the form was opened

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kind = kind

    def chosen_kind(self) -> str | None:
        """The code's kind."""
        return self._kind


class PromoActionForm(ShopForm):
    """A button that switches a code off or on or deletes it; `back` says which page to go
    back to (the list or the code's own page)."""

    back = HiddenField()
