"""QA fixes for members, at unit level."""

from __future__ import annotations

from loyalty.models import Tier
from loyalty.notifications import benefit_lines


def test_the_free_delivery_benefit_is_called_free_standard_delivery() -> None:
    gold = Tier(name="Gold", discount_bp=500, multiplier_pct=150, free_shipping=True)
    lines = benefit_lines(gold)
    assert "Free standard delivery" in lines
    assert not any("shipping" in line.lower() for line in lines)
