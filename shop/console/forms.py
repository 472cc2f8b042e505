"""Forms of the console's own pages (staff)."""

from __future__ import annotations

from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import Length, Optional

from shop.accounts.passwords import MAX_PASSWORD, MIN_PASSWORD, TOO_SHORT_MESSAGE
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
            Length(min=MIN_PASSWORD, max=MAX_PASSWORD, message=TOO_SHORT_MESSAGE),
        ],
    )
