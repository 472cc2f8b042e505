"""Ordering a past order's products again: they go into the cart, as many as can be sold
now, and the shopper is told what could not be added."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from shop.cart.services import CartOwner, add_item, room_for
from shop.orders.models import Order
from shop.wording import counted


@dataclass
class Reordered:
    """What went into the cart (product id and units), and what did not."""

    added: dict[int, int] = field(default_factory=dict)
    fewer: list[tuple[str, int, int]] = field(default_factory=list)  # name, ordered, added
    unavailable: list[str] = field(default_factory=list)
    full: list[str] = field(default_factory=list)  # the cart holds all we can sell already


def order_again(session: Session, owner: CartOwner, order: Order, max_qty: int) -> Reordered:
    """Add the order's products to the owner's cart in the quantities ordered, or as many
    as are in stock and within the line limit; products no longer sold are listed."""
    wanted: Counter[int] = Counter()
    names: dict[int, str] = {}
    for line in order.lines:
        if line.product_id is not None and line.quantity > 0:
            wanted[line.product_id] += line.quantity
            names.setdefault(line.product_id, line.name)
    result = Reordered()
    for product_id, quantity in wanted.items():
        room, in_cart = room_for(session, owner, product_id, quantity, max_qty)
        if room <= 0:
            (result.full if in_cart else result.unavailable).append(names[product_id])
            continue
        add_item(session, owner, product_id, room, max_qty)
        result.added[product_id] = room
        if room < quantity:
            result.fewer.append((names[product_id], quantity, room))
    return result


def order_again_message(result: Reordered, number: str) -> tuple[str, str]:
    """The flash message and its category for what `order_again` did."""
    units = sum(result.added.values())
    if units:
        parts = [f"Added {counted(units, 'item')} from order {number} to your cart."]
    else:
        parts = [f"Nothing from order {number} could be added to your cart."]
    for name, ordered, added in result.fewer:
        parts.append(f"{name}: {added} of the {ordered} ordered, as many as we can sell you now.")
    if result.full:
        parts.append(f"Already in your cart, as many as we can sell you: {', '.join(result.full)}.")
    if result.unavailable:
        parts.append(f"Not available now: {', '.join(result.unavailable)}.")
    if not units:
        return " ".join(parts), "error"
    return " ".join(parts), "info" if len(parts) > 1 else "success"
