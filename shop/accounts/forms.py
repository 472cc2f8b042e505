"""Sign-up and sign-in forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

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
