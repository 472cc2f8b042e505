"""Customers' paid orders as plain rows, the input of RFM segments and cohorts."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date

from shop.analytics.rfm import CustomerTotals


@dataclass(frozen=True)
class OrderRow:
    """One paid sale order, or one return (negative net), of one customer."""

    customer: Hashable
    placed_on: date
    net_pence: int  # what the customer paid after refunds; negative for a return
    sale: bool = True


def customer_totals(rows: Iterable[OrderRow]) -> list[CustomerTotals]:
    """Per customer with at least one sale: orders, last order date and net spend.

    Returns count in the spend and not as orders; a customer with only returns (their
    purchases predate the records) is left out.
    """
    orders: dict[Hashable, int] = {}
    last: dict[Hashable, date] = {}
    spent: dict[Hashable, int] = {}
    for row in rows:
        spent[row.customer] = spent.get(row.customer, 0) + row.net_pence
        if row.sale:
            orders[row.customer] = orders.get(row.customer, 0) + 1
            if row.customer not in last or row.placed_on > last[row.customer]:
                last[row.customer] = row.placed_on
    return [CustomerTotals(key, n, last[key], spent[key]) for key, n in orders.items()]
