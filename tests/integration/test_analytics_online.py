"""Online recommendation metrics on hand-made impressions, events and orders, where every
expected count, rate and revenue is known exactly (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.analytics.online import (
    Funnel,
    MetricsInputError,
    Period,
    funnel_by,
    online_report,
    parse_period,
    parse_placement,
)
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories

NOV1, NOV2, NOV3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
PERIOD = Period(NOV1, NOV3)


def _rec(n: int) -> str:
    return f"{n:032x}"


def _impression(n: int, placement: str, at: datetime, variant: str | None = None) -> dict:
    return {
        "rec_id": _rec(n),
        "placement": placement,
        "model_version": "v1",
        "strategy": "personal",
        "variant": variant,
        "visitor_id": f"visitor-{n}",
        "user_id": None,
        "product_ids": [1, 2, 3],
        "created_at": at,
    }


def _event(kind: str, at: datetime, rec: int | None, **extra: object) -> dict:
    row = {
        "kind": kind,
        "visitor_id": "v",
        "user_id": None,
        "product_id": None,
        "order_id": None,
        "quantity": None,
        "rec_id": _rec(rec) if rec is not None else None,
        "created_at": at,
    }
    row.update(extra)
    return row


@pytest.fixture
def shown(session: Session) -> None:
    """Impressions and events whose metrics are worked out in the test below."""
    items = factories.small_catalogue(session)
    heart, jumbo, lantern = items["heart"], items["jumbo"], items["lantern"]
    first = factories.order(session, None, "HP-1", [(heart, 2)])  # 2 x 295
    second = factories.order(session, None, "HP-2", [(jumbo, 3), (lantern, 1)])
    # Sold at 250, though the product now costs 195.
    second.lines[0].unit_price_pence, second.lines[0].line_total_pence = 250, 750
    second.subtotal_pence = second.total_pence = 750 + 339
    session.commit()
    session.execute(
        insert(Impression),
        [
            # 1 November: four home lists, two product-page lists.
            _impression(1, "home", datetime(2026, 11, 1, 9, 0), variant="A"),
            _impression(2, "home", datetime(2026, 11, 1, 10, 0), variant="B"),
            _impression(3, "home", datetime(2026, 11, 1, 11, 0), variant="A"),
            _impression(4, "home", datetime(2026, 11, 1, 23, 59, 59), variant="B"),
            _impression(11, "product", datetime(2026, 11, 1, 12, 0)),
            _impression(12, "product", datetime(2026, 11, 1, 13, 0)),
            # 2 November: one home list.
            _impression(5, "home", datetime(2026, 11, 2, 8, 0), variant="A"),
            # Outside the period: the day before and the day after.
            _impression(20, "home", datetime(2026, 10, 31, 23, 0)),
            _impression(21, "home", datetime(2026, 11, 4, 0, 0)),
        ],
    )
    session.execute(
        insert(Event),
        [
            # List 1: clicked twice, added to the cart, bought (2 x 295 = 590).
            _event("rec_click", datetime(2026, 11, 1, 9, 1), 1, product_id=heart.id),
            _event("product_view", datetime(2026, 11, 1, 9, 1), 1, product_id=heart.id),
            _event("rec_click", datetime(2026, 11, 1, 9, 5), 1, product_id=heart.id),
            _event("cart_add", datetime(2026, 11, 1, 9, 6), 1, product_id=heart.id, quantity=2),
            _event(
                "purchase",
                datetime(2026, 11, 1, 9, 30),
                1,
                product_id=heart.id,
                order_id=first.id,
                quantity=2,
            ),
            # List 4 was shown a second before midnight and clicked after: it counts on 1 Nov.
            _event("rec_click", datetime(2026, 11, 2, 0, 0, 10), 4, product_id=heart.id),
            # A product-page list clicked once.
            _event("rec_click", datetime(2026, 11, 1, 12, 1), 11, product_id=jumbo.id),
            # List 5 (2 Nov): clicked the next day and bought, 3 at the line's 250 = 750; the
            # order's other line came from no list.
            _event("rec_click", datetime(2026, 11, 3, 8, 0), 5, product_id=jumbo.id),
            _event(
                "purchase",
                datetime(2026, 11, 3, 8, 30),
                5,
                product_id=jumbo.id,
                order_id=second.id,
                quantity=3,
            ),
            _event(
                "purchase",
                datetime(2026, 11, 3, 8, 30),
                None,
                product_id=lantern.id,
                order_id=second.id,
                quantity=1,
            ),
            # Not attributed: no list id, an unknown list id, and lists outside the period.
            _event("cart_add", datetime(2026, 11, 1, 14, 0), None, product_id=jumbo.id),
            _event("rec_click", datetime(2026, 11, 1, 14, 0), 999, product_id=jumbo.id),
            _event("rec_click", datetime(2026, 11, 1, 0, 5), 20, product_id=jumbo.id),
            _event("rec_click", datetime(2026, 11, 4, 0, 5), 21, product_id=jumbo.id),
        ],
    )
    session.commit()


def test_per_placement_and_day(session: Session, shown: None) -> None:
    report = online_report(session, PERIOD)
    cells = {(row.day, row.placement): row.funnel for row in report.rows}
    assert cells == {
        (NOV1, "home"): Funnel(
            impressions=4, clicks=3, cart_adds=1, purchases=1, revenue_pence=590, lists_clicked=2
        ),
        (NOV1, "product"): Funnel(impressions=2, clicks=1, lists_clicked=1),
        (NOV2, "home"): Funnel(
            impressions=1, clicks=1, purchases=1, revenue_pence=750, lists_clicked=1
        ),
    }
    home = cells[(NOV1, "home")]
    assert home.ctr == pytest.approx(0.5)  # lists 1 (clicked twice) and 4 of 4 lists
    assert home.add_to_cart_rate == pytest.approx(0.25)
    assert home.conversion == pytest.approx(0.25)
    assert home.purchases_per_click == pytest.approx(1 / 3)
    assert home.revenue_per_impression_pence == 147  # 590 // 4, whole pence
    assert cells[(NOV1, "product")].ctr == pytest.approx(0.5)
    assert cells[(NOV1, "product")].conversion == 0.0


def test_totals_per_day_and_per_placement(session: Session, shown: None) -> None:
    report = online_report(session, PERIOD)
    assert report.totals == Funnel(
        impressions=7, clicks=5, cart_adds=1, purchases=2, revenue_pence=1340, lists_clicked=4
    )
    assert isinstance(report.totals.revenue_pence, int)
    assert report.placements == ["home", "product"]
    assert report.by_placement()["home"] == Funnel(5, 4, 1, 2, 1340, 3)
    assert report.by_placement()["product"] == Funnel(2, 1, 0, 0, 0, 1)
    days = report.by_day()
    assert [day for day, _f in days] == [NOV1, NOV2, NOV3]
    assert days[0][1] == Funnel(6, 4, 1, 1, 590, 3)
    assert days[2][1] == Funnel()  # a day without lists is still on the trend
    assert days[2][1].ctr is None


def test_placement_filter(session: Session, shown: None) -> None:
    report = online_report(session, PERIOD, "product")
    assert report.totals == Funnel(impressions=2, clicks=1, lists_clicked=1)
    assert report.placements == ["product"]


def test_chart_data_follows_the_table(session: Session, shown: None) -> None:
    charts = online_report(session, PERIOD).chart_data()
    assert charts["impressions"]["labels"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    home = charts["impressions"]["datasets"][0]
    assert home == {"label": "home", "data": [4, 1, 0]}
    assert charts["ctr"]["datasets"][0]["data"] == [0.5, 1.0, None]
    assert charts["revenue"]["datasets"][0]["data"] == [590, 750, 0]
    assert charts["rates"]["datasets"][2]["data"] == [pytest.approx(1 / 6, abs=1e-6), 1.0, None]


def test_a_single_day_period(session: Session, shown: None) -> None:
    report = online_report(session, Period(NOV2, NOV2))
    assert report.totals == Funnel(
        impressions=1, clicks=1, purchases=1, revenue_pence=750, lists_clicked=1
    )


def test_any_breakdown_of_impressions_for_example_by_variant(session: Session, shown: None) -> None:
    found = funnel_by(
        session,
        PERIOD,
        by=[Impression.variant],
        where=[Impression.placement == "home"],
    )
    assert found == {
        ("A",): Funnel(
            impressions=3,
            clicks=3,
            cart_adds=1,
            purchases=2,
            revenue_pence=1340,
            lists_clicked=2,
        ),
        ("B",): Funnel(impressions=2, clicks=1, lists_clicked=1),
    }


def test_revenue_is_what_the_customer_paid_after_the_tier_discount(session: Session) -> None:
    items = factories.small_catalogue(session)
    heart, jumbo = items["heart"], items["jumbo"]
    order = factories.order(session, None, "HP-T", [(heart, 2), (jumbo, 1)])  # 590 + 195
    order.tier_discount_pence = 79  # a member's 10%: 59 off the hearts, 20 off the bag
    session.commit()
    session.execute(insert(Impression), [_impression(1, "home", datetime(2026, 11, 1, 9, 0))])
    at = datetime(2026, 11, 1, 9, 30)
    session.execute(
        insert(Event),
        [
            _event("purchase", at, 1, product_id=heart.id, order_id=order.id, quantity=2),
            _event("purchase", at, 1, product_id=jumbo.id, order_id=order.id, quantity=1),
        ],
    )
    session.commit()
    report = online_report(session, PERIOD)
    assert report.totals.revenue_pence == 531 + 175 == 785 - 79
    assert report.totals.revenue_per_impression_pence == 706


def test_an_empty_shop(session: Session) -> None:
    report = online_report(session, PERIOD)
    assert report.rows == [] and report.totals == Funnel()
    assert report.chart_data()["ctr"]["datasets"] == []
    assert len(report.by_day()) == 3


def test_parse_period() -> None:
    today = date(2026, 11, 23)
    assert parse_period(None, None, today=today) == Period(date(2026, 10, 25), today)
    assert parse_period("2026-11-01", "2026-11-03", today=today) == PERIOD
    assert parse_period(" 2026-11-01 ", "", today=today) == Period(NOV1, today)
    assert parse_period("", "2026-11-03", today=today).days == 30
    assert parse_period("2025-11-24", "2026-11-23", today=today).days == 365
    with pytest.raises(MetricsInputError, match="not a date"):
        parse_period("yesterday", None, today=today)
    with pytest.raises(MetricsInputError, match="before the start"):
        parse_period("2026-11-03", "2026-11-01", today=today)
    with pytest.raises(MetricsInputError, match="at most 365 days"):
        parse_period("2025-11-23", "2026-11-23", today=today)


def test_parse_placement() -> None:
    assert parse_placement("", ["home"]) is None
    assert parse_placement("home", ["home", "cart"]) == "home"
    with pytest.raises(MetricsInputError, match="Unknown placement 'attic'"):
        parse_placement("attic", ["home", "cart"])
