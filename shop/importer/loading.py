"""Bulk inserts for the Online Retail import: only rows whose natural key is new.

Rows are inserted in chunks with `session.execute(insert(table), [dicts])`, a Core insert
on the model's table (about a third faster than the ORM bulk path on the full dataset).
Generated ids are then read back by natural key (sku, external_ref, order number).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.categories import all_categories
from shop.catalog.models import Category, Product
from shop.db import utcnow
from shop.importer.dataset import CustomerPlan, Dataset, Invoice, ProductPlan
from shop.orders.models import Order, OrderLine
from shop.tracking.models import Event

Progress = Callable[[str, int, int], None]
CHUNK = 5_000
VISITOR_ID = "import"


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_rows(
    session: Session,
    model: type[Any],
    rows: Iterable[dict[str, Any]],
    *,
    phase: str,
    total: int,
    progress: Progress | None,
) -> int:
    """Insert dicts in chunks with a bulk INSERT, reporting progress; return the count."""
    done = 0
    if progress:
        progress(phase, 0, total)
    for batch in _chunks(rows, CHUNK):
        session.execute(insert(cast(Table, model.__table__)), batch)
        done += len(batch)
        if progress:
            progress(phase, done, total)
    return done


def load_categories(session: Session, progress: Progress | None) -> tuple[dict[str, int], int]:
    """Create missing categories (position = display order); return slug->id and the count."""
    existing = set(session.scalars(select(Category.slug)))
    rows = [
        {"slug": slug, "name": name, "position": position}
        for position, (slug, name) in enumerate(all_categories())
        if slug not in existing
    ]
    insert_rows(session, Category, rows, phase="categories", total=len(rows), progress=progress)
    ids = dict(session.execute(select(Category.slug, Category.id)).all())
    return ids, len(rows)


def load_products(
    session: Session,
    plans: list[ProductPlan],
    category_ids: dict[str, int],
    progress: Progress | None,
) -> tuple[dict[str, int], int]:
    """Insert products whose sku is new; return sku->id and how many were inserted."""
    existing = set(session.scalars(select(Product.sku)))
    now = utcnow()
    new = [p for p in plans if p.sku not in existing]
    rows = (
        {
            "sku": p.sku,
            "name": p.name,
            "description": p.description,
            "category_id": category_ids.get(p.category),
            "price_pence": p.price_pence,
            "currency": "GBP",
            "stock_qty": p.stock_qty,
            "active": True,
            "order_count": p.order_count,
            "created_at": now,
        }
        for p in new
    )
    count = insert_rows(session, Product, rows, phase="products", total=len(new), progress=progress)
    return dict(session.execute(select(Product.sku, Product.id)).all()), count


def load_customers(
    session: Session,
    plans: list[CustomerPlan],
    shift: timedelta,
    progress: Progress | None,
) -> tuple[dict[str, int], int]:
    """Insert customers whose external_ref is new (no e-mail, no password: no login)."""
    query = select(User.external_ref).where(User.external_ref.is_not(None))
    existing = set(session.scalars(query))
    new = [c for c in plans if c.ref not in existing]
    rows = (
        {
            "email": None,
            "password_hash": None,
            "name": f"Customer {c.ref}",
            "external_ref": c.ref,
            "country": c.country,
            "tracking_enabled": True,
            "created_at": c.first_seen + shift,
        }
        for c in new
    )
    count = insert_rows(session, User, rows, phase="customers", total=len(new), progress=progress)
    ids_query = select(User.external_ref, User.id).where(User.external_ref.is_not(None))
    return {ref: id_ for ref, id_ in session.execute(ids_query).all() if ref}, count


def _order_row(invoice: Invoice, user_id: int | None, shift: timedelta) -> dict[str, Any]:
    total = sum(quantity * price for _code, quantity, price in invoice.lines)
    return {
        "number": invoice.number,
        "kind": "return" if invoice.is_return else "sale",
        "user_id": user_id,
        "email": None,
        "status": "refunded" if invoice.is_return else "delivered",
        "source": "import",
        "country": invoice.country,
        "currency": "GBP",
        "subtotal_pence": total,
        "shipping_pence": 0,
        "total_pence": total,
        "placed_at": invoice.placed_at + shift,
    }


def load_orders(
    session: Session,
    data: Dataset,
    user_ids: dict[str, int],
    shift: timedelta,
    progress: Progress | None,
) -> tuple[list[tuple[Invoice, int]], int]:
    """Insert invoices whose number is new as orders; return (invoice, order id) pairs."""
    existing = set(session.scalars(select(Order.number)))
    new = [inv for number, inv in data.invoices.items() if number not in existing]
    rows = (
        _order_row(inv, user_ids.get(inv.customer_ref) if inv.customer_ref else None, shift)
        for inv in new
    )
    insert_rows(session, Order, rows, phase="orders", total=len(new), progress=progress)
    ids = dict(session.execute(select(Order.number, Order.id)).all())
    return [(inv, ids[inv.number]) for inv in new], len(new)


def load_lines(
    session: Session,
    orders: list[tuple[Invoice, int]],
    product_ids: dict[str, int],
    names: dict[str, str],
    progress: Progress | None,
) -> int:
    """Insert the lines of newly created orders, priced as on the invoice."""
    total = sum(len(inv.lines) for inv, _id in orders)
    rows = (
        {
            "order_id": order_id,
            "product_id": product_ids[code],
            "sku": code,
            "name": names[code],
            "quantity": quantity,
            "unit_price_pence": price,
            "line_total_pence": quantity * price,
        }
        for inv, order_id in orders
        for code, quantity, price in inv.lines
    )
    return insert_rows(session, OrderLine, rows, phase="lines", total=total, progress=progress)


def load_events(
    session: Session,
    orders: list[tuple[Invoice, int]],
    product_ids: dict[str, int],
    user_ids: dict[str, int],
    shift: timedelta,
    progress: Progress | None,
) -> int:
    """Insert a purchase event per line of each new sale order of a known customer."""
    purchases = [
        (inv, order_id, user_ids[inv.customer_ref])
        for inv, order_id in orders
        if not inv.is_return and inv.customer_ref
    ]
    total = sum(len(inv.lines) for inv, _order, _user in purchases)
    rows = (
        _event_row(user_id, product_ids[code], order_id, quantity, inv.placed_at + shift)
        for inv, order_id, user_id in purchases
        for code, quantity, _price in inv.lines
    )
    return insert_rows(session, Event, rows, phase="events", total=total, progress=progress)


def _event_row(
    user_id: int, product_id: int, order_id: int, quantity: int, when: datetime
) -> dict[str, Any]:
    return {
        "kind": "purchase",
        "visitor_id": VISITOR_ID,
        "user_id": user_id,
        "product_id": product_id,
        "category_id": None,
        "order_id": order_id,
        "query": None,
        "result_count": None,
        "quantity": quantity,
        "created_at": when,
    }
