"""Console forms: a tier (threshold in pounds or points, benefits) and programme settings."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from wtforms import BooleanField, Field, HiddenField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
    ValidationError,
)

from loyalty.rules import MAX_DISCOUNT_BP, MAX_MULTIPLIER_PCT, TierSpec
from loyalty.settings import ProgrammeSettings
from shop.form_fields import PLAIN_DECIMAL, ConfirmedForm, WholeNumberField

MAX_THRESHOLD_PENCE = 100_000_000  # £1,000,000
MAX_THRESHOLD_POINTS = 10_000_000
MAX_RANK = 99
MAX_DIGITS = 10  # integer digits any tier figure may have


def _strip(value: Any) -> Any:
    return value.strip().replace(",", "") if isinstance(value, str) else value


def _decimal(text: str, places: int, what: str) -> Decimal:
    if not PLAIN_DECIMAL.fullmatch(text.strip()):  # Decimal() also reads "1_0" and "١٢"
        raise ValidationError(f"Enter {what} as a number, such as 1.5.")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"Enter {what} as a number, such as 1.5.") from exc
    if not value.is_finite():
        raise ValidationError(f"Enter {what} as a number, such as 1.5.")
    if value.adjusted() >= MAX_DIGITS:  # beyond every range; 1E+999999 would overflow below
        raise ValidationError(f"That number is far too large for {what}.")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise ValidationError(f"Use at most {places} decimal places for {what}.")
    return value


STALE_FORM = "This form is out of date; open the page again."
NOT_SAID = (
    "This form did not say what it showed, so it cannot be checked against what was saved "
    "since; open the page again."
)


def opened_token(values: dict[str, Any]) -> str:
    """What a form showed, as the text of its hidden `opened` field."""
    return json.dumps(values, sort_keys=True)


def opened_values(text: str | None, keys: set[str]) -> dict[str, Any]:
    """The values an `opened` field holds. Raise ValueError when it is missing or empty
    (saving anyway could overwrite a colleague's change unseen) or not one (reload)."""
    if not text or not text.strip():
        raise ValueError(NOT_SAID)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(STALE_FORM) from exc
    if not isinstance(data, dict) or set(data) != keys:
        raise ValueError(STALE_FORM)
    return data


class ReviewedForm(ConfirmedForm):
    """A form whose save may first show a review page (`confirm` saves and e-mails
    members); `opened` is what the form showed, carried over too."""

    opened = HiddenField()


class TierForm(ReviewedForm):
    """A tier: name, rank, qualifying threshold and benefits."""

    name = StringField(
        "Name",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired("Enter a name."), Length(max=40)],
    )
    rank = WholeNumberField(
        "Rank (1 is the entry tier; higher ranks need more)",
        validators=[
            InputRequired("Enter the rank, a whole number."),
            NumberRange(min=1, max=MAX_RANK, message=f"Use a whole number from 1 to {MAX_RANK}."),
        ],
    )
    threshold = StringField(
        "Threshold", filters=[_strip], validators=[DataRequired("Enter the threshold.")]
    )
    discount = StringField(
        "Discount (%)",
        filters=[_strip],
        default="0",
        validators=[DataRequired("Enter 0 for none.")],
    )
    multiplier = StringField(
        "Points multiplier (x)",
        filters=[_strip],
        default="1",
        validators=[DataRequired("Enter 1 for the base rate.")],
    )
    free_shipping = BooleanField("Free standard delivery")
    priority_support = BooleanField("Priority support (shown to staff on orders)")
    early_access = BooleanField("Early access")

    def __init__(self, *args: Any, basis: str = "spend", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.basis = basis
        self.threshold.label.text = (
            "Threshold (points over 12 months)"
            if basis == "points"
            else "Threshold (£ spent over 12 months)"
        )

    def validate_threshold(self, field: Field) -> None:
        """Pounds with up to 2 decimals (spend basis) or whole points."""
        if self.basis == "points":
            value = _decimal(field.data or "", 0, "the threshold")
            if not 0 <= value <= MAX_THRESHOLD_POINTS:
                raise ValidationError(f"Use whole points from 0 to {MAX_THRESHOLD_POINTS:,}.")
            field.value = int(value)
        else:
            value = _decimal(field.data or "", 2, "the threshold")
            pence = int(value * 100)
            if not 0 <= pence <= MAX_THRESHOLD_PENCE:
                raise ValidationError("Use an amount from £0 to £1,000,000.")
            field.value = pence

    def validate_discount(self, field: Field) -> None:
        """0 to 50 percent, at most 2 decimals."""
        value = _decimal(field.data or "", 2, "the discount")
        if not 0 <= value * 100 <= MAX_DISCOUNT_BP:
            raise ValidationError("Use a discount from 0% to 50%.")
        field.value = int(value * 100)

    def validate_multiplier(self, field: Field) -> None:
        """1x to 10x, at most 2 decimals."""
        value = _decimal(field.data or "", 2, "the multiplier")
        if not 100 <= value * 100 <= MAX_MULTIPLIER_PCT:
            raise ValidationError("Use a multiplier from 1 to 10.")
        field.value = int(value * 100)

    def spec(self) -> TierSpec:
        """The validated tier."""
        return TierSpec(
            name=self.name.data or "",
            rank=int(self.rank.data or 0),
            threshold=self.threshold.value,  # type: ignore[attr-defined]
            discount_bp=self.discount.value,  # type: ignore[attr-defined]
            multiplier_pct=self.multiplier.value,  # type: ignore[attr-defined]
            free_shipping=bool(self.free_shipping.data),
            priority_support=bool(self.priority_support.data),
            early_access=bool(self.early_access.data),
        )

    def opened_spec(self) -> TierSpec:
        """The tier as this form showed it (ValueError if the form did not say, or if what
        it says is not a tier)."""
        data = opened_values(self.opened.data, {f.name for f in fields(TierSpec)})
        try:
            return TierSpec(**data)
        except TypeError as exc:
            raise ValueError(STALE_FORM) from exc

    @classmethod
    def for_tier(cls, spec: TierSpec, basis: str) -> TierForm:
        """A form filled in from a tier (on GET, or after a refused stale save), never from
        what the request submitted."""
        threshold = str(spec.threshold) if basis == "points" else f"{spec.threshold / 100:.2f}"
        return cls(
            formdata=None,
            basis=basis,
            data={
                "name": spec.name,
                "rank": spec.rank,
                "threshold": threshold,
                "discount": f"{Decimal(spec.discount_bp) / 100:g}",
                "multiplier": f"{Decimal(spec.multiplier_pct) / 100:g}",
                "free_shipping": spec.free_shipping,
                "priority_support": spec.priority_support,
                "early_access": spec.early_access,
                "opened": opened_token(asdict(spec)),
            },
        )


def _whole(label: str, low: int, high: int, unit: str = "") -> WholeNumberField:
    return WholeNumberField(
        label,
        validators=[
            InputRequired(f"Enter a whole number{unit}."),
            NumberRange(min=low, max=high, message=f"Use a whole number from {low} to {high:,}."),
        ],
    )


class ProgrammeForm(ReviewedForm):
    """The programme's numbers: earning, redemption, expiry, tier basis and terms version."""

    points_per_pound = _whole("Points per £1 of goods (before the tier multiplier)", 1, 100)
    point_value_pence = _whole("Value of one point when spent (pence)", 1, 100)
    min_redeem_points = _whole("Fewest points spent at once", 1, 1_000_000)
    max_redeem_points = _whole("Most points spent on one order", 1, 10_000_000)
    max_redeem_share_pct = _whole("Points may pay at most this % of the goods", 1, 100)
    expiry_months = _whole("Points expire after (months)", 1, 120)
    expiry_reminder_days = _whole("Reminder e-mail this many days before expiry", 1, 365)
    tier_basis = SelectField(
        "Tiers are based on",
        choices={"spend": "Spend over 12 months (£)", "points": "Points over 12 months"},
    )
    downgrade_grace_days = _whole("Grace period before a downgrade (days)", 0, 365)
    early_access_hours = _whole(
        "Early access: tiers with it buy new products this many hours before launch", 1, 720
    )
    terms_version = StringField(
        "Terms version",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired("Enter the version of the programme terms."),
            Length(max=20),
            Regexp(
                r"^[A-Za-z0-9._-]+$",
                message="Use letters, digits, dots, dashes and underscores only.",
            ),
        ],
    )

    def validate_max_redeem_points(self, field: Field) -> None:
        """The most points spent at once may not be below the fewest."""
        low = self.min_redeem_points.data
        if isinstance(low, int) and isinstance(field.data, int) and field.data < low:
            raise ValidationError("Must be at least the fewest points spent at once.")

    def validate_expiry_reminder_days(self, field: Field) -> None:
        """The reminder must go out after the points were earned: fewer days than the
        shortest expiry period (its months at 28 days each)."""
        months = self.expiry_months.data
        if isinstance(months, int) and isinstance(field.data, int) and months > 0:
            shortest = months * 28
            if field.data >= shortest:
                raise ValidationError(
                    f"Points that expire after {months} month{'s' * (months != 1)} need a "
                    f"reminder fewer than {shortest} days before."
                )

    def opened_settings(self) -> dict[str, Any]:
        """The settings as this form showed them (ValueError if the form did not say, or if
        what it says is not settings)."""
        return opened_values(self.opened.data, set(ProgrammeSettings().as_dict()))

    @classmethod
    def for_settings(cls, settings: ProgrammeSettings) -> ProgrammeForm:
        """A form filled in from the stored settings, never from what the request submitted."""
        values = settings.as_dict()
        return cls(formdata=None, data={**values, "opened": opened_token(values)})

    def settings(self) -> ProgrammeSettings:
        """The validated settings."""
        return ProgrammeSettings(
            points_per_pound=int(self.points_per_pound.data),
            point_value_pence=int(self.point_value_pence.data),
            min_redeem_points=int(self.min_redeem_points.data),
            max_redeem_points=int(self.max_redeem_points.data),
            max_redeem_share_pct=int(self.max_redeem_share_pct.data),
            expiry_months=int(self.expiry_months.data),
            expiry_reminder_days=int(self.expiry_reminder_days.data),
            tier_basis=str(self.tier_basis.data),
            downgrade_grace_days=int(self.downgrade_grace_days.data),
            early_access_hours=int(self.early_access_hours.data),
            terms_version=str(self.terms_version.data),
        )
