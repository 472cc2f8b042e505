"""VAT inside VAT-inclusive prices, and the rate setting."""

from __future__ import annotations

import pytest

from shop.config import _env_percent_bp
from shop.orders.models import Order
from shop.orders.vat import breakdown, order_vat, rate_label, vat_in


@pytest.mark.parametrize(
    ("gross", "rate", "vat"),
    [
        (985, 2000, 164),  # 164.17
        (1200, 2000, 200),
        (3, 2000, 1),  # 0.5 rounds up
        (-3, 2000, -1),  # and a refund's mirrors it
        (1000, 500, 48),  # 47.62 at the reduced rate
        (1175, 1750, 175),
        (999, 0, 0),
    ],
)
def test_vat_in_an_inclusive_amount(gross: int, rate: int, vat: int) -> None:
    assert vat_in(gross, rate) == vat


def test_the_breakdown_adds_up() -> None:
    split = breakdown(985, 2000)
    assert (split.net_pence, split.vat_pence, split.gross_pence, split.rate) == (
        821,
        164,
        985,
        "20%",
    )


def test_rates_read_as_people_write_them() -> None:
    assert [rate_label(r) for r in (2000, 1750, 500, 0)] == ["20%", "17.5%", "5%", "0%"]


def test_an_order_without_a_recorded_rate_has_no_breakdown() -> None:
    assert order_vat(Order(total_pence=985, vat_rate_bp=None)) is None
    found = order_vat(Order(total_pence=985, vat_rate_bp=2000))
    assert found is not None and found.vat_pence == 164


def test_the_rate_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, expected in (("", 2000), ("17.5", 1750), ("0", 0), (" 5 ", 500)):
        monkeypatch.setenv("SHOP_VAT_RATE_PERCENT", value)
        assert _env_percent_bp("SHOP_VAT_RATE_PERCENT", 2000) == expected
    for bad in ("twenty", "101", "-1", "20.001", "nan", "inf"):
        monkeypatch.setenv("SHOP_VAT_RATE_PERCENT", bad)
        with pytest.raises(ValueError, match="SHOP_VAT_RATE_PERCENT"):
            _env_percent_bp("SHOP_VAT_RATE_PERCENT", 2000)
