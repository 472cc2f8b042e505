"""Shipping options and order totals, computed from catalogue prices only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shop.money import format_money

HOME_COUNTRY = "United Kingdom"


@dataclass(frozen=True)
class DeliveryRates:
    """What delivery to one zone (the UK, or Europe) costs and how long it takes."""

    standard_pence: int
    standard_days: str
    express_pence: int
    express_days: str
    free_threshold_pence: int  # standard delivery is free from here up


@dataclass(frozen=True)
class CheckoutSettings:
    """The checkout's configurable numbers (from the app config)."""

    standard_pence: int = 395
    express_pence: int = 795
    free_threshold_pence: int = 5000
    # Every other country the shop delivers to is in Europe (`form_fields.COUNTRIES`).
    europe_standard_pence: int = 995
    europe_express_pence: int = 1995
    europe_free_threshold_pence: int = 15000
    reservation_minutes: int = 30
    base_url: str = "http://127.0.0.1:5000"
    currency: str = "GBP"
    shop_name: str = "Hearth & Parcel"
    # Stripe refuses card payments below this (30p for GBP); smaller orders can't be paid.
    min_charge_pence: int = 30
    vat_rate_bp: int = 2000  # prices include VAT at this rate

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CheckoutSettings:
        """Read the settings from a Flask config."""
        return cls(
            standard_pence=int(config["SHIPPING_STANDARD_PENCE"]),
            express_pence=int(config["SHIPPING_EXPRESS_PENCE"]),
            free_threshold_pence=int(config["FREE_SHIPPING_THRESHOLD_PENCE"]),
            europe_standard_pence=int(config["SHIPPING_EUROPE_STANDARD_PENCE"]),
            europe_express_pence=int(config["SHIPPING_EUROPE_EXPRESS_PENCE"]),
            europe_free_threshold_pence=int(config["FREE_SHIPPING_EUROPE_THRESHOLD_PENCE"]),
            reservation_minutes=int(config["RESERVATION_MINUTES"]),
            base_url=str(config["SHOP_BASE_URL"]),
            currency=str(config.get("CURRENCY", "GBP")),
            shop_name=str(config.get("SHOP_NAME", "Hearth & Parcel")),
            vat_rate_bp=int(config.get("VAT_RATE_BP", 2000)),
        )

    def rates(self, country: str = HOME_COUNTRY) -> DeliveryRates:
        """Delivery prices and times to `country`: the UK's, or Europe's for any other."""
        if country == HOME_COUNTRY:
            return DeliveryRates(
                self.standard_pence,
                "3 to 5 working days",
                self.express_pence,
                "Next working day",
                self.free_threshold_pence,
            )
        return DeliveryRates(
            self.europe_standard_pence,
            "5 to 8 working days",
            self.europe_express_pence,
            "2 to 3 working days",
            self.europe_free_threshold_pence,
        )


def below_minimum_charge(total_pence: int, settings: CheckoutSettings) -> str | None:
    """Why an order of this total cannot be paid by card (below the minimum), or None."""
    if total_pence >= settings.min_charge_pence:
        return None
    least = format_money(settings.min_charge_pence, settings.currency)
    return (
        f"Card payments start at {least}, and this order comes to less. "
        "Add something to your basket, or use fewer points."
    )


def member_free_delivery(goods_pence: int, settings: CheckoutSettings) -> str | None:
    """Why a member's free standard delivery does not apply to these goods, or None.

    `goods_pence` is what the goods cost after every discount. Free delivery must not
    bring an order below the smallest card payment, or the member could not pay for it at
    all; below that, standard delivery is charged as for anyone else.
    """
    if goods_pence >= settings.min_charge_pence:
        return None
    return (
        f"Free delivery applies from {format_money(settings.min_charge_pence, settings.currency)}."
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
    """Subtotal, shipping, discount and total of an order, in pence.

    `discount_pence` is the whole discount on the goods: any plain discount plus the
    discount code's (`promo_code`) plus the member's tier discount plus the points redeemed
    (`points_redeemed` points worth `points_discount_pence`).
    """

    subtotal_pence: int
    shipping_pence: int
    discount_pence: int = 0
    promo_discount_pence: int = 0
    promo_code: str | None = None
    tier_discount_pence: int = 0
    points_discount_pence: int = 0
    points_redeemed: int = 0
    free_shipping: bool = False
    # Why a member benefit on delivery did not apply (e.g. below the card minimum).
    shipping_note: str = ""

    @property
    def total_pence(self) -> int:
        """What the shopper pays."""
        return max(self.subtotal_pence - self.discount_pence, 0) + self.shipping_pence


@dataclass(frozen=True)
class RedemptionRules:
    """How points turn into a discount: their value, and the limits per order."""

    point_value_pence: int = 1
    min_points: int = 500
    max_points: int = 20_000
    max_share_pct: int = 50  # at most this share of the goods (after the tier discount)


class RedemptionError(ValueError):
    """Points that cannot be used on this order; the message is safe to show."""


class UnknownShippingMethod(ValueError):
    """A shipping method code that the shop does not offer."""


def shipping_options(
    settings: CheckoutSettings,
    subtotal_pence: int,
    *,
    country: str = HOME_COUNTRY,
    free_standard: bool = False,
    because: str = "for you as a member",
) -> list[ShippingOption]:
    """The shipping methods to `country`; standard is free from its zone's threshold up.

    `free_standard` makes standard delivery free whatever the subtotal (a member benefit,
    or a discount code: `because` says which); express is always charged.
    """
    rates = settings.rates(country)
    over_threshold = subtotal_pence >= rates.free_threshold_pence
    free = free_standard or over_threshold
    if free_standard and not over_threshold:
        note = f", free {because}"
    elif free:
        note = ""
    else:
        # Free *from* the threshold: "over £50" would tell a £50 basket it pays.
        threshold = format_money(rates.free_threshold_pence, settings.currency)
        note = f", free on orders of {threshold.removesuffix('.00')} or more"
    return [
        ShippingOption(
            "standard",
            "Standard delivery",
            rates.standard_days + note,
            0 if free else rates.standard_pence,
        ),
        ShippingOption("express", "Express delivery", rates.express_days, rates.express_pence),
    ]


def shipping_option(
    settings: CheckoutSettings,
    code: str,
    subtotal_pence: int,
    *,
    country: str = HOME_COUNTRY,
    free_standard: bool = False,
) -> ShippingOption:
    """The option with this code; raise UnknownShippingMethod for anything else."""
    options = shipping_options(
        settings, subtotal_pence, country=country, free_standard=free_standard
    )
    for option in options:
        if option.code == code:
            return option
    raise UnknownShippingMethod(f"unknown shipping method {code!r}")


def tier_discount(goods_pence: int, discount_bp: int) -> int:
    """A percentage discount (basis points, 500 = 5%) on the goods, rounded down to a penny."""
    if goods_pence <= 0 or discount_bp <= 0:
        return 0
    return goods_pence * min(discount_bp, 10_000) // 10_000


def max_points_for(goods_pence: int, rules: RedemptionRules) -> int:
    """The most points this order's goods (after the tier discount) can take."""
    if goods_pence <= 0 or rules.point_value_pence <= 0:
        return 0
    by_share = goods_pence * max(rules.max_share_pct, 0) // 100 // rules.point_value_pence
    return max(min(by_share, rules.max_points), 0)


def check_redemption(requested: int, balance: int, goods_pence: int, rules: RedemptionRules) -> int:
    """The points discount in pence for `requested` points; raise RedemptionError if not allowed.

    Zero points is always allowed (no redemption). Otherwise the points must be a whole
    number within the member's balance, at least the minimum, and at most the maximum for
    this order (the programme's maximum, and `max_share_pct` of the goods).
    """
    if isinstance(requested, bool) or not isinstance(requested, int):
        raise RedemptionError("Enter a whole number of points.")
    if requested < 0:
        raise RedemptionError("Enter a number of points of 0 or more.")
    if requested == 0:
        return 0
    if requested > balance:
        raise RedemptionError(f"You have only {max(balance, 0):,} points.")
    if requested < rules.min_points:
        raise RedemptionError(f"Use at least {rules.min_points:,} points, or none.")
    most = max_points_for(goods_pence, rules)
    if most < rules.min_points:
        raise RedemptionError(
            f"This order is too small to use points on: at least {rules.min_points:,} points "
            f"can be used, worth up to {rules.max_share_pct}% of the goods."
        )
    if requested > most:
        raise RedemptionError(f"You can use at most {most:,} points on this order.")
    return requested * rules.point_value_pence


def totals(
    line_totals: Sequence[int],
    shipping: ShippingOption | None,
    discount_pence: int = 0,
    *,
    promo_discount_pence: int = 0,
    promo_code: str | None = None,
    tier_discount_pence: int = 0,
    points_discount_pence: int = 0,
    points_redeemed: int = 0,
    free_shipping: bool = False,
    shipping_note: str = "",
) -> Totals:
    """Add up an order from its line totals, shipping option and discounts.

    The discounts never take the goods below zero and apply in this order: the code's
    discount is capped at the goods, the tier discount at what is left after it, and the
    points discount at what is left after both.
    """
    subtotal = sum(line_totals)
    promo = min(max(promo_discount_pence, 0), subtotal)
    tier = min(max(tier_discount_pence, 0), subtotal - promo)
    points = min(max(points_discount_pence, 0), subtotal - promo - tier)
    return Totals(
        subtotal_pence=subtotal,
        shipping_pence=shipping.price_pence if shipping else 0,
        discount_pence=discount_pence + promo + tier + points,
        promo_discount_pence=promo,
        promo_code=promo_code if promo else None,
        tier_discount_pence=tier,
        points_discount_pence=points,
        points_redeemed=points_redeemed if points else 0,
        free_shipping=free_shipping,
        shipping_note=shipping_note,
    )
