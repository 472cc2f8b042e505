"""Form pieces that several areas' forms share: the whitespace filter, the e-mail and
phone fields and a decimal field for finite numbers, so each is validated (and worded) the
same way everywhere."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from wtforms import DecimalField, EmailField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, Regexp

# The dates a filter accepts: wide enough for any real order, and narrow enough that the
# days added or taken off (an inclusive end, a default start) never overflow `date`.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)
DATE_RANGE_MESSAGE = "Choose a date from 1 January 1900 to 31 December 2999."
# Where the shop delivers: checkout and the address book offer the same list.
COUNTRIES = (
    "United Kingdom",
    "Ireland",
    "France",
    "Germany",
    "Netherlands",
    "Belgium",
    "Spain",
    "Portugal",
    "Italy",
    "Switzerland",
    "Austria",
    "Denmark",
    "Norway",
    "Sweden",
    "Finland",
    "Poland",
)
PHONE_RE = r"^[0-9+()\-. ]*$"
PHONE_MESSAGE = "Use digits, spaces and + ( ) - only."


def strip(value: Any) -> Any:
    """A form filter: surrounding whitespace off strings, anything else as it is."""
    return value.strip() if isinstance(value, str) else value


def email_field(
    label: str = "E-mail address", required: str = "Please enter your e-mail address."
) -> EmailField:
    """A required, stripped e-mail address field that must look like one."""
    return EmailField(
        label,
        filters=[strip],
        validators=[
            DataRequired(required),
            Email("That doesn't look like an e-mail address."),
            Length(max=254),
        ],
    )


def phone_field() -> StringField:
    """An optional, stripped phone number field."""
    return StringField(
        "Phone (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=40), Regexp(PHONE_RE, message=PHONE_MESSAGE)],
    )


class FiniteDecimalField(DecimalField):
    """A DecimalField that turns "NaN", "sNaN" and "Infinity" into a form error: wtforms
    accepts them as decimals, and a signalling NaN even crashes its NumberRange check."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the submitted text, refusing numbers that are not finite."""
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError("Enter a number, such as 1.5.")


def date_in_range(day: date) -> bool:
    """True when a filter's date lies within EARLIEST_DATE and LATEST_DATE."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def country_field() -> SelectField:
    """The delivery country, one of COUNTRIES."""
    return SelectField(
        "Country",
        choices=list(COUNTRIES),
        default="United Kingdom",
        validate_choice=False,
        validators=[AnyOf(COUNTRIES, message="Choose one of the countries we deliver to.")],
    )
