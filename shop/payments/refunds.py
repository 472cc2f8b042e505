"""Refunds, full or partial, through the gateway with an idempotency key, with restocking."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.catalog.services import add_to_products
from shop.checkout.pricing import CheckoutSettings
from shop.db import Transaction
from shop.events.bus import record_event
from shop.money import format_money
from shop.orders import states
from shop.orders.models import Order
from shop.orders.notifications import queue_order_email
from shop.payments.gateway import GatewayError, PaymentGateway
from shop.payments.models import PaymentAttempt, Refund
from shop.tracking.undone import record_undone

REFUNDABLE = frozenset(
    {states.PAID, states.SHIPPED, states.DELIVERED, states.PARTIALLY_REFUNDED, states.CANCELLED}
)


BookedHook = Callable[[Session, Order, Refund, str], None]
REFUND_EMAIL, CANCELLED_EMAIL = "order_refunded", "order_cancelled_refunded"
CANCELLED_NOTE = "Cancelled at your request before dispatch"


class RefundError(ValueError):
    """A refund that cannot be made; the message says why."""


class RefundMadeElsewhere(RefundError):
    """A concurrent request booked this same refund (the gateway refunded once): this
    request made none. Carries the made refund's id, amount and currency."""

    def __init__(self, refund: Refund) -> None:
        super().__init__(f"A concurrent request made this same refund (refund {refund.id}).")
        self.refund_id, self.amount_pence = refund.id, refund.amount_pence
        self.currency = refund.currency


@dataclass(frozen=True)
class RefundRequest:
    """What to refund: an amount (None for everything left) and what goes back to stock.

    `restock` maps order-line ids to quantities; `restock_all` puts back every line.
    `refunded_before`, when given, is the refunded total the refund was decided on.
    `cancel` is the shopper cancelling before dispatch: refused unless the order may still
    be cancelled (checked with the order locked), and booked as a cancellation first.
    `email` names the e-mail to the shopper (by default the refund's or the cancellation's)
    and `email_context` adds to what its template sees. `undone` maps order-line ids to the
    quantities the shopper no longer keeps (sent back, or never sent): the recommendations
    stop counting them as bought.
    """

    amount_pence: int | None = None
    restock_all: bool = False
    restock: Mapping[int, int] | None = None
    reason: str = ""
    source: str = "cli"
    refunded_before: int | None = None
    cancel: bool = False
    email: str = ""
    email_context: Mapping[str, Any] | None = None
    undone: Mapping[int, int] | None = None

    def email_kind(self) -> str:
        """The e-mail the shopper gets when the refund is booked."""
        return self.email or (CANCELLED_EMAIL if self.cancel else REFUND_EMAIL)


def refundable_pence(order: Order) -> int:
    """How much of the order has not been refunded yet."""
    return max(order.total_pence - order.refunded_pence, 0)


def refund_order(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    order_id: int,
    request: RefundRequest,
    *,
    on_booked: BookedHook | None = None,
) -> Refund:
    """Refund an order through the gateway; the order, stock, e-mail and event follow.

    `on_booked(session, order, refund, status_before)` runs in the transaction that books
    the refund, and only in the request that booked it (the console audits it there).

    Safe against a double submit: the order row is locked while a refund is started and
    while it is booked, a second refund of the same amount reuses the first one's
    idempotency key (the gateway refunds once), and only the request that moves the refund
    from pending to succeeded books it and restocks; the other raises RefundMadeElsewhere.
    A request made on a refunded total
    that has changed since (`refunded_before`) is refused: a submit repeated after the
    first one finished would otherwise refund again.
    """
    with transaction() as session:
        order = _refundable_order(session, order_id)
        _check_unchanged(order, request)
        refused = states.customer_cancel_refusal(order) if request.cancel else None
        if refused:
            raise RefundError(refused)
        amount = _amount(order, request.amount_pence)
        _check_restock(order, request)
        intent_id = _paid_intent(session, order.id)
        refund = _pending_refund(session, order, amount, request)
        refund_id, key = refund.id, refund.idempotency_key
    try:
        result = gateway.refund(intent_id=intent_id, amount=amount, idempotency_key=key)
    except GatewayError as exc:
        with transaction() as session:
            row = session.get(Refund, refund_id)
            assert row is not None
            row.status = "failed"
            row.reason = (row.reason + f" [failed: {exc}]")[:300]
        raise RefundError(f"The payment provider refused the refund: {exc}") from exc
    with transaction() as session:
        order = session.get(Order, order_id, with_for_update=True)
        won = session.execute(
            update(Refund)
            .where(Refund.id == refund_id, Refund.status == "pending")
            .values(status="succeeded", gateway_refund_id=result.id)
            .execution_options(synchronize_session=False)
        )
        row = session.get(Refund, refund_id, populate_existing=True)
        assert row is not None and order is not None
        if getattr(won, "rowcount", 0) != 1:
            raise RefundMadeElsewhere(row)
        status_before = order.status
        if request.cancel and states.can_transition(order.status, states.CANCELLED):
            states.transition(order, states.CANCELLED, CANCELLED_NOTE, staff_note=row.reason)
        _book(session, settings, order, row, request.email_kind(), request.email_context)
        _restock(session, order, request)
        if request.undone:
            record_undone(session, order, request.undone)
        if on_booked is not None:
            on_booked(session, order, row, status_before)
        return row


def record_gateway_refunds(
    session: Session,
    settings: CheckoutSettings,
    order: Order,
    refunds: list[tuple[str, int]],
) -> int:
    """Book refunds made outside the shop (e.g. in Stripe's dashboard); return how many."""
    booked = 0
    session.refresh(order, with_for_update=True)
    in_flight = set(
        session.scalars(
            select(Refund.amount_pence).where(
                Refund.order_id == order.id, Refund.status == "pending"
            )
        )
    )
    for gateway_id, amount in refunds:
        known = session.scalar(select(Refund.id).where(Refund.gateway_refund_id == gateway_id))
        if known is not None or amount in in_flight:
            continue  # booked, or the shop's own refund in flight, which books itself
        row = Refund(
            order_id=order.id,
            amount_pence=amount,
            currency=order.currency,
            idempotency_key=f"gateway-{gateway_id}",
            gateway_refund_id=gateway_id,
            status="succeeded",
            reason="refunded at the payment provider",
            source="webhook",
        )
        session.add(row)
        session.flush()
        _book(session, settings, order, row, REFUND_EMAIL)
        booked += 1
    return booked


def _refundable_order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id, with_for_update=True)
    if order is None or order.kind != "sale":
        raise RefundError("There is no such order.")
    if order.status not in REFUNDABLE:
        raise RefundError(f"Order {order.number} is {order.status}; it cannot be refunded.")
    return order


def _check_unchanged(order: Order, request: RefundRequest) -> None:
    if request.refunded_before is None or order.refunded_pence == request.refunded_before:
        return
    refunded = format_money(order.refunded_pence, order.currency)
    raise RefundError(
        f"Order {order.number} was refunded since this page was opened ({refunded} refunded "
        "in all now), so this refund was not made. Check the refunds on the order and submit again "
        "if another refund is needed."
    )


def _amount(order: Order, wanted: int | None) -> int:
    left = refundable_pence(order)
    amount = left if wanted is None else wanted
    if amount <= 0:
        raise RefundError("The refund amount must be more than zero.")
    if amount > left:
        most = format_money(left, order.currency)
        raise RefundError(f"At most {most} of order {order.number} can still be refunded.")
    return amount


def _check_restock(order: Order, request: RefundRequest) -> None:
    if (request.restock or request.restock_all) and not order.stock_reserved:
        raise RefundError(
            f"Order {order.number} never took its items out of stock (it was paid after its "
            "hold had ended), so none can go back. Refund it without putting items back."
        )
    lines = {line.id: line for line in order.lines}
    for line_id, qty in (request.restock or {}).items():
        line = lines.get(line_id)
        if line is None:
            raise RefundError(f"Line {line_id} is not on order {order.number}.")
        if qty <= 0 or qty > line.quantity - line.restocked_qty:
            raise RefundError(
                f"{line.name}: between 1 and {line.quantity - line.restocked_qty} can go back."
            )


def _paid_intent(session: Session, order_id: int) -> str:
    intent_id = session.scalar(
        select(PaymentAttempt.intent_id).where(
            PaymentAttempt.order_id == order_id, PaymentAttempt.status == "succeeded"
        )
    )
    if not intent_id:
        raise RefundError("This order has no card payment to refund.")
    return intent_id


def _pending_refund(session: Session, order: Order, amount: int, request: RefundRequest) -> Refund:
    """Reuse a refund of the same amount whose outcome is unknown (a retry, or a double
    submit), else start a new one; refuse while a refund of another amount is unfinished."""
    pending = list(
        session.scalars(
            select(Refund).where(Refund.order_id == order.id, Refund.status == "pending")
        )
    )
    for refund in pending:
        if refund.amount_pence == amount:
            return refund
    if pending:
        other = pending[0].amount_pence
        raise RefundError(
            f"A refund of {format_money(other, order.currency)} on order {order.number} has not "
            "finished yet. Refund that amount again to complete it, or try again in a moment."
        )
    number = (
        session.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id))
        or 0
    ) + 1
    refund = Refund(
        order_id=order.id,
        amount_pence=amount,
        currency=order.currency,
        restock=bool(request.restock_all or request.restock),
        idempotency_key=f"order-{order.id}-refund-{number}",
        reason=request.reason[:300],
        source=request.source,
    )
    session.add(refund)
    session.flush()
    return refund


def _book(
    session: Session,
    settings: CheckoutSettings,
    order: Order,
    refund: Refund,
    email: str,
    email_context: Mapping[str, Any] | None = None,
) -> None:
    order.refunded_pence += refund.amount_pence
    full = order.refunded_pence >= order.total_pence
    target = states.REFUNDED if full else states.PARTIALLY_REFUNDED
    label = f"Refunded {format_money(refund.amount_pence, order.currency)}"
    if states.can_transition(order.status, target):
        states.transition(order, target, label, staff_note=refund.reason or "")
    else:
        states.note(order, label, staff_note=refund.reason or "")
    context = {**(email_context or {}), "refund_pence": refund.amount_pence}
    queue_order_email(session, order, email, settings, **context)
    record_event(
        session,
        "order_refunded",
        {
            "order_id": order.id,
            "number": order.number,
            "user_id": order.user_id,
            "refund_id": refund.id,
            "amount_pence": refund.amount_pence,
            "refunded_pence": order.refunded_pence,
            "total_pence": order.total_pence,
            "currency": order.currency,
        },
    )


def _restock(session: Session, order: Order, request: RefundRequest) -> None:
    wanted = dict(request.restock or {})
    if request.restock_all:
        wanted = {line.id: line.quantity - line.restocked_qty for line in order.lines}
    back: Counter[int] = Counter()
    for line in order.lines:
        # Never more than is left to put back, whatever was checked before the gateway call.
        qty = min(wanted.get(line.id, 0), line.quantity - line.restocked_qty)
        wanted[line.id] = max(qty, 0)
        if qty <= 0 or line.product_id is None:
            continue
        line.restocked_qty += qty
        back[line.product_id] += qty
    add_to_products(session, Product.stock_qty, back)
    if any(wanted.values()):
        states.note(order, staff_note=f"Restocked {sum(wanted.values())} item(s)")
