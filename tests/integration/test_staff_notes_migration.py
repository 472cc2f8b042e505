"""Migration 0035 moves the staff-only texts of order timelines into `staff_note`, so the
shopper's order page stops showing them, and leaves the shopper's own notes alone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from shop.migrate import upgrade

STEPS = [
    ("pending_payment", "paid", "Payment received (webhook)"),
    ("paid", "paid", "Payment flagged: amount mismatch: paid £1.00, order total is £9.00"),
    ("paid", "paid", "Restocked 2 item(s)"),
    ("paid", "partially_refunded", "Refunded £3.00"),
    ("pending_payment", "cancelled", "Cancelled: suspected fraud"),
    ("pending_payment", "cancelled", "Cancelled"),
    ("pending_payment", "pending_payment", "Stock hold expired"),
]


def test_staff_only_texts_move_to_the_staff_note(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    upgrade(url, "0034")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (number, kind, status, source, currency, subtotal_pence,"
                " shipping_pence, total_pence, placed_at)"
                " VALUES ('HP-1', 'order', 'paid', 'web', 'GBP', 900, 0, 900, '2026-11-26')"
            )
        )
        order_id = conn.execute(text("SELECT id FROM orders")).scalar_one()
        for from_status, to_status, note in STEPS:
            conn.execute(
                text(
                    "INSERT INTO order_status_changes (order_id, from_status, to_status, note,"
                    " created_at) VALUES (:o, :f, :t, :n, '2026-11-26')"
                ),
                {"o": order_id, "f": from_status, "t": to_status, "n": note},
            )
    upgrade(url)
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT note, staff_note FROM order_status_changes ORDER BY id")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("Payment received (webhook)", ""),
        ("", "Payment flagged: amount mismatch: paid £1.00, order total is £9.00"),
        ("", "Restocked 2 item(s)"),
        ("Refunded £3.00", ""),
        ("Cancelled", "suspected fraud"),
        ("Cancelled", ""),
        ("Stock hold expired", ""),
    ]
