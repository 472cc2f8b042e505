"""Staff handling returns: the list, and when a parcel arrives its refund (with the items
back in stock), or not accepting a return, with the reason the shopper is told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from shop.checkout.pricing import CheckoutSettings
from shop.console import audit
from shop.console.reviews import ActionReview
from shop.db import Transaction, utcnow
from shop.money import format_money
from shop.orders import states
from shop.orders.locking import lock_order
from shop.orders.models import Order
from shop.orders.notifications import queue_order_email
from shop.payments.gateway import PaymentGateway
from shop.payments.models import Refund
from shop.payments.refunds import (
    RefundError,
    RefundMadeElsewhere,
    RefundRequest,
    refund_order,
    refundable_pence,
)
from shop.returns import rules
from shop.returns.models import ReturnLine, ReturnRequest
from shop.returns.services import ReturnNotMade

RETURN_SOURCE = "return"  # the source of a return's refund
CLOSED_SHOWN = 50


@dataclass(frozen=True)
class ReturnLists:
    """The console's returns page: those awaiting their parcel, oldest first, and the
    latest closed ones."""

    awaiting: list[ReturnRequest]
    closed: list[ReturnRequest]


def _with_details() -> tuple[Any, ...]:
    return (
        selectinload(ReturnRequest.lines).selectinload(ReturnLine.order_line),
        selectinload(ReturnRequest.order),
    )


def return_lists(session: Session) -> ReturnLists:
    """Every return awaiting its parcel, and the latest closed ones."""
    awaiting = session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.status == rules.REQUESTED)
        .options(*_with_details())
        .order_by(ReturnRequest.created_at, ReturnRequest.id)
    )
    closed = session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.status != rules.REQUESTED)
        .options(*_with_details())
        .order_by(ReturnRequest.closed_at.desc(), ReturnRequest.id.desc())
        .limit(CLOSED_SHOWN)
    )
    return ReturnLists(list(awaiting), list(closed))


def awaiting_count(session: Session) -> int:
    """How many returns are waiting for their parcel."""
    query = select(func.count()).where(ReturnRequest.status == rules.REQUESTED)
    return session.scalar(query) or 0


def find_return(session: Session, return_id: int) -> ReturnRequest | None:
    """One return with its lines and order."""
    return session.scalar(
        select(ReturnRequest).where(ReturnRequest.id == return_id).options(*_with_details())
    )


def suggested_refund(ret: ReturnRequest) -> int:
    """What to refund when the parcel arrives: what the shopper was told, at most what is
    left to refund of the order."""
    return min(ret.expected_pence, refundable_pence(ret.order))


def _open_return(
    session: Session, return_id: int, statuses: tuple[str, ...] = (rules.REQUESTED,)
) -> ReturnRequest:
    ret = find_return(session, return_id)
    if ret is None:
        raise ReturnNotMade("There is no such return.")
    lock_order(session, ret.order)  # a refund, or another decision on it, waits its turn
    session.refresh(ret)
    if ret.status not in statuses:
        label = rules.STAFF_LABELS[ret.status].lower()
        raise ReturnNotMade(f"Return {ret.number} is {label} already.")
    return ret


def receive_return(
    transaction: Transaction,
    gateway: PaymentGateway,
    checkout: CheckoutSettings,
    actor: audit.Actor,
    return_id: int,
    amount_pence: int,
    restock: bool,
) -> Refund:
    """The return's parcel arrived: refund `amount_pence` through the gateway, put its
    items back in stock when `restock`, close the return and e-mail the shopper, all
    audited. ReturnNotMade (nothing changed) when it may not be done."""
    with transaction() as session:
        ret = _open_return(session, return_id, rules.RECEIVABLE)
        order = ret.order
        left = refundable_pence(order)
        status_before = ret.status
        if not 0 < amount_pence <= left:
            raise ReturnNotMade(
                "The refund must be more than zero and at most "
                f"{format_money(left, order.currency)}, what is left to refund of order "
                f"{order.number}."
            )
        if restock and not order.stock_reserved:
            raise ReturnNotMade(
                f"Order {order.number} never took its items out of stock, so none can go "
                "back. Receive the return without putting the items back."
            )
        returned = {line.order_line_id: line.quantity for line in ret.lines}
        back = returned if restock else None
        request = RefundRequest(
            amount_pence=amount_pence,
            restock=back,
            undone=returned,
            reason=f"Return {ret.number}",
            source=RETURN_SOURCE,
            refunded_before=order.refunded_pence,
            email="return_refunded",
            email_context={
                "return_number": ret.number,
                "returned": [(line.order_line.name, line.quantity) for line in ret.lines],
            },
        )
        order_id, number = order.id, ret.number

    def booked(session: Session, order: Order, row: Refund, _before: str) -> None:
        ret = session.get(ReturnRequest, return_id)
        assert ret is not None
        ret.status, ret.closed_at = rules.REFUNDED, utcnow()
        ret.refund_id, ret.refunded_pence, ret.restocked = row.id, row.amount_pence, bool(back)
        states.note(order, f"Return {number} received")
        audit.record(
            session,
            actor,
            "return.receive",
            f"return {number}",
            {"status": status_before},
            {
                "status": ret.status,
                "refund_id": row.id,
                "amount_pence": row.amount_pence,
                "restocked": ret.restocked,
            },
        )

    try:
        return refund_order(transaction, gateway, checkout, order_id, request, on_booked=booked)
    except RefundMadeElsewhere as exc:
        raise ReturnNotMade(
            f"Return {number} was being refunded by someone else at the same moment; "
            "this refund was not made."
        ) from exc
    except RefundError as exc:
        raise ReturnNotMade(str(exc)) from exc


def reject_return(
    transaction: Transaction,
    checkout: CheckoutSettings,
    actor: audit.Actor,
    return_id: int,
    reason: str,
) -> str:
    """Do not accept the return, telling the shopper why by e-mail and on the order page;
    its items may be asked back again. Return its number."""
    reason = reason.strip()
    if not reason:
        raise ReturnNotMade("Say why the return is not accepted; the customer is told.")
    with transaction() as session:
        ret = _open_return(session, return_id)
        ret.status, ret.closed_at, ret.decision_note = rules.REJECTED, utcnow(), reason[:300]
        states.note(ret.order, f"Return {ret.number} not accepted: {reason}")
        queue_order_email(session, ret.order, "return_rejected", checkout, ret=ret)
        audit.record(
            session,
            actor,
            "return.reject",
            f"return {ret.number}",
            {"status": rules.REQUESTED},
            {"status": ret.status, "reason": ret.decision_note},
        )
        return ret.number


def receive_review(ret: ReturnRequest, amount_pence: int, restock: bool) -> ActionReview:
    """What receiving the return with this refund will do, for staff to confirm."""
    order = ret.order
    money = format_money(amount_pence, order.currency)
    items = ", ".join(
        f"{line.quantity} \N{MULTIPLICATION SIGN} {line.order_line.name} ({line.order_line.sku})"
        for line in ret.lines
    )
    lines = [
        f"{money} goes back to the card order {order.number} was paid with "
        f"(the customer was told {format_money(ret.expected_pence, order.currency)}).",
        f"Back in stock: {items}." if restock else "Nothing goes back in stock.",
        f"Return {ret.number} is closed as received and refunded, and the customer is e-mailed.",
    ]
    if order.user_id is not None:
        lines.append("Loyalty points the order earned are taken back in proportion.")
    return ActionReview(
        heading=f"Refund return {ret.number}?",
        lines=lines,
        confirm_label=f"Refund {money}",
        back_label="Back to the return",
    )


def lapse_returns(
    transaction: Transaction,
    checkout: CheckoutSettings,
    now: datetime | None = None,
    days: int = rules.LAPSE_DAYS,
) -> list[str]:
    """Close the returns whose parcel has not arrived `days` after they were asked for,
    telling each shopper (staff can still refund one whose parcel turns up); return their
    numbers."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with transaction() as session:
        late = session.scalars(
            select(ReturnRequest.id).where(
                ReturnRequest.status == rules.REQUESTED, ReturnRequest.created_at < cutoff
            )
        ).all()
    lapsed = []
    for return_id in late:  # one transaction each: a lapse is checked with its order locked
        with transaction() as session:
            try:
                ret = _open_return(session, return_id)
            except ReturnNotMade:  # received or withdrawn meanwhile
                continue
            ret.status, ret.closed_at = rules.LAPSED, utcnow()
            note = f"Return {ret.number} closed: its parcel had not arrived after {days} days"
            states.note(ret.order, note)
            queue_order_email(session, ret.order, "return_lapsed", checkout, ret=ret, days=days)
            lapsed.append(ret.number)
    return lapsed
