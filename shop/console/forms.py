"""Forms of the console's own pages (staff)."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import Email, InputRequired, Length, Optional

from shop.accounts.forms import MIN_PASSWORD
from shop.console.models import ROLES
from shop.form_fields import ShopForm


class StaffForm(ShopForm):
    """Give an account a console role (creating it when a password is given)."""

    email = EmailField(
        "E-mail address",
        validators=[InputRequired("Enter an e-mail address."), Email(), Length(max=254)],
    )
    role = SelectField("Role", choices=list(ROLES))
    name = StringField("Name (new accounts)", validators=[Optional(), Length(max=120)])
    password = PasswordField(
        "Password (new accounts)",
        validators=[
            Optional(),
            Length(min=MIN_PASSWORD, max=200, message=f"Use at least {MIN_PASSWORD} characters."),
        ],
    )
