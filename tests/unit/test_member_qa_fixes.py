"""QA fixes for members, at unit level."""

from __future__ import annotations

from loyalty.models import Tier
from loyalty.notifications import benefit_lines
from shop.checkout.pricing import CheckoutSettings, member_free_delivery


def test_the_free_delivery_benefit_is_called_free_standard_delivery() -> None:
    gold = Tier(name="Gold", discount_bp=500, multiplier_pct=150, free_shipping=True)
    lines = benefit_lines(gold)
    assert "Free standard delivery" in lines
    assert not any("shipping" in line.lower() for line in lines)


def test_free_delivery_never_takes_an_order_below_the_smallest_card_payment() -> None:
    settings = CheckoutSettings(standard_pence=395, min_charge_pence=30)
    assert member_free_delivery(4, settings) == "Free delivery applies from £0.30."
    assert member_free_delivery(29, settings) == "Free delivery applies from £0.30."
    assert member_free_delivery(30, settings) is None
    assert member_free_delivery(5000, settings) is None
