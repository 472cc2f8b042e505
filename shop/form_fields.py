"""Form pieces that several areas' forms share: the base form, the whitespace filter, the
e-mail, phone and country fields and a decimal field for finite numbers, so each is
validated (and worded) the same way everywhere."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    DecimalField,
    EmailField,
    Field,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

# The dates a filter accepts: wide enough for any real order, and narrow enough that the
# days added or taken off (an inclusive end, a default start) never overflow `date`.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)
DATE_RANGE_MESSAGE = "Choose a date from 1 January 1900 to 31 December 2999."
# A date and time typed in a form: as a browser's date-time picker sends it ("T") or as
# people write it (a space), with or without seconds. The first is how a form shows it.
DATE_TIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
DATE_TIME_MESSAGE = "Enter a date and time as YYYY-MM-DD HH:MM, such as 2026-11-24 10:00."
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
PHONE_MESSAGE = "Use digits, spaces and + ( ) - . only."
PHONE_MIN_DIGITS = 6


SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def json_formdata(body: Any) -> MultiDict[str, str]:
    """A JSON body as a browser would have posted it: text values, a list as repeated
    values, and nothing for anything that is not a JSON object."""
    data: MultiDict[str, str] = MultiDict()
    if not isinstance(body, dict):
        return data
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                if item:
                    data.add(str(key), "y")
            elif isinstance(item, str | int | float):
                data.add(str(key), str(item))
    return data


CONTROL_MESSAGE = "Remove the control characters (such as tabs or line breaks) from this field."
MULTILINE_CONTROL_MESSAGE = "Remove the control characters from this field."
_LINE_BREAKS = frozenset("\t\n\r")


# Bidirectional embeddings, overrides and isolates: U+202E makes the rest of a name read
# backwards in every e-mail and page it reaches, which can disguise what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_control(ch: str) -> bool:
    # C0, DEL and C1 (U+0085 is a line break in e-mail clients), and the Unicode line and
    # paragraph separators, which split a name across lines just the same.
    return ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029" or ch in _BIDI_CONTROLS


def control_characters(text: str, *, multiline: bool = False) -> bool:
    """True when text holds a control character (C0, DEL, C1), a Unicode line or
    paragraph separator or a bidirectional override; tabs and line breaks are allowed in
    multi-line text."""
    return any(_is_control(ch) and not (multiline and ch in _LINE_BREAKS) for ch in text)


class ShopForm(FlaskForm):
    """The shop's base form. Flask-WTF reads a JSON body's values as they are, so a number
    reached string-only filters and checks as an int (a 500); here JSON is read as text.
    No text field accepts control characters (a NUL in a name reached e-mails, and
    PostgreSQL refuses it); multi-line fields keep tabs and line breaks."""

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields' own checks, then no control characters in any text field."""
        valid = super().validate(extra_validators)
        for field in self:
            if not isinstance(field, StringField) or not isinstance(field.data, str):
                continue
            multiline = isinstance(field, TextAreaField)
            if control_characters(field.data, multiline=multiline):
                message = MULTILINE_CONTROL_MESSAGE if multiline else CONTROL_MESSAGE
                field.errors = [*field.errors, message]
                valid = False
        return valid

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            """The submitted data; a JSON body's values as text."""
            automatic = not hasattr(formdata, "getlist") and formdata is not None
            if (
                automatic
                and request.method in SUBMIT_METHODS
                and request.is_json
                and not (request.form or request.files)
            ):
                return json_formdata(request.get_json(silent=True))
            return super().wrap_formdata(form, formdata)


class ConfirmedForm(ShopForm):
    """A form whose action is shown on a page of its own before it is carried out: its
    buttons `confirm` (do it) and `edit` (back to the form with what was typed)."""

    confirm = SubmitField()
    edit = SubmitField()

    def carried_fields(self) -> list[Field]:
        """The fields the confirmation page carries over unchanged."""
        return [f for f in self if f.short_name not in ("csrf_token", "confirm", "edit")]


# Whitespace, and what str.strip() keeps that nobody can see (zero-width space, joiners,
# word joiner, byte-order mark, soft hyphen), at either end: a name of only these passed as
# filled in, and read as "Hello ," in every e-mail.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_PADDING = re.compile(rf"\A[\s{_INVISIBLE}]+|[\s{_INVISIBLE}]+\Z")


def strip(value: Any) -> Any:
    """A form filter: surrounding whitespace and invisible characters off strings, anything
    else as it is."""
    return _PADDING.sub("", value) if isinstance(value, str) else value


def upper(value: Any) -> Any:
    """A form filter: strings in capitals (postcodes), anything else as it is."""
    return value.upper() if isinstance(value, str) else value


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


def phone_field(label: str = "Phone (optional)") -> StringField:
    """An optional, stripped phone number field, checked alike in the profile, the address
    book and the checkout, so a number saved in one is accepted in the others."""
    return StringField(
        label,
        filters=[strip],
        validators=[
            Optional(),
            Length(max=40),
            Regexp(PHONE_RE, message=PHONE_MESSAGE),
            _enough_digits,
        ],
    )


def _enough_digits(_form: Any, field: Field) -> None:
    if field.errors:  # the characters are wrong already; one message is enough
        return
    if sum(char.isdigit() for char in field.data or "") < PHONE_MIN_DIGITS:
        raise StopValidation(f"Enter the whole number, with at least {PHONE_MIN_DIGITS} digits.")


# What a number field accepts: ASCII digits only. Python's int() and Decimal() also take
# "1_0" (ten) and other scripts' digits, which no one means in a form.
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class _NumberField(Field):
    """Refuses text outside `plain` as unreadable, and when the text was unreadable, stops
    there: the range check would only add a second message about the same mistake."""

    plain: re.Pattern[str]
    unreadable: str

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the submitted text; anything but a plain number is unreadable."""
        text = valuelist[0].strip() if valuelist and isinstance(valuelist[0], str) else ""
        if valuelist and not text:
            # Only spaces is nothing typed: InputRequired then says what to enter (it reads
            # raw_data, where spaces count as input), Optional skips the field.
            self.raw_data = [""]
            self.data = None
            return
        if text and not self.plain.fullmatch(text):
            self.data = None
            raise ValueError(self.unreadable)
        super().process_formdata(valuelist)  # type: ignore[misc]

    def pre_validate(self, form: Any) -> None:
        """Unreadable text has its message already; the validators need not run."""
        if self.process_errors and self.raw_data and str(self.raw_data[0]).strip():
            raise StopValidation()


class WholeNumberField(_NumberField, IntegerField):
    """An IntegerField for whole numbers written with the digits 0-9."""

    plain = _WHOLE_NUMBER
    unreadable = "Not a valid integer value."


class FiniteDecimalField(_NumberField, DecimalField):
    """A DecimalField for finite numbers: wtforms accepts "NaN", "sNaN" and "Infinity" as
    decimals, and a signalling NaN even crashes its NumberRange check."""

    plain = PLAIN_DECIMAL  # which leaves out NaN and Infinity
    unreadable = "Enter a number, such as 1.5."


def date_in_range(day: date) -> bool:
    """True when a filter's date lies within EARLIEST_DATE and LATEST_DATE."""
    return EARLIEST_DATE <= day <= LATEST_DATE


def within_date_range(_form: Any, field: Field) -> None:
    """A form validator: a date (or a date and time) from EARLIEST_DATE to LATEST_DATE."""
    day = field.data.date() if isinstance(field.data, datetime) else field.data
    if day is not None and not date_in_range(day):
        raise ValidationError(DATE_RANGE_MESSAGE)


# A UK postcode: outward code (area, district) and inward code (sector, unit); and the
# Girobank's GIR 0AA. Other countries' postcodes only get the general shape check.
_UK_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})|GIR ?0AA", re.ASCII)
POSTCODE_SHAPE = r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,10}$"


def postcode_for_country(form: Any, field: Field) -> None:
    """A form validator: a UK address needs a real UK postcode's shape."""
    country = getattr(form, "country", None)
    in_uk = country is not None and country.data == "United Kingdom"
    text = (field.data or "").strip().upper()
    if not re.match(POSTCODE_SHAPE, text):
        return  # the shape check says so already: one message is enough
    if in_uk and not _UK_POSTCODE.fullmatch(text):
        raise ValidationError("Enter a UK postcode, such as SW1A 1AA.")


def country_field() -> SelectField:
    """The delivery country, one of COUNTRIES."""
    return SelectField(
        "Country",
        choices=list(COUNTRIES),
        default="United Kingdom",
        validate_choice=False,
        validators=[AnyOf(COUNTRIES, message="Choose one of the countries we deliver to.")],
    )
