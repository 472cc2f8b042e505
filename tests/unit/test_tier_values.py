"""How a tier's qualifying value is written for members and staff."""

from __future__ import annotations

from flask import Flask

from loyalty.tiers import describe_value


def test_points_are_counted_and_spend_is_money(app: Flask) -> None:
    assert describe_value(1, "points") == "1 point"
    assert describe_value(12_500, "points") == "12,500 points"
    with app.app_context():
        assert describe_value(123_456, "spend") == "£1,234.56"
