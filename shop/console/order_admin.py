"""Order administration for the console: find orders, ship, cancel, refund, retry e-mails.

Plain functions that take a session (or, for refunds, a transaction factory, because the
gateway call must happen between transactions). Every change adds an audit entry in the
same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from loyalty.membership import member_badge, member_badges, priority_support_users
from shop.accounts.customer_refs import parse_customer_ref
from shop.accounts.models import User
from shop.checkout.pricing import CheckoutSettings
from shop.console import audit
from shop.db import Transaction, parse_id, utcnow
from shop.mail import outbox
from shop.mail.models import OutboxEmail
from shop.money import format_money
from shop.orders import fulfilment, states
from shop.orders.locking import lock_order
from shop.orders.models import Order
from shop.orders.services import TO_SHIP, awaiting_shipment
from shop.pagination import Page, check_page
from shop.payments.gateway import PaymentGateway
from shop.payments.models import PaymentAttempt, Refund
from shop.payments.refunds import (
    REFUNDABLE,
    BookedHook,
    RefundError,
    RefundMadeElsewhere,
    RefundRequest,
    refund_order,
    refundable_pence,
)
from shop.returns.models import ReturnRequest
from shop.returns.services import order_returns

STATUSES = tuple(states.LABELS)


class OrderAdminError(ValueError):
    """An order action that cannot be done; the message is safe to show."""


class RefundNotMade(OrderAdminError):
    """A concurrent request booked the same refund; this one made none (nothing to redo
    in the form: the order's refunds now show the one that was made)."""


# --- finding orders --------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    """What the order list shows: status, placed between two dates, and a customer or number.

    `customer` is an e-mail address, "#12" or "account 12" (an account id), "customer 12"
    or "customer number 12" (an imported customer number), a bare number (either of those,
    or an order number), or an order number.
    """

    status: str | None = None
    placed_from: date | None = None
    placed_to: date | None = None
    customer: str = ""
    priority_only: bool = False  # only members whose tier gives priority support


def _customer_condition(text: str) -> ColumnElement[bool]:
    ref = parse_customer_ref(text)
    value = ref.value
    if ref.kind == "email":
        email = value.lower()
        user_ids = select(User.id).where(func.lower(User.email) == email)
        return or_(func.lower(Order.email) == email, Order.user_id.in_(user_ids))
    if ref.kind == "account":
        account_id = parse_id(value)
        return Order.user_id == account_id if account_id is not None else false()
    if ref.kind == "customer":
        return Order.user_id.in_(select(User.id).where(User.external_ref == value))
    if value.isascii() and value.isdigit() and len(value) < 10:
        # An account id, a customer number (imported customers) or an order number.
        by_number = select(User.id).where(User.external_ref == value)
        return or_(Order.user_id == int(value), Order.user_id.in_(by_number), Order.number == value)
    return func.upper(Order.number) == value.upper()


def _conditions(filters: OrderFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status == TO_SHIP:
        conditions.append(awaiting_shipment())
    elif filters.status:
        conditions.append(Order.status == filters.status)
    if filters.placed_from is not None:
        conditions.append(Order.placed_at >= datetime.combine(filters.placed_from, time.min))
    if filters.placed_to is not None:
        end = datetime.combine(filters.placed_to + timedelta(days=1), time.min)
        conditions.append(Order.placed_at < end)
    if filters.customer.strip():
        conditions.append(_customer_condition(filters.customer))
    if filters.priority_only:
        conditions.append(Order.user_id.in_(priority_support_users()))
    return conditions


def order_page(
    session: Session, filters: OrderFilters, *, page: int = 1, per_page: int = 50
) -> Page[Order]:
    """One page of matching orders, newest first; PageError(404) past the last page."""
    conditions = _conditions(filters)
    total = session.scalar(select(func.count(Order.id)).where(*conditions)) or 0
    check_page(page, total, per_page)
    orders = session.scalars(
        select(Order)
        .where(*conditions)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(orders), total, page, per_page)


@dataclass(frozen=True)
class OrderList:
    """A page of orders, and the member badge of each customer on it who is a member."""

    page: Page[Order]
    badges: dict[int, str]


def order_list(
    session: Session, filters: OrderFilters, *, page: int = 1, per_page: int = 50
) -> OrderList:
    """`order_page` with the customers' member badges (tier, priority support) for staff."""
    found = order_page(session, filters, page=page, per_page=per_page)
    owners = {order.user_id for order in found.items if order.user_id is not None}
    return OrderList(found, member_badges(session, owners))


@dataclass
class OrderDetail:
    """An order with everything the detail page shows."""

    order: Order
    customer: User | None
    attempts: list[PaymentAttempt] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    emails: list[OutboxEmail] = field(default_factory=list)
    member_badge: str | None = None
    returns: list[ReturnRequest] = field(default_factory=list)

    @property
    def refundable_pence(self) -> int:
        """How much can still be refunded."""
        return refundable_pence(self.order)

    @property
    def can_ship(self) -> bool:
        """True for a paid order that has not been shipped yet."""
        return states.can_ship(self.order)

    @property
    def can_deliver(self) -> bool:
        """True for a shipped order not marked delivered yet."""
        return states.can_deliver(self.order)

    @property
    def can_cancel(self) -> bool:
        """True for unpaid orders (paid ones are refunded instead)."""
        return self.order.status == states.PENDING_PAYMENT

    @property
    def can_refund(self) -> bool:
        """True when a card payment can still be (partly) refunded."""
        return _refund_possible(self.order, any(a.status == "succeeded" for a in self.attempts))


def _refund_possible(order: Order, paid_by_card: bool) -> bool:
    """True when a sale paid by card (a succeeded payment) has an amount left to refund."""
    return (
        paid_by_card
        and order.kind == "sale"
        and order.status in REFUNDABLE
        and refundable_pence(order) > 0
    )


def _paid_by_card(session: Session, order_id: int) -> bool:
    found = session.scalar(
        select(PaymentAttempt.id)
        .where(PaymentAttempt.order_id == order_id, PaymentAttempt.status == "succeeded")
        .limit(1)
    )
    return found is not None


def order_detail(session: Session, order_id: int) -> OrderDetail | None:
    """The order with its lines, timeline, payment attempts, refunds and e-mails; or None."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.history))
    )
    if order is None:
        return None
    customer = session.get(User, order.user_id) if order.user_id else None
    attempts = session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id)
        .order_by(PaymentAttempt.attempt)
    ).all()
    refunds = session.scalars(
        select(Refund).where(Refund.order_id == order_id).order_by(Refund.id)
    ).all()
    emails = session.scalars(
        select(OutboxEmail).where(OutboxEmail.order_id == order_id).order_by(OutboxEmail.id)
    ).all()
    badge = member_badge(session, order.user_id) if order.user_id else None
    returns = order_returns(session, order_id)
    return OrderDetail(order, customer, list(attempts), list(refunds), list(emails), badge, returns)


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise OrderAdminError("There is no such order.")
    return order


# --- actions ---------------------------------------------------------------------------


def ship(
    session: Session,
    actor: audit.Actor,
    settings: CheckoutSettings,
    order_id: int,
    tracking: str = "",
) -> Order:
    """Mark the order shipped (the shopper's e-mail is queued) and audit it."""
    order = lock_order(session, _order(session, order_id))
    before = order.status
    if states.reached(order, states.SHIPPED):
        raise OrderAdminError(f"Order {order.number} has been shipped already.")
    if not states.can_ship(order):
        label = states.LABELS.get(before, before)
        raise OrderAdminError(f"Order {order.number} is {label.lower()}; it cannot be shipped.")
    try:
        fulfilment.ship_order(session, settings, order, tracking.strip())
    except states.IllegalTransition as exc:  # e.g. a paid order with no delivery address
        raise OrderAdminError(
            f"{str(exc)[:1].upper()}{str(exc)[1:]}; it cannot be shipped."
        ) from None
    after = {"status": order.status, "tracking": tracking.strip() or None}
    audit.record(session, actor, "order.ship", f"order {order.number}", {"status": before}, after)
    return order


def deliver(session: Session, actor: audit.Actor, order_id: int) -> Order:
    """Mark the shipped order delivered (its return period starts) and audit it."""
    order = lock_order(session, _order(session, order_id))
    before = order.status
    if states.reached(order, states.DELIVERED):
        raise OrderAdminError(f"Order {order.number} has been delivered already.")
    if not states.can_deliver(order):
        raise OrderAdminError(
            f"Order {order.number} has not been shipped, so it cannot be delivered."
        )
    fulfilment.deliver_order(session, order)
    after = {"status": order.status}
    audit.record(
        session, actor, "order.deliver", f"order {order.number}", {"status": before}, after
    )
    return order


def cancel_refusal(session: Session, order: Order) -> str | None:
    """Why staff cannot cancel this order (it is not unpaid), or None when they can."""
    if order.status == states.PENDING_PAYMENT:
        return None
    label = states.LABELS.get(order.status, order.status).lower()
    refundable = _refund_possible(order, _paid_by_card(session, order.id))
    hint = " Refund it instead." if refundable else ""
    return f"Order {order.number} is {label}; only unpaid orders can be cancelled.{hint}"


def cancel(
    session: Session,
    actor: audit.Actor,
    settings: CheckoutSettings,
    order_id: int,
    reason: str = "",
) -> Order:
    """Cancel an unpaid order, putting its stock back (the shopper's e-mail is queued), and
    audit it."""
    order = lock_order(session, _order(session, order_id))
    before = order.status
    refused = cancel_refusal(session, order)
    if refused:
        raise OrderAdminError(refused)
    held = {line.sku: line.quantity for line in order.lines} if order.stock_reserved else {}
    try:
        fulfilment.cancel_unpaid_order(session, order, reason.strip(), notify=settings)
    except states.IllegalTransition as exc:
        raise OrderAdminError(str(exc)) from exc
    audit.record(
        session,
        actor,
        "order.cancel",
        f"order {order.number}",
        {"status": before},
        {"status": order.status, "reason": reason.strip() or None, "stock_returned": held},
    )
    return order


def _audit_refund(actor: audit.Actor, restock: Mapping[int, int]) -> BookedHook:
    """A hook that audits the refund this request booked, with the order's status before
    and after and the quantities put back in stock (by SKU)."""

    def booked(session: Session, order: Order, row: Refund, status_before: str) -> None:
        skus = {line.id: line.sku for line in order.lines}
        audit.record(
            session,
            actor,
            "order.refund",
            f"order {order.number}",
            {"refunded_pence": order.refunded_pence - row.amount_pence, "status": status_before},
            {
                "refund_id": row.id,
                "amount_pence": row.amount_pence,
                "refunded_pence": order.refunded_pence,
                "status": order.status,
                "restock": row.restock,
                "restocked": {skus.get(i, str(i)): q for i, q in restock.items()},
                "reason": row.reason or None,
            },
        )

    return booked


def check_refund_amount(order: Order, amount_pence: int) -> None:
    """Raise OrderAdminError unless `amount_pence` is more than zero and at most what is
    left to refund of the order."""
    if amount_pence <= 0:
        raise OrderAdminError("The refund amount must be more than zero.")
    left = refundable_pence(order)
    if amount_pence > left:
        money = format_money(left, order.currency)
        raise OrderAdminError(f"At most {money} of order {order.number} can still be refunded.")


def refund(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    actor: audit.Actor,
    order_id: int,
    amount_pence: int,
    *,
    restock: Mapping[int, int] | None = None,
    reason: str = "",
    refunded_before: int | None = None,
) -> Refund:
    """Refund part or all of an order through the gateway, restock chosen lines, audit it.

    With `refunded_before` (the refunded total the merchandiser saw), a refund booked since
    then refuses this one instead of refunding twice. RefundNotMade when a concurrent
    request booked this same refund (the gateway refunds once).
    """
    with transaction() as session:
        check_refund_amount(_order(session, order_id), amount_pence)
    wanted = {line_id: qty for line_id, qty in (restock or {}).items() if qty > 0}
    request = RefundRequest(
        amount_pence=amount_pence,
        restock=wanted or None,
        undone=wanted,  # what comes back in stock is no longer the shopper's
        reason=reason.strip(),
        source="console",
        refunded_before=refunded_before,
    )
    try:
        made = refund_order(
            transaction,
            gateway,
            settings,
            order_id,
            request,
            on_booked=_audit_refund(actor, wanted),
        )
    except RefundMadeElsewhere as exc:
        raise RefundNotMade(
            f"Another refund of {format_money(exc.amount_pence, exc.currency)} "
            "was being made on this order at the same moment; this one was not made. Check "
            "the order's refunds and refund again if you meant two."
        ) from exc
    except RefundError as exc:
        raise OrderAdminError(str(exc)) from exc
    return made


# --- the mail outbox -------------------------------------------------------------------


@dataclass
class OutboxOverview:
    """Counts by status and the e-mails that need attention."""

    counts: dict[str, int]
    failed: list[OutboxEmail]
    pending: list[OutboxEmail]
    sending: list[OutboxEmail]
    claims_expire_before: datetime  # a `sending` row claimed before this lost its sender

    def abandoned(self, email: OutboxEmail) -> bool:
        """Whether the sender that claimed this row stopped before finishing it."""
        return email.claimed_at is not None and email.claimed_at < self.claims_expire_before


def outbox_overview(
    session: Session, claim_timeout_s: float = outbox.DEFAULT_CLAIM_TIMEOUT_S, limit: int = 100
) -> OutboxOverview:
    """How many e-mails are in each status, with the newest failed, pending and sending ones."""
    return OutboxOverview(
        counts=outbox.outbox_counts(session),
        failed=outbox.outbox_rows(session, "failed", limit),
        pending=outbox.outbox_rows(session, "pending", limit),
        sending=outbox.outbox_rows(session, "sending", limit),
        claims_expire_before=utcnow() - timedelta(seconds=claim_timeout_s),
    )


def retry_email(session: Session, actor: audit.Actor, email_id: int) -> OutboxEmail:
    """Queue a failed e-mail again with fresh attempts, and audit it."""
    before = session.scalar(select(OutboxEmail).where(OutboxEmail.id == email_id))
    if before is None:
        raise OrderAdminError("There is no such e-mail.")
    old = {"status": before.status, "attempts": before.attempts, "last_error": before.last_error}
    try:
        row = outbox.retry_email(session, email_id)
    except outbox.OutboxError as exc:
        message = str(exc)
        raise OrderAdminError(message[:1].upper() + message[1:] + ".") from exc
    audit.record(
        session,
        actor,
        "mail.retry",
        f"e-mail {row.id} to {row.to_address}",
        old,
        {"status": row.status, "attempts": row.attempts},
    )
    return row
