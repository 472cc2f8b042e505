"""Forms of the recommendation console: settings, rules, publishing, preview, retraining."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from shop.form_fields import (
    DATE_TIME_FORMATS,
    DATE_TIME_MESSAGE,
    ConfirmedForm,
    FiniteDecimalField,
    ShopForm,
    WholeNumberField,
    within_date_range,
)
from shop.merchandising.config import MAX_LIST_SIZE, RULE_LABELS, RULE_TYPES, STRATEGIES
from shop.merchandising.editing import KIND_NAMES, MODEL_PARAM_RANGES


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class RuleForm(ShopForm):
    """Add a rule to the draft."""

    type = SelectField(
        "Rule", choices=choices((t, RULE_LABELS[t]) for t in RULE_TYPES), default="pin"
    )
    placements = SelectMultipleField(
        "Placements (none ticked: every placement)",
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validate_choice=True,
    )
    product = StringField("Product (id or SKU)", validators=[Optional(), Length(max=40)])
    category = SelectField("Category", validators=[Optional()])
    position = WholeNumberField(
        "Position (pin; 1 = first)",
        validators=[Optional(), NumberRange(1, MAX_LIST_SIZE, "From 1 to %(max)s.")],
    )
    factor = FiniteDecimalField(
        "Factor (boost multiplies, bury divides)", places=None, validators=[Optional()]
    )
    max_per_category = WholeNumberField(
        "At most this many per category (diversity)",
        validators=[Optional(), NumberRange(1, MAX_LIST_SIZE, "From 1 to %(max)s.")],
    )
    starts_at = DateTimeLocalField(
        "Starts (UTC, optional)",
        format=DATE_TIME_FORMATS,
        validators=[Optional(), within_date_range],
        invalid_value_message=DATE_TIME_MESSAGE,
    )
    ends_at = DateTimeLocalField(
        "Ends (UTC, optional)",
        format=DATE_TIME_FORMATS,
        validators=[Optional(), within_date_range],
        invalid_value_message=DATE_TIME_MESSAGE,
    )
    note = StringField("Note", validators=[Optional(), Length(max=200)])

    def set_options(self, placements: Iterable[str], categories: Iterable[tuple[int, str]]) -> None:
        """Fill the placement and category options."""
        self.placements.choices = choices((p, p) for p in placements)
        self.category.choices = choices(
            [("", "(none)"), *((str(i), name) for i, name in categories)]
        )


class NoteForm(ConfirmedForm):
    """Publish, discard or revert after a confirmation page (publishing with an optional
    note), or any button-only action."""

    note = StringField("Note", validators=[Optional(), Length(max=200)])
    discard_draft = BooleanField("Discard my draft")
    # The draft's fingerprint the page showed, and the console page to go back to.
    opened = HiddenField()
    back = HiddenField()


class VersionForm(ConfirmedForm):
    """Activate a model version or roll back, after a confirmation page."""

    shown = HiddenField()  # the live version the versions page showed (for a roll-back)


class TrainForm(ShopForm):
    """Start a retrain."""

    settings = RadioField(
        "Train with",
        choices=choices((("draft", "the draft settings"), ("live", "the live settings"))),
        default="draft",
    )
    activate = BooleanField("Activate the new version when it is ready")


class PreviewForm(ShopForm):
    """Whose recommendations to preview (read from the query string)."""

    class Meta:
        csrf = False

    shopper = StringField(
        "Shopper (e-mail, #account id or customer number; customer 12345 when a number is both)",
        validators=[Optional(), Length(max=254)],
    )
    viewed = StringField(
        "Or an anonymous session that viewed (ids or SKUs, comma-separated)",
        validators=[Optional(), Length(max=400)],
    )
    product = StringField(
        "Product page for (id or SKU, optional)", validators=[Optional(), Length(max=40)]
    )


def settings_form(
    placements: Iterable[str], data: Mapping[str, Any], opened: str = "", *, saved: bool = False
) -> ShopForm:
    """A settings form with one size / re-purchase / strategy trio per placement, and
    `opened`, the fingerprint of the settings it shows (see `editing.settings_fingerprint`).
    With `saved`, it shows `data` and `opened` only, not what the request submitted (the
    page after a refused stale save shows the settings as they are now)."""
    names = list(placements)

    class SettingsForm(ShopForm):
        pass

    for kind in KIND_NAMES:
        setattr(
            SettingsForm,
            f"weight_{kind}",
            FiniteDecimalField(
                f"Weight of {kind.replace('_', ' ')}",
                places=None,
                validators=[InputRequired("Enter a weight."), NumberRange(0, 100)],
            ),
        )
    SettingsForm.half_life_days = FiniteDecimalField(
        "Decay half-life in days (empty: no decay)", places=None, validators=[Optional()]
    )
    SettingsForm.model = SelectField(
        "Model",
        choices=choices(
            (
                ("als", "ALS"),
                ("bpr", "BPR"),
                ("item_knn", "Item k-NN"),
                ("popularity", "Popularity"),
            )
        ),
    )
    for name, (low, high, whole) in MODEL_PARAM_RANGES.items():
        field_class = WholeNumberField if whole else FiniteDecimalField
        extra = {} if whole else {"places": None}
        setattr(
            SettingsForm,
            name,
            field_class(
                f"{name.replace('_', ' ').capitalize()} ({low:g}-{high:g})",
                validators=[Optional(), NumberRange(low, high)],
                **extra,
            ),
        )
    for name in names:
        setattr(
            SettingsForm,
            f"size_{name}",
            WholeNumberField(
                f"{name}: items",
                validators=[InputRequired("Enter a size."), NumberRange(1, MAX_LIST_SIZE)],
            ),
        )
        setattr(SettingsForm, f"repurchase_{name}", BooleanField(f"{name}: allow re-purchases"))
        setattr(
            SettingsForm,
            f"strategy_{name}",
            SelectField(f"{name}: strategy", choices=choices((s, s) for s in STRATEGIES)),
        )
    SettingsForm.opened = HiddenField()
    values = {**_settings_values(names, data), "opened": opened}
    form = SettingsForm(formdata=None, data=values) if saved else SettingsForm(data=values)
    form.placement_names = names  # type: ignore[attr-defined]
    return form


def _settings_values(names: list[str], data: Mapping[str, Any]) -> dict[str, Any]:
    training = data["training"]
    weighting = training.get("weighting") or {}
    values: dict[str, Any] = {
        f"weight_{kind}": (weighting.get("kind_weights") or {}).get(kind, 0) for kind in KIND_NAMES
    }
    values["half_life_days"] = weighting.get("half_life_days")
    values["model"] = training.get("model", "als")
    values.update(training.get("model_params") or {})
    for name in names:
        placement = data["placements"][name]
        values[f"size_{name}"] = placement["size"]
        values[f"repurchase_{name}"] = placement["allow_repurchase"]
        values[f"strategy_{name}"] = placement["strategy"]
    return values
