"""Account forms: sign-up, sign-in, profile, address book, security and privacy."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, Field, PasswordField, StringField
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from shop.accounts.passwords import (
    GUESSABLE_MESSAGE,
    MAX_PASSWORD,
    MIN_PASSWORD,
    TOO_LONG_MESSAGE,
    TOO_SHORT_MESSAGE,
    is_guessable,
)
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

# Each bound says what is wrong: a single Length(min, max) gave "Use at least 10
# characters." for a password that was too long.
_PASSWORD_LENGTH = (
    Length(min=MIN_PASSWORD, message=TOO_SHORT_MESSAGE),
    Length(max=MAX_PASSWORD, message=TOO_LONG_MESSAGE),
)


def _not_guessable(form: ShopForm, field: Field) -> None:
    if not field.data or not MIN_PASSWORD <= len(field.data) <= MAX_PASSWORD:
        return  # the length rules say what is wrong
    email = getattr(getattr(form, "email", None), "data", None)  # the sign-up form has one
    if is_guessable(field.data, email if isinstance(email, str) else None):
        raise ValidationError(GUESSABLE_MESSAGE)


class RegisterForm(ShopForm):
    """Create an account."""

    name = StringField(
        "Your name",
        filters=[strip],
        validators=[DataRequired("Please tell us your name."), Length(max=120)],
    )
    email = email_field()
    password = PasswordField(
        "Password",
        validators=[
            InputRequired("Please choose a password."),
            *_PASSWORD_LENGTH,
            _not_guessable,
        ],
    )
    confirm = PasswordField(
        "Repeat password", validators=[EqualTo("password", "The two passwords don't match.")]
    )


class LoginForm(ShopForm):
    """Sign in."""

    email = EmailField(
        "E-mail address",
        filters=[strip],
        validators=[DataRequired("Please enter your e-mail address."), Length(max=254)],
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Please enter your password."), Length(max=200)]
    )
    remember = BooleanField("Keep me signed in")


class TrackingForm(ShopForm):
    """Switch tracking-based personalization on or off."""

    enabled = BooleanField("Personalize my shop using what I browse")


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Please choose a new password."),
            *_PASSWORD_LENGTH,
            _not_guessable,
        ],
    )


def _current_password() -> PasswordField:
    return PasswordField(
        "Current password",
        validators=[InputRequired("Please enter your current password."), Length(max=200)],
    )


class ProfileForm(ShopForm):
    """Name and contact details."""

    name = StringField(
        "Your name",
        filters=[strip],
        validators=[DataRequired("Please tell us your name."), Length(max=120)],
    )
    phone = phone_field()


class AddressForm(ShopForm):
    """One address of the address book."""

    name = StringField(
        "Full name",
        filters=[strip],
        validators=[DataRequired("Please enter the recipient's name."), Length(max=120)],
    )
    line1 = StringField(
        "Address line 1",
        filters=[strip],
        validators=[DataRequired("Please enter the first line of the address."), Length(max=200)],
    )
    line2 = StringField(
        "Address line 2 (optional)", filters=[strip], validators=[Optional(), Length(max=200)]
    )
    city = StringField(
        "Town or city",
        filters=[strip],
        validators=[DataRequired("Please enter the town or city."), Length(max=100)],
    )
    postcode = StringField(
        "Postcode",
        filters=[strip, upper],
        validators=[
            DataRequired("Please enter the postcode."),
            Regexp(POSTCODE_SHAPE, message="Please check the postcode."),
            postcode_for_country,
        ],
    )
    country = country_field()
    phone = phone_field()
    make_default = BooleanField("Use as my default address")


class PasswordChangeForm(ShopForm):
    """Change the password (needs the current one)."""

    current_password = _current_password()
    new_password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password",
        validators=[EqualTo("new_password", "The two passwords don't match.")],
    )

    def validate_new_password(self, field: Field) -> None:
        """The new password must not be the current one (that would change nothing, yet
        sign out other browsers and send an e-mail)."""
        if field.data and field.data == self.current_password.data:
            raise ValidationError("Choose a password that is different from your current one.")


class EmailChangeForm(ShopForm):
    """Ask for a new e-mail address (needs the current password)."""

    new_email = email_field("New e-mail address", "Please enter the new e-mail address.")
    current_password = _current_password()


class ResetRequestForm(ShopForm):
    """Ask for a password-reset link."""

    email = email_field()


class ResetPasswordForm(ShopForm):
    """Choose a new password through a reset link."""

    password = _new_password("New password")
    confirm = PasswordField(
        "Repeat new password", validators=[EqualTo("password", "The two passwords don't match.")]
    )


class DeleteAccountForm(ShopForm):
    """Delete the account (needs the password and an explicit tick)."""

    password = PasswordField(
        "Your password",
        validators=[InputRequired("Please enter your password."), Length(max=200)],
    )
    confirm = BooleanField(
        "I understand that my account and personal data will be deleted for good",
        validators=[InputRequired("Please tick the box to confirm.")],
    )


class ActionForm(ShopForm):
    """A button that only needs the CSRF token (delete, make default, confirm)."""
