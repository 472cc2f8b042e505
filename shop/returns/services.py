"""Shoppers asking to send items back: what they may return, the request with its number
and instructions e-mail, and withdrawing it before the parcel arrives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shop.checkout.pricing import CheckoutSettings
from shop.db import Transaction, utcnow
from shop.orders import states
from shop.orders.locking import lock_order
from shop.orders.models import Order, OrderLine
from shop.orders.notifications import queue_order_email
from shop.returns import rules
from shop.returns.models import ReturnLine, ReturnRequest
from shop.wording import counted


class ReturnNotMade(ValueError):
    """The return was not recorded (or changed) and nothing was; the message says why."""


@dataclass(frozen=True)
class ReturnSettings:
    """How long items may be sent back for, and where to."""

    days: int = 30
    address: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ReturnSettings:
        """SHOP_RETURN_DAYS and SHOP_RETURNS_ADDRESS (its lines separated by commas)."""
        parts = str(config.get("RETURNS_ADDRESS", "")).split(",")
        return cls(
            days=int(config.get("RETURN_DAYS", 30)),
            address=tuple(part.strip() for part in parts if part.strip()),
        )


@dataclass(frozen=True)
class ReturnOffer:
    """What the shopper may send back of an order now, or `refusal` saying why nothing."""

    order: Order
    lines: list[tuple[OrderLine, int]]  # each line that may come back, with how many
    closes_at: datetime | None
    refusal: str | None
    returns: list[ReturnRequest]  # every return of the order, oldest first


def order_returns(session: Session, order_id: int) -> list[ReturnRequest]:
    """The order's returns, oldest first, with their lines."""
    return list(
        session.scalars(
            select(ReturnRequest)
            .where(ReturnRequest.order_id == order_id)
            .options(selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_line))
            .order_by(ReturnRequest.id)
        )
    )


def return_offer(
    session: Session, order: Order, settings: ReturnSettings, now: datetime | None = None
) -> ReturnOffer:
    """What the order's return page offers (nothing, with the reason, when it may not)."""
    returns = order_returns(session, order.id)
    refused = _refusal(order, returns, settings, now or utcnow())
    left = rules.returnable(order, returns)
    lines = [] if refused else [(line, left[line.id]) for line in order.lines if left[line.id]]
    closes_at = rules.window_end(order, settings.days)
    return ReturnOffer(order, lines, closes_at, refused, returns)


def _refusal(
    order: Order, returns: list[ReturnRequest], settings: ReturnSettings, now: datetime
) -> str | None:
    if not settings.address:
        return (
            f"Returns of order {order.number} are arranged by e-mail: please contact us with "
            "the order number and what you would like to send back."
        )
    return rules.refusal(order, returns, settings.days, now)


@dataclass(frozen=True)
class Requested:
    """The return just recorded, for the page that confirms it."""

    number: str
    item_count: int
    expected_pence: int
    currency: str


def request_return(
    transaction: Transaction,
    checkout: CheckoutSettings,
    settings: ReturnSettings,
    order_id: int,
    quantities: Mapping[int, int],
    reason: str,
    comment: str = "",
    now: datetime | None = None,
) -> Requested:
    """Record the shopper's return of these quantities (by order-line id), note it on the
    order's timeline and e-mail the instructions. Checked with the order locked, so a
    double submit cannot send the same items back twice. ReturnNotMade says why not."""
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty > 0}
    if reason not in rules.REASONS:
        raise ReturnNotMade("Please choose why you are sending the items back.")
    with transaction() as session:
        order = session.get(Order, order_id)
        if order is None:
            raise ReturnNotMade("There is no such order.")
        lock_order(session, order)
        returns = order_returns(session, order_id)
        refused = _refusal(order, returns, settings, now or utcnow())
        if refused:
            raise ReturnNotMade(refused)
        left = rules.returnable(order, returns)
        _check_quantities(order, wanted, left)
        ret = ReturnRequest(
            number=_next_number(session, order),
            order_id=order.id,
            status=rules.REQUESTED,
            reason=reason,
            comment=comment.strip()[:500],
            expected_pence=rules.refund_due(order, wanted, left),
        )
        ret.lines = [ReturnLine(order_line_id=i, quantity=q) for i, q in sorted(wanted.items())]
        session.add(ret)
        session.flush()
        items = counted(ret.item_count, "item")
        states.note(order, f"Return {ret.number} requested: {items}")
        _email(session, checkout, settings, order, ret, "return_requested")
        return Requested(ret.number, ret.item_count, ret.expected_pence, order.currency)


def _check_quantities(order: Order, wanted: Mapping[int, int], left: Mapping[int, int]) -> None:
    if not wanted:
        raise ReturnNotMade("Choose how many of at least one item you are sending back.")
    names = {line.id: line.name for line in order.lines}
    for line_id, qty in wanted.items():
        if line_id not in names:
            raise ReturnNotMade(f"That item is not on order {order.number}.")
        if qty > left[line_id]:
            most = left[line_id]
            raise ReturnNotMade(
                f"{names[line_id]}: you can send back at most {most}"
                if most
                else f"{names[line_id]} is on a return already."
            )


def _next_number(session: Session, order: Order) -> str:
    made = session.scalar(
        select(func.count()).select_from(ReturnRequest).where(ReturnRequest.order_id == order.id)
    )
    return f"{order.number}-R{(made or 0) + 1}"


def _email(
    session: Session,
    checkout: CheckoutSettings,
    settings: ReturnSettings,
    order: Order,
    ret: ReturnRequest,
    kind: str,
) -> None:
    queue_order_email(
        session,
        order,
        kind,
        checkout,
        ret=ret,
        reason=rules.REASONS.get(ret.reason, ""),
        address=settings.address,
        send_within_days=rules.SEND_WITHIN_DAYS,
    )


def withdraw_return(transaction: Transaction, order_id: int, number: str) -> str:
    """Withdraw the shopper's return that is still waiting for its parcel; its items may be
    asked back again. Return its number; ReturnNotMade when it is no longer open."""
    with transaction() as session:
        order = session.get(Order, order_id)
        ret = session.scalar(
            select(ReturnRequest).where(
                ReturnRequest.order_id == order_id, ReturnRequest.number == number
            )
        )
        if order is None or ret is None:
            raise ReturnNotMade("There is no such return on this order.")
        lock_order(session, order)
        session.refresh(ret)
        if ret.status != rules.REQUESTED:
            label = rules.LABELS[ret.status].lower()
            raise ReturnNotMade(f"Return {number} is {label} already, so it cannot be withdrawn.")
        ret.status, ret.closed_at = rules.WITHDRAWN, utcnow()
        states.note(order, f"Return {number} withdrawn")
        return ret.number
