"""Pricing with member benefits: tier discount, free standard delivery, points redemption."""

from __future__ import annotations

import pytest

from shop.checkout.pricing import (
    CheckoutSettings,
    RedemptionError,
    RedemptionRules,
    check_redemption,
    max_points_for,
    shipping_option,
    shipping_options,
    tier_discount,
    totals,
)

SETTINGS = CheckoutSettings(standard_pence=395, express_pence=795, free_threshold_pence=5000)
RULES = RedemptionRules(point_value_pence=1, min_points=500, max_points=20_000, max_share_pct=50)


def test_the_tier_discount_is_a_share_of_the_goods_rounded_down() -> None:
    assert tier_discount(10_000, 500) == 500
    assert tier_discount(999, 500) == 49  # 49.95p: never more than the rate
    assert tier_discount(1234, 1250) == 154
    assert tier_discount(1000, 0) == 0
    assert tier_discount(0, 500) == 0
    assert tier_discount(1000, 20_000) == 1000  # capped at 100%


def test_free_shipping_makes_standard_free_below_the_threshold_but_never_express() -> None:
    member = {o.code: o.price_pence for o in shipping_options(SETTINGS, 1000, free_standard=True)}
    assert member == {"standard": 0, "express": 795}
    assert (
        "free for you as a member"
        in shipping_options(SETTINGS, 1000, free_standard=True)[0].description
    )
    assert shipping_option(SETTINGS, "standard", 1000, free_standard=True).price_pence == 0
    assert shipping_option(SETTINGS, "standard", 1000).price_pence == 395


def test_points_are_capped_by_the_share_of_the_goods_and_the_programme_maximum() -> None:
    assert max_points_for(3000, RULES) == 1500
    assert max_points_for(100_000, RULES) == 20_000
    assert max_points_for(0, RULES) == 0
    pricier = RedemptionRules(
        point_value_pence=2, min_points=100, max_points=5000, max_share_pct=25
    )
    assert max_points_for(4000, pricier) == 500  # £10 of £40, at 2p a point


def test_a_valid_redemption_gives_its_value_in_pence() -> None:
    assert check_redemption(0, 0, 1000, RULES) == 0
    assert check_redemption(1000, 1200, 4000, RULES) == 1000
    assert check_redemption(500, 500, 1000, RULES) == 500  # exactly half of £10
    pricier = RedemptionRules(
        point_value_pence=2, min_points=100, max_points=5000, max_share_pct=50
    )
    assert check_redemption(150, 200, 1000, pricier) == 300


@pytest.mark.parametrize(
    ("points", "balance", "goods", "message"),
    [
        (1000, 740, 10_000, "You have only 740 points."),
        (2_000, 1_500, 10_000, "You have only 1,500 points."),
        (400, 1000, 10_000, "Use at least 500 points, or none."),
        (2000, 5000, 3000, "You can use at most 1,500 points on this order."),
        (25_000, 30_000, 100_000, "You can use at most 20,000 points on this order."),
        (500, 1000, 900, "This order is too small to use points on"),
        (-5, 1000, 10_000, "0 or more"),
    ],
)
def test_a_redemption_outside_the_rules_is_refused_with_a_clear_message(
    points: int, balance: int, goods: int, message: str
) -> None:
    with pytest.raises(RedemptionError, match=message.replace(".", r"\.")):
        check_redemption(points, balance, goods, RULES)


@pytest.mark.parametrize("bad", [2.5, "100", True, None])
def test_only_whole_numbers_of_points_are_accepted(bad: object) -> None:
    with pytest.raises(RedemptionError, match="whole number"):
        check_redemption(bad, 5000, 10_000, RULES)  # type: ignore[arg-type]


def test_totals_carry_each_discount_and_the_sum() -> None:
    standard = shipping_option(SETTINGS, "standard", 3000, free_standard=True)
    result = totals(
        [2000, 1000],
        standard,
        tier_discount_pence=150,
        points_discount_pence=1000,
        points_redeemed=1000,
        free_shipping=True,
    )
    assert (result.subtotal_pence, result.shipping_pence) == (3000, 0)
    assert (result.tier_discount_pence, result.points_discount_pence) == (150, 1000)
    assert result.discount_pence == 1150
    assert result.points_redeemed == 1000 and result.free_shipping
    assert result.total_pence == 3000 - 1150


def test_discounts_never_take_the_goods_below_zero_and_shipping_is_still_paid() -> None:
    express = shipping_option(SETTINGS, "express", 500)
    result = totals([500], express, tier_discount_pence=400, points_discount_pence=400)
    assert result.tier_discount_pence == 400
    assert result.points_discount_pence == 100
    assert result.total_pence == 795


def test_without_benefits_totals_are_as_before() -> None:
    standard = shipping_option(SETTINGS, "standard", 590)
    result = totals([295, 295], standard)
    assert result.discount_pence == result.tier_discount_pence == result.points_redeemed == 0
    assert result.total_pence == 590 + 395
