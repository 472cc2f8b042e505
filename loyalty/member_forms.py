"""The console's member forms: finding members, and adjusting a member's points."""

from __future__ import annotations

import secrets

from wtforms import Field, HiddenField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from loyalty.member_admin import KEY_PATTERN, MAX_ADJUSTMENT
from shop.form_fields import ShopForm, WholeNumberField, strip


class MemberSearchForm(ShopForm):
    """The member list's search box (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(
        "E-mail, name, membership number or customer number",
        filters=[strip],
        validators=[Optional(), Length(max=254)],
    )


class AdjustPointsForm(ShopForm):
    """Add or take off points by hand, with the reason the member will read."""

    points = WholeNumberField(
        "Points (negative to take off)",
        validators=[
            DataRequired("Give a number of points other than 0."),
            NumberRange(
                -MAX_ADJUSTMENT,
                MAX_ADJUSTMENT,
                f"Give a number of points from -{MAX_ADJUSTMENT:,} to {MAX_ADJUSTMENT:,}.",
            ),
        ],
    )
    note = StringField(
        "Why (the member sees this)",
        filters=[strip],
        validators=[DataRequired("Say why: the member sees the note."), Length(3, 200)],
    )
    key = HiddenField()

    @classmethod
    def fresh(cls) -> AdjustPointsForm:
        """An empty form with a new key, so sending it twice adjusts once."""
        form = cls(formdata=None)
        form.key.data = secrets.token_hex(8)
        return form

    def validate_key(self, field: Field) -> None:
        """The key the page gave; anything else means a stale or forged form."""
        if not KEY_PATTERN.fullmatch(field.data or ""):
            raise ValidationError("The form is out of date; open the member again.")
