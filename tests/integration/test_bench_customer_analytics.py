"""The customer analytics benchmark's 10x database: copies that the analytics count as new
customers and orders (SQLite only: the benchmark runs on SQLite files)."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench.customer_analytics_bench import multiply_orders
from shop.analytics import customers
from shop.orders.models import Order
from tests import factories


def test_multiply_orders_makes_new_customers_with_shifted_orders(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "shop.sqlite3"
    shutil.copyfile(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    placed = datetime(2026, 11, 20, 10, 30, 15, 123456)
    with Session(engine) as session:
        ann = factories.user(session)
        factories.bare_order(session, "S1", placed, 5000, user_id=ann.id)
        factories.bare_order(session, "S2", placed, 2000, email="guest@example.com")
        factories.bare_order(session, "R1", placed, -700, kind="return", user_id=ann.id)
        session.commit()

    multiply_orders(path, 3)

    with Session(engine) as session:
        numbers = session.scalars(select(Order.number).order_by(Order.id)).all()
        assert numbers == ["S1", "S2", "R1", "S1-1", "S2-1", "R1-1", "S1-2", "S2-2", "R1-2"]
        assert session.scalar(select(func.count(func.distinct(Order.user_id)))) == 3
        times = session.scalars(select(Order.placed_at).where(Order.number.like("S1%"))).all()
        assert sorted(times) == [placed.replace(day=18), placed.replace(day=19), placed]
        page = customers.overview(session, date(2026, 11, 25))
        assert page.customers == 6  # Ann and the guest, three times over
        assert page.value is not None and page.value.mean_value_pence == (4300 + 2000) // 2
    engine.dispose()
