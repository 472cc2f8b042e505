"""Migration 0013 clears the order statistics the import used to write as descriptions,
so search stops matching them, and keeps every description a merchant wrote."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from shop.migrate import upgrade

GENERATED = (
    "Candles & holders. Bought in 2,089 orders by 635 customers. Usually ordered 24 at a time."
)
KEPT = "Hand-painted glass. Bought in Venice by our buyer."


def test_generated_descriptions_are_cleared_and_written_ones_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    upgrade(url, "0012")
    engine = create_engine(url)
    rows = [
        ("G1", "White Hanging Heart T-Light Holder", GENERATED),
        ("G2", "Party Bunting", "Party. Not ordered yet."),
        ("G3", "Lantern", "Lights. Bought in 1 order. Usually ordered 1 at a time."),
        ("K1", "Glass Bauble", KEPT),
    ]
    with engine.begin() as conn:
        for sku, name, description in rows:
            conn.execute(
                text(
                    "INSERT INTO products (sku, name, description, price_pence, currency,"
                    " stock_qty, active, order_count, created_at)"
                    " VALUES (:sku, :name, :d, 100, 'GBP', 5, 1, 0, '2026-11-24')"
                ),
                {"sku": sku, "name": name, "d": description},
            )
        found = conn.execute(
            text("SELECT count(*) FROM product_fts WHERE product_fts MATCH 'time'")
        )
        assert found.scalar() == 2
    upgrade(url)
    with engine.begin() as conn:
        descriptions = dict(conn.execute(text("SELECT sku, description FROM products")).all())
        matched = conn.execute(
            text("SELECT count(*) FROM product_fts WHERE product_fts MATCH 'time'")
        )
        assert matched.scalar() == 0  # the search index followed
        buyer = conn.execute(
            text("SELECT count(*) FROM product_fts WHERE product_fts MATCH 'venice'")
        )
        assert buyer.scalar() == 1
    engine.dispose()
    assert descriptions == {"G1": "", "G2": "", "G3": "", "K1": KEPT}
