"""Forms of the console's own pages (staff)."""

from __future__ import annotations

from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from shop.accounts.forms import MIN_PASSWORD
from shop.console.models import ROLES
from shop.form_fields import ShopForm, email_field, strip


class StaffForm(ShopForm):
    """Give an account a console role (creating it when a password is given)."""

    email = email_field("E-mail address", "Enter an e-mail address.")
    role = SelectField("Role", choices=list(ROLES))
    name = StringField(
        "Name (new accounts)", filters=[strip], validators=[Optional(), Length(max=120)]
    )
    password = PasswordField(
        "Password (new accounts)",
        validators=[
            Optional(),
            Length(min=MIN_PASSWORD, max=200, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
