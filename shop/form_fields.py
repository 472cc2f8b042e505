"""Form pieces that several areas' forms share: the whitespace filter and the e-mail and
phone fields, so each is validated (and worded) the same way everywhere."""

from __future__ import annotations

from typing import Any

from wtforms import EmailField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional, Regexp

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
            InputRequired(required),
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
