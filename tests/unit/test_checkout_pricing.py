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


def test_totals_add_lines_and_shipping_and_never_go_negative() -> None:
    express = shipping_option(SETTINGS, "express", 590)
    assert totals([295, 295], express).total_pence == 590 + 795
    assert totals([100], express, discount_pence=500).total_pence == 795


def test_an_unknown_method_is_refused() -> None:
    with pytest.raises(UnknownShippingMethod):
        shipping_option(SETTINGS, "drone", 100)
