"""Customer analytics' SQL: per-customer totals, gaps between order days, monthly rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from shop.analytics import customer_data
from shop.analytics.cohorts import MonthRow, month_index
from shop.analytics.rfm import CustomerTotals
from tests import factories


def _shop(session: Session) -> dict[str, int]:
    ann = factories.user(session, "ann@example.com")
    ghost = factories.user(session, "ghost@example.com", "Ghost")
    staff = factories.staff(session, "admin")
    order = factories.bare_order
    order(session, "A1", datetime(2026, 1, 3, 9), 1000, user_id=ann.id)
    order(session, "A2", datetime(2026, 1, 3, 17), 500, user_id=ann.id)  # the same day
    order(session, "A3", datetime(2026, 1, 13, 9), 2000, user_id=ann.id, status="shipped")
    order(session, "A4", datetime(2026, 2, 22, 9), 4000, user_id=ann.id,
          status="partially_refunded", refunded_pence=1000)  # fmt: skip
    order(session, "AR", datetime(2026, 2, 25, 9), -700, user_id=ann.id, kind="return",
          status="refunded")  # fmt: skip
    order(session, "AX", datetime(2026, 3, 1, 9), 9999, user_id=ann.id, status="refunded")
    order(session, "AP", datetime(2026, 3, 2, 9), 9999, user_id=ann.id, status="pending_payment")
    order(session, "GR", datetime(2026, 1, 5, 9), -300, user_id=ghost.id, kind="return",
          status="refunded")  # fmt: skip
    order(session, "G1", datetime(2026, 1, 20, 9), 1500, email=" Guest@Example.COM ")
    order(session, "G2", datetime(2026, 1, 30, 9), 2500, email="guest@example.com")
    order(session, "N1", datetime(2026, 1, 7, 9), 800, source="import")  # nobody's
    order(session, "N2", datetime(2026, 1, 8, 9), 800, email="  ")  # nobody's either
    order(session, "S1", datetime(2026, 1, 9, 9), 99_999, user_id=staff.id)
    session.commit()
    return {"ann": ann.id, "ghost": ghost.id}


def test_totals_are_per_customer_with_returns_off_the_spend(session: Session) -> None:
    ids = _shop(session)
    data = customer_data.customer_totals(session)
    by_key = {row.key: row for row in data.totals}
    # Ann: four kept orders (not the refunded or unpaid ones), less the refund and return.
    assert by_key[ids["ann"]] == CustomerTotals(ids["ann"], 4, date(2026, 2, 22), 5800)
    # A guest's address, however written, is one customer.
    assert by_key["guest@example.com"] == CustomerTotals(
        "guest@example.com", 2, date(2026, 1, 30), 4000
    )
    # Only a return (bought before the records): no customer. Staff: never.
    assert set(by_key) == {ids["ann"], "guest@example.com"}
    assert data.unidentified_orders == 2


def test_the_median_gap_counts_order_days_not_orders(session: Session) -> None:
    assert customer_data.median_days_between_orders(session) is None
    _shop(session)
    # Ann's order days: 3 Jan, 13 Jan, 22 Feb (gaps 10 and 40); the guest's: 20 and 30 Jan (10).
    assert customer_data.median_days_between_orders(session) == 10


def test_month_rows_add_up_each_customers_month(session: Session) -> None:
    ids = _shop(session)
    rows = {(r.customer, r.month): r for r in customer_data.month_rows(session)}
    jan, feb = month_index(date(2026, 1, 1)), month_index(date(2026, 2, 1))
    assert rows[(ids["ann"], jan)] == MonthRow(ids["ann"], jan, 3, 3500)
    assert rows[(ids["ann"], feb)] == MonthRow(ids["ann"], feb, 1, 2300)  # 3000 - the return
    assert rows[("guest@example.com", jan)] == MonthRow("guest@example.com", jan, 2, 4000)
    assert rows[(ids["ghost"], jan)] == MonthRow(ids["ghost"], jan, 0, -300)
    assert len(rows) == 4
