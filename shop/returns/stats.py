"""How often products come back and why: for a product's console page and the returns
page's list of the most returned products."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.orders import states
from shop.orders.models import Order, OrderLine
from shop.returns import rules
from shop.returns.models import ReturnLine, ReturnRequest

# Returns that stand: asked for and on their way, or received. Not those turned down or
# withdrawn.
STANDING = (rules.REQUESTED, rules.REFUNDED)


@dataclass(frozen=True)
class ProductReturns:
    """One product's items sent back on web orders against the items sold on them."""

    product_id: int
    sku: str
    name: str
    returned: int
    sold: int
    reasons: tuple[tuple[str, int], ...]  # (reason label, items), most first

    @property
    def rate(self) -> float | None:
        """The share of the items sold that came back (None before any sale)."""
        return self.returned / self.sold if self.sold else None


def _returned_by_reason(
    session: Session, since: datetime | None, product_ids: list[int] | None
) -> dict[int, dict[str, int]]:
    query = (
        select(OrderLine.product_id, ReturnRequest.reason, func.sum(ReturnLine.quantity))
        .join(ReturnLine, ReturnLine.order_line_id == OrderLine.id)
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(ReturnRequest.status.in_(STANDING), OrderLine.product_id.is_not(None))
        .group_by(OrderLine.product_id, ReturnRequest.reason)
    )
    if since is not None:
        query = query.where(ReturnRequest.created_at >= since)
    if product_ids is not None:
        query = query.where(OrderLine.product_id.in_(product_ids))
    found: dict[int, dict[str, int]] = {}
    for product_id, reason, items in session.execute(query):
        found.setdefault(product_id, {})[reason] = int(items or 0)
    return found


def _sold(session: Session, product_ids: list[int], since: datetime | None) -> dict[int, int]:
    query = (
        select(OrderLine.product_id, func.sum(OrderLine.quantity))
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.product_id.in_(product_ids),
            Order.kind == "sale",
            Order.source == "web",
            Order.status.in_(states.WERE_PAID),
        )
        .group_by(OrderLine.product_id)
    )
    if since is not None:
        query = query.where(Order.placed_at >= since)
    return {pid: int(n or 0) for pid, n in session.execute(query)}


def _summaries(
    session: Session, returned: dict[int, dict[str, int]], since: datetime | None
) -> list[ProductReturns]:
    ids = list(returned)
    if not ids:
        return []
    sold = _sold(session, ids, since)
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(ids)))}
    summaries = []
    for pid, by_reason in returned.items():
        product = products.get(pid)
        if product is None:
            continue
        reasons = sorted(
            ((rules.REASONS.get(r, r), n) for r, n in by_reason.items()),
            key=lambda item: (-item[1], item[0]),
        )
        summaries.append(
            ProductReturns(
                pid, product.sku, product.name, sum(by_reason.values()), sold.get(pid, 0),
                tuple(reasons),
            )
        )  # fmt: skip
    return summaries


def product_returns(session: Session, product_id: int) -> ProductReturns | None:
    """The product's returns on web orders so far, or None when none came back."""
    found = _summaries(session, _returned_by_reason(session, None, [product_id]), None)
    return found[0] if found else None


def most_returned(session: Session, since: datetime, limit: int = 10) -> list[ProductReturns]:
    """The products with the most items sent back since `since`, most first, with the share
    of their items sold since then."""
    summaries = _summaries(session, _returned_by_reason(session, since, None), since)
    summaries.sort(key=lambda s: (-s.returned, s.sku))
    return summaries[:limit]
