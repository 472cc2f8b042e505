"""Number fields take plain numbers written with 0-9, and a mistyped one gets one message."""

from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.validators import InputRequired, NumberRange, Optional

from shop.form_fields import FiniteDecimalField, WholeNumberField


class _Form(Form):
    count = WholeNumberField(validators=[Optional(), NumberRange(min=1, max=24)])
    weight = FiniteDecimalField(validators=[Optional(), NumberRange(min=0, max=100)])


def _check(**typed: str) -> _Form:
    form = _Form(MultiDict(typed))
    form.validate()
    return form


@pytest.mark.parametrize(
    ("count", "weight", "expected"),
    [
        ("3", "1.5", (3, Decimal("1.5"))),
        (" 12 ", "+2e1", (12, Decimal("20"))),
        ("", "", (None, None)),  # empty is left to Optional
    ],
)
def test_plain_numbers_are_read(count: str, weight: str, expected: tuple[object, object]) -> None:
    form = _check(count=count, weight=weight)
    assert (form.count.data, form.weight.data) == expected
    assert not form.errors


@pytest.mark.parametrize("typed", ["1_0", "\u0661\u0662", "1 0", "0x10", "ten", "1.5"])
def test_a_whole_number_field_refuses_anything_else_with_one_message(typed: str) -> None:
    form = _check(count=typed)
    assert form.errors == {"count": ["Not a valid integer value."]}, typed
    assert form.count.data is None


@pytest.mark.parametrize(
    "typed", ["1_0", "\u0663", "NaN", "sNaN", "Infinity", "-inf", "1,5", "abc"]
)
def test_a_decimal_field_refuses_anything_else_with_one_message(typed: str) -> None:
    form = _check(weight=typed)
    assert form.errors == {"weight": ["Enter a number, such as 1.5."]}, typed
    assert form.weight.data is None


def test_a_readable_number_out_of_range_gets_the_range_message() -> None:
    form = _check(count="99", weight="101")
    assert form.errors == {
        "count": ["Number must be between 1 and 24."],
        "weight": ["Number must be between 0 and 100."],
    }


class _RequiredForm(Form):
    count = WholeNumberField(
        validators=[InputRequired("Enter a count."), NumberRange(min=0, max=24)]
    )
    weight = FiniteDecimalField(
        validators=[InputRequired("Enter a weight."), NumberRange(min=0, max=100)]
    )


@pytest.mark.parametrize("typed", ["", " ", "  \t "])
def test_only_spaces_in_a_required_number_field_gets_its_one_message(typed: str) -> None:
    form = _RequiredForm(MultiDict({"count": typed, "weight": typed}))
    assert not form.validate()
    assert form.errors == {"count": ["Enter a count."], "weight": ["Enter a weight."]}


def test_only_spaces_in_an_optional_number_field_is_empty() -> None:
    form = _check(count="   ", weight=" ")
    assert (form.count.data, form.weight.data) == (None, None)
    assert not form.errors
