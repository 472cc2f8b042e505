"""Shipping options and totals."""

from __future__ import annotations

import pytest

from shop.checkout.pricing import (
    CheckoutSettings,
    UnknownShippingMethod,
    shipping_option,
    shipping_options,
    totals,
)

SETTINGS = CheckoutSettings(standard_pence=395, express_pence=795, free_threshold_pence=5000)


def test_standard_is_free_from_the_threshold_and_express_never_is() -> None:
    below = {o.code: o.price_pence for o in shipping_options(SETTINGS, 4999)}
    at = {o.code: o.price_pence for o in shipping_options(SETTINGS, 5000)}
    assert below == {"standard": 395, "express": 795}
    assert at == {"standard": 0, "express": 795}


def test_the_standard_delivery_hint_says_free_from_the_threshold() -> None:
    below = shipping_options(SETTINGS, 4999)[0].description
    assert below == "3 to 5 working days, free on orders of £50 or more"
    odd = CheckoutSettings(free_threshold_pence=4550)
    assert shipping_options(odd, 100)[0].description.endswith("free on orders of £45.50 or more")
    assert shipping_options(SETTINGS, 5000)[0].description == "3 to 5 working days"


def test_totals_add_lines_and_shipping_and_never_go_negative() -> None:
    express = shipping_option(SETTINGS, "express", 590)
    assert totals([295, 295], express).total_pence == 590 + 795
    assert totals([100], express, discount_pence=500).total_pence == 795


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(UnknownShippingMethod):
        shipping_option(SETTINGS, "drone", 100)


@pytest.mark.parametrize("country", ["France", "Ireland", "Netherlands", "Poland"])
def test_delivery_to_europe_has_its_own_prices_times_and_threshold(country: str) -> None:
    below = shipping_options(SETTINGS, 14_999, country=country)
    at = shipping_options(SETTINGS, 15_000, country=country)
    assert {o.code: o.price_pence for o in below} == {"standard": 995, "express": 1995}
    assert {o.code: o.price_pence for o in at} == {"standard": 0, "express": 1995}
    assert below[0].description == "5 to 8 working days, free on orders of £150 or more"
    assert below[1].description == "2 to 3 working days"
    # A UK order of the same value is free; the UK's next-day express stays UK only.
    uk = shipping_options(SETTINGS, 14_999)
    assert uk[0].price_pence == 0 and uk[1].description == "Next working day"


def test_free_standard_delivery_as_a_benefit_applies_in_europe_too() -> None:
    member = shipping_options(SETTINGS, 1000, country="Germany", free_standard=True)
    assert [o.price_pence for o in member] == [0, 1995]
    assert member[0].description == "5 to 8 working days, free for you as a member"
    assert shipping_option(SETTINGS, "standard", 1000, country="Germany").price_pence == 995


def test_european_prices_come_from_the_config() -> None:
    config = {
        "SHIPPING_STANDARD_PENCE": 395,
        "SHIPPING_EXPRESS_PENCE": 795,
        "FREE_SHIPPING_THRESHOLD_PENCE": 5000,
        "SHIPPING_EUROPE_STANDARD_PENCE": 1250,
        "SHIPPING_EUROPE_EXPRESS_PENCE": 2500,
        "FREE_SHIPPING_EUROPE_THRESHOLD_PENCE": 20_000,
        "RESERVATION_MINUTES": 30,
        "SHOP_BASE_URL": "http://shop.test",
    }
    settings = CheckoutSettings.from_config(config)
    rates = settings.rates("Spain")
    assert (rates.standard_pence, rates.express_pence) == (1250, 2500)
    assert rates.free_threshold_pence == 20_000
    assert settings.rates("United Kingdom").standard_pence == 395
