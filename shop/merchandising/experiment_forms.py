"""Forms of the A/B test pages: create an experiment, stop it, roll out a variant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import (
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from shop.db import parse_id
from shop.form_fields import ConfirmedForm, ShopForm, WholeNumberField
from shop.merchandising.experiments import (
    KIND_LABELS,
    KINDS,
    VARIANT_KEY_MAX,
    ExperimentError,
    VariantSpec,
)

VARIANT_ROWS = 4
CHOOSE = SelectChoice("", "(choose)")


def _percent(_form: Form, field: WholeNumberField) -> None:
    """A whole percent (checked only when the value parsed as a number)."""
    if field.data is not None and not 0 <= field.data <= 100:
        raise ValidationError("From 0 to 100.")


class VariantRow(Form):
    """One optional variant row; a row with nothing filled in is ignored."""

    key = StringField("Key", validators=[Optional(), Length(max=VARIANT_KEY_MAX)])
    label = StringField("Label", validators=[Optional(), Length(max=80)])
    kind = SelectField(
        "Serves",
        choices=[SelectChoice("", "(not used)"), *(SelectChoice(k, KIND_LABELS[k]) for k in KINDS)],
        default="",
    )
    model_version = SelectField("Model version", choices=[CHOOSE], validate_choice=False)
    revision_id = SelectField("Rules revision", choices=[CHOOSE], validate_choice=False)
    weight = WholeNumberField("Traffic %", validators=[Optional(), _percent])

    def is_empty(self) -> bool:
        """True when the merchandiser left the row blank."""
        return not (
            (self.key.data or "").strip()
            or (self.label.data or "").strip()
            or self.kind.data
            or self.weight.data is not None
        )


class ExperimentForm(ShopForm):
    """Start an A/B test: a name, placements, and two to four variants."""

    name = StringField(
        "Name", validators=[InputRequired("Give the experiment a name."), Length(max=120)]
    )
    placements = SelectMultipleField(
        "Placements",
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validate_choice=True,
    )
    variants = FieldList(FormField(VariantRow), min_entries=VARIANT_ROWS, max_entries=VARIANT_ROWS)

    def set_options(
        self,
        placements: Iterable[tuple[str, str]],
        model_versions: Iterable[tuple[str, str]],
        revisions: Iterable[tuple[int, str]],
    ) -> None:
        """Fill the choices: placements, saved model versions and published revisions."""
        self.placements.choices = [SelectChoice(value, label) for value, label in placements]
        versions = [CHOOSE, *(SelectChoice(v, label) for v, label in model_versions)]
        published = [CHOOSE]
        published += [SelectChoice(str(i), f"#{i} {note}".strip()) for i, note in revisions]
        for row in self.variants:
            row.form.model_version.choices = versions
            row.form.revision_id.choices = published

    def variant_specs(self) -> list[VariantSpec]:
        """The filled-in rows as variants; ExperimentError for a half-filled row."""
        specs = []
        for number, entry in enumerate(self.variants, start=1):
            row: VariantRow = entry.form
            if row.is_empty():
                continue
            key = (row.key.data or "").strip().lower()
            if not key:
                raise ExperimentError(f"Variant row {number}: give the variant a key.")
            if not row.kind.data:
                raise ExperimentError(f"Variant {key!r}: choose what it serves.")
            if row.weight.data is None:
                raise ExperimentError(f"Variant {key!r}: give its traffic weight in percent.")
            revision_id = None
            if row.kind.data == "rules" and row.revision_id.data:
                revision_id = parse_id(str(row.revision_id.data))
                if revision_id is None:
                    raise ExperimentError(f"Variant {key!r}: choose a published revision.")
            specs.append(
                VariantSpec(
                    key=key,
                    label=(row.label.data or "").strip(),
                    kind=row.kind.data,
                    weight=row.weight.data,
                    model_version=(row.model_version.data or None)
                    if row.kind.data == "model"
                    else None,
                    revision_id=revision_id,
                )
            )
        return specs


class StopForm(ShopForm):
    """Stop a running experiment (a button with a CSRF token)."""


class RolloutForm(ConfirmedForm):
    """Roll out one variant to every visitor, after a confirmation page."""

    variant = SelectField("Variant to roll out", validators=[InputRequired()])

    def set_variants(self, variants: Iterable[dict[str, Any]]) -> None:
        """Offer the experiment's variants."""
        self.variant.choices = [
            SelectChoice(v["key"], v.get("label") or v["key"]) for v in variants
        ]
