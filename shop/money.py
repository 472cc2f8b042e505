"""Money is an integer number of minor units, tagged with a currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
MINUS = "\u2212"  # the typographic minus the totals' discount lines use, not a hyphen


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (pence) of a currency."""

    minor: int
    currency: str = "GBP"

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int number of minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def times(self, quantity: int) -> Money:
        """Return this amount multiplied by a whole quantity."""
        return Money(self.minor * int(quantity), self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


def format_money(minor: int, currency: str = "GBP") -> str:
    """Format minor units for display, e.g. 1234 GBP -> '£12.34', -150 -> MINUS + '£1.50'."""
    sign = MINUS if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 100)
    symbol = SYMBOLS.get(currency, currency + " ")
    return f"{sign}{symbol}{whole:,}.{frac:02d}"


def plain_amount(minor: int) -> str:
    """Minor units as a plain decimal amount, for forms, CSV and schema.org: 295 -> '2.95',
    -150 -> '-1.50'."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(int(minor)), 100)
    return f"{sign}{whole}.{frac:02d}"


def to_minor(amount: str | float | Decimal) -> int:
    """Convert a decimal amount of major units (e.g. '2.55') to minor units, rounding half up."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not a money amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a money amount: {amount!r}")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
