"""Shipping options and order totals, computed from catalogue prices only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckoutSettings:
    """The checkout's configurable numbers (from the app config)."""

    standard_pence: int = 395
    express_pence: int = 795
    free_threshold_pence: int = 5000
    reservation_minutes: int = 30
    base_url: str = "http://127.0.0.1:5000"
    currency: str = "GBP"
    shop_name: str = "Hearth & Parcel"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CheckoutSettings:
        """Read the settings from a Flask config."""
        return cls(
            standard_pence=int(config["SHIPPING_STANDARD_PENCE"]),
            express_pence=int(config["SHIPPING_EXPRESS_PENCE"]),
            free_threshold_pence=int(config["FREE_SHIPPING_THRESHOLD_PENCE"]),
            reservation_minutes=int(config["RESERVATION_MINUTES"]),
            base_url=str(config["SHOP_BASE_URL"]),
            currency=str(config.get("CURRENCY", "GBP")),
            shop_name=str(config.get("SHOP_NAME", "Hearth & Parcel")),
        )


@dataclass(frozen=True)
class ShippingOption:
    """A way to ship an order, priced for a given subtotal."""

    code: str
    label: str
    description: str
    price_pence: int


@dataclass(frozen=True)
class Totals:
    """Subtotal, shipping, discount and total of an order, in pence."""

    subtotal_pence: int
    shipping_pence: int
    discount_pence: int = 0

    @property
    def total_pence(self) -> int:
        """What the shopper pays."""
        return max(self.subtotal_pence - self.discount_pence, 0) + self.shipping_pence


class UnknownShippingMethod(ValueError):
    """A shipping method code that the shop does not offer."""


def shipping_options(settings: CheckoutSettings, subtotal_pence: int) -> list[ShippingOption]:
    """The shipping methods on offer; standard is free from the threshold up."""
    free = subtotal_pence >= settings.free_threshold_pence
    return [
        ShippingOption(
            "standard",
            "Standard delivery",
            "3 to 5 working days"
            + ("" if free else f", free on orders over £{settings.free_threshold_pence / 100:g}"),
            0 if free else settings.standard_pence,
        ),
        ShippingOption("express", "Express delivery", "Next working day", settings.express_pence),
    ]


def shipping_option(settings: CheckoutSettings, code: str, subtotal_pence: int) -> ShippingOption:
    """The option with this code; raise UnknownShippingMethod for anything else."""
    for option in shipping_options(settings, subtotal_pence):
        if option.code == code:
            return option
    raise UnknownShippingMethod(f"unknown shipping method {code!r}")


def totals(
    line_totals: Sequence[int], shipping: ShippingOption | None, discount_pence: int = 0
) -> Totals:
    """Add up an order from its line totals and shipping option."""
    return Totals(
        subtotal_pence=sum(line_totals),
        shipping_pence=shipping.price_pence if shipping else 0,
        discount_pence=discount_pence,
    )
