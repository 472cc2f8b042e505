import pytest

from shop.money import Money, format_money, plain_amount, to_minor


@pytest.mark.parametrize(
    ("minor", "text"),
    [(0, "£0.00"), (5, "£0.05"), (295, "£2.95"), (123456, "£1,234.56"), (-150, "\u2212£1.50")],
)
def test_format_money(minor: int, text: str) -> None:
    assert format_money(minor, "GBP") == text


@pytest.mark.parametrize(
    ("minor", "text"), [(0, "0.00"), (5, "0.05"), (295, "2.95"), (-5, "-0.05"), (-150, "-1.50")]
)
def test_plain_amount_keeps_the_sign_off_the_pence(minor: int, text: str) -> None:
    assert plain_amount(minor) == text


def test_format_money_other_currency() -> None:
    assert format_money(1000, "EUR") == "€10.00"
    assert format_money(1000, "SEK") == "SEK 10.00"


@pytest.mark.parametrize(
    ("amount", "minor"), [("2.55", 255), (2.55, 255), ("0.125", 13), ("1", 100), ("0.01", 1)]
)
def test_to_minor_rounds_half_up_without_float_error(amount: str | float, minor: int) -> None:
    assert to_minor(amount) == minor


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", ""])
def test_to_minor_rejects_non_numbers(bad: str) -> None:
    with pytest.raises(ValueError):
        to_minor(bad)


def test_money_arithmetic_keeps_currency() -> None:
    assert Money(250) + Money(45) == Money(295)
    assert Money(295).times(3) == Money(885)
    assert str(Money(885)) == "£8.85"
    with pytest.raises(ValueError):
        Money(1, "GBP") + Money(1, "EUR")


def test_money_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money(2.5)  # type: ignore[arg-type]
