"""Account forms: sign-up, sign-in, profile, address book, security and privacy."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional, Regexp

MIN_PASSWORD = 10


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class RegisterForm(FlaskForm):
    """Create an account."""

    name = StringField(
        "Your name", validators=[InputRequired("Please tell us your name."), Length(max=120)]
    )
    email = EmailField(
        "E-mail address",
        filters=[_strip],
        validators=[
            InputRequired("Please enter your e-mail address."),
            Email("That doesn't look like an e-mail address."),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Please choose a password."),
            Length(min=MIN_PASSWORD, max=200, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
    confirm = PasswordField(
        "Repeat password", validators=[EqualTo("password", "The two passwords don't match.")]
    )


class LoginForm(FlaskForm):
    """Sign in."""

    email = EmailField(
        "E-mail address",
        filters=[_strip],
        validators=[InputRequired("Please enter your e-mail address."), Length(max=254)],
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Please enter your password."), Length(max=200)]
    )
    remember = BooleanField("Keep me signed in")


class TrackingForm(FlaskForm):
    """Switch tracking-based personalization on or off."""

    enabled = BooleanField("Personalize my shop using what I browse")


PHONE_RE = r"^[0-9+()\-. ]*$"
PHONE_MESSAGE = "Use digits, spaces and + ( ) - only."


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Please choose a new password."),
            Length(min=MIN_PASSWORD, max=200, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )


def _current_password() -> PasswordField:
    return PasswordField(
        "Current password",
        validators=[InputRequired("Please enter your current password."), Length(max=200)],
    )


class ProfileForm(FlaskForm):
    """Name and contact details."""

    name = StringField(
        "Your name",
        filters=[_strip],
        validators=[InputRequired("Please tell us your name."), Length(max=120)],
    )
    phone = StringField(
        "Phone (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=40), Regexp(PHONE_RE, message=PHONE_MESSAGE)],
    )


class AddressForm(FlaskForm):
    """One address of the address book."""

    name = StringField(
        "Full name",
        filters=[_strip],
        validators=[InputRequired("Please enter the recipient's name."), Length(max=120)],
    )
    line1 = StringField(
        "Address line 1",
        filters=[_strip],
        validators=[InputRequired("Please enter the first line of the address."), Length(max=200)],
    )
    line2 = StringField(
        "Address line 2 (optional)", filters=[_strip], validators=[Optional(), Length(max=200)]
    )
    city = StringField(
        "Town or city",
        filters=[_strip],
        validators=[InputRequired("Please enter the town or city."), Length(max=100)],
    )
    postcode = StringField(
        "Postcode",
        filters=[_strip],
        validators=[InputRequired("Please enter the postcode."), Length(max=20)],
    )
    country = StringField(
        "Country",
        default="United Kingdom",
        filters=[_strip],
        validators=[InputRequired("Please enter the country."), Length(max=60)],
    )
    phone = StringField(
        "Phone (optional)",
        filters=[_strip],
        validators=[Optional(), Length(max=40), Regexp(PHONE_RE, message=PHONE_MESSAGE)],
    )
    make_default = BooleanField("Use as my default address")


class PasswordChangeForm(FlaskForm):
    """Change the password (needs the current one)."""

    current_password = _current_password()
    new_password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[EqualTo("new_password", "The two passwords don't match.")],
    )


class EmailChangeForm(FlaskForm):
    """Ask for a new e-mail address (needs the current password)."""

    new_email = EmailField(
        "New e-mail address",
        filters=[_strip],
        validators=[
            InputRequired("Please enter the new e-mail address."),
            Email("That doesn't look like an e-mail address."),
            Length(max=254),
        ],
    )
    current_password = _current_password()


class ResetRequestForm(FlaskForm):
    """Ask for a password-reset link."""

    email = EmailField(
        "E-mail address",
        filters=[_strip],
        validators=[
            InputRequired("Please enter your e-mail address."),
            Email("That doesn't look like an e-mail address."),
            Length(max=254),
        ],
    )


class ResetPasswordForm(FlaskForm):
    """Choose a new password through a reset link."""

    password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password", validators=[EqualTo("password", "The two passwords don't match.")]
    )


class DeleteAccountForm(FlaskForm):
    """Delete the account (needs the password and an explicit tick)."""

    password = PasswordField(
        "Your password",
        validators=[InputRequired("Please enter your password."), Length(max=200)],
    )
    confirm = BooleanField(
        "I understand that my account and personal data will be deleted for good",
        validators=[InputRequired("Please tick the box to confirm.")],
    )


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token (delete, make default, confirm)."""
