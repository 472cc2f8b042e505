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
