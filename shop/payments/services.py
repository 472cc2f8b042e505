"""Paying for an order: attempts with derived idempotency keys, and applying what the
gateway reports (on return, by webhook or by reconciliation) exactly once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.services import remove_bought
from shop.catalog.models import Product
from shop.catalog.services import add_to_products
from shop.checkout.adjustments import BenefitQuote
from shop.checkout.pricing import CheckoutSettings
from shop.checkout.services import (
    BenefitNotHeld,
    CheckoutError,
    reserve_stock,
)
from shop.db import Transaction, parse_id, utcnow
from shop.events.bus import record_event
from shop.mail.outbox import recent_order_count, withdraw_pending
from shop.money import format_money
from shop.orders import states
from shop.orders.holds import release_stock
from shop.orders.locking import lock_order
from shop.orders.models import Order
from shop.orders.notifications import queue_order_email
from shop.payments.gateway import (
    CardDeclined,
    GatewayError,
    GatewayUnavailable,
    Intent,
    PaymentGateway,
)
from shop.payments.models import PaymentAttempt, SavedCard
from shop.promotions import codes
from shop.tracking.models import Event

# Attempt states in which the outcome at the gateway is not known yet.
OPEN = ("creating", "unknown", "requires_action", "processing")
log = logging.getLogger(__name__)
STALE_CREATING = timedelta(minutes=2)
UNUSABLE_CARD = "Those card details could not be used. Please enter them again."
# Someone trying stolen cards makes many declined payments on one order; a shopper gives up,
# or calls the bank, long before. The e-mail about a decline goes out once an hour at most.
MAX_DECLINES_PER_ORDER = 10
TOO_MANY_DECLINES = (
    "Payments for this order were declined too many times, so it takes no more cards. "
    "Please contact us, or start a new order."
)
FAILURE_NOTICE_INTERVAL = timedelta(hours=1)


class PaymentError(ValueError):
    """A payment request the shop refuses; the message is safe to show."""


class NoCardDetails(PaymentError):
    """The request holds no usable payment method: bad input, not a state of the order."""


class CardNotYours(PaymentError):
    """The payment method is a card saved to another account: the shop never charges it for
    somebody else, whatever the gateway would allow."""


@dataclass(frozen=True)
class PaymentOutcome:
    """What the shopper's browser should do next."""

    # paid | requires_action | declined | unavailable | processing | closed | refused
    # ("refused": the order is still unpaid but its stock or points cannot be held again;
    # the message says why, and the shopper may cancel the order).
    status: str
    message: str = ""
    client_secret: str | None = None

    @property
    def ok(self) -> bool:
        """True when the order is paid."""
        return self.status == "paid"


def _key(order_id: int, attempt: int) -> str:
    return f"order-{order_id}-attempt-{attempt}"


def _declines(session: Session, order_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(PaymentAttempt.id)).where(
                PaymentAttempt.order_id == order_id, PaymentAttempt.status == "failed"
            )
        )
        or 0
    )


def latest_attempt(session: Session, order_id: int) -> PaymentAttempt | None:
    """The order's most recent payment attempt."""
    return session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id)
        .order_by(PaymentAttempt.attempt.desc())
        .limit(1)
    )


def pay_order(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    *,
    order_id: int,
    payment_method: str,
    save_card: bool = False,
    user_id: int | None = None,
) -> PaymentOutcome:
    """Charge the order's server-side total to a card the browser collected.

    A double submit reuses the open attempt (same idempotency key), so at most one charge
    is ever created per attempt. A decline releases the held stock and keeps the order, so
    the shopper can try again with another card. While a 3-D Secure check is open, the same
    card resumes it and another card replaces it (`_resume_or_replace`).
    """
    if not payment_method or len(payment_method) > 100:
        raise NoCardDetails("Please enter your card details.")
    with transaction() as session:
        if _saved_by_someone_else(session, payment_method, user_id):
            raise CardNotYours("That card cannot be used here. Please enter your card details.")
        order, closed = _payable(session, order_id)
        if closed is not None:
            return closed
        open_attempt = latest_attempt(session, order_id)
        waiting = _waiting(open_attempt)
        refused = None
        if waiting is not None and not order.stock_reserved:
            # The hold ended while the bank check was open: hold the stock and points again
            # before the shopper may finish it, as a new payment would.
            try:
                reserve_stock(session, order, settings)
            except CheckoutError as exc:
                refused = str(exc)
        if waiting is None:
            if (
                open_attempt is not None
                and open_attempt.status in ("creating", "processing")
                and utcnow() - open_attempt.created_at < STALE_CREATING
            ):
                return PaymentOutcome("processing", "Your payment is being processed.")
            if _declines(session, order_id) >= MAX_DECLINES_PER_ORDER:
                return PaymentOutcome("refused", TOO_MANY_DECLINES)
            customer = _customer_for(session, user_id, payment_method, save_card)
            try:
                reserve_stock(session, order, settings)
            except CheckoutError as exc:  # out of stock, or the points can no longer be held
                return PaymentOutcome("refused", str(exc))
            attempt = _attempt_for(session, order, open_attempt, payment_method, save_card)
            ref = (order.id, order.number, attempt.attempt, attempt.idempotency_key)
            amount, currency = attempt.amount_pence, attempt.currency
    if refused is not None:  # the open check must not be finished for an order not held
        assert waiting is not None
        intent = _cancel_or_retrieve(gateway, waiting.intent_id)
        if intent is not None:
            with transaction() as session:
                status = apply_intent(session, settings, intent, source="checkout")
            if status in ("paid", "flagged"):
                return _outcome_for(status, intent)
        return PaymentOutcome("refused", refused)
    if waiting is not None:  # a 3-D Secure check is open: resume it, or replace it
        outcome = _resume_or_replace(
            transaction, gateway, settings, order_id, waiting, payment_method
        )
        if outcome is not None:
            return outcome
        # The check was cancelled and its attempt failed, so this call starts a new one.
        return pay_order(
            transaction,
            gateway,
            settings,
            order_id=order_id,
            payment_method=payment_method,
            save_card=save_card,
            user_id=user_id,
        )
    try:
        intent = gateway.pay(
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            idempotency_key=ref[3],
            metadata={"order_id": str(ref[0]), "order_number": ref[1], "attempt": str(ref[2])},
            customer=customer,
        )
    except CardDeclined as exc:
        with transaction() as session:
            _fail(session, settings, order_id, ref[2], exc.message, exc.intent_id)
        return PaymentOutcome("declined", exc.message)
    except GatewayUnavailable:
        with transaction() as session:
            _set_attempt(session, order_id, ref[2], status="unknown")
        return PaymentOutcome(
            "unavailable",
            "We could not reach our payment provider, so your card has not been charged "
            "yet. Your order is saved: please try again in a moment.",
        )
    except GatewayError as exc:
        # Not the card's bank saying no, but a request the gateway refused (an unknown or
        # foreign payment method, say): nothing was charged, so the order keeps its stock,
        # nobody is e-mailed, and the gateway's own words stay in the log.
        log.warning("payment of order %s refused by the gateway: %s", ref[1], exc)
        with transaction() as session:
            _set_attempt(session, order_id, ref[2], status="failed", error=UNUSABLE_CARD)
        return PaymentOutcome("declined", UNUSABLE_CARD)
    with transaction() as session:
        status = apply_intent(session, settings, intent, source="checkout")
    if status == "paid" and save_card and user_id is not None:
        _save_card_quietly(transaction, gateway, user_id, intent, settings.base_url)
    return _outcome_for(status, intent)


def _waiting(attempt: PaymentAttempt | None) -> _Waiting | None:
    if attempt is None or attempt.status != "requires_action" or not attempt.intent_id:
        return None
    return _Waiting(attempt.attempt, attempt.intent_id, attempt.payment_method_id)


@dataclass(frozen=True)
class _Waiting:
    """An attempt waiting for the shopper's 3-D Secure check."""

    number: int
    intent_id: str
    payment_method: str | None


def _same_card(gateway: PaymentGateway, old: str | None, new: str) -> bool:
    # The browser makes a new PaymentMethod on every click, so a double click with the same
    # card has a new id: compare what the card is.
    if old is None or old == new:
        return True
    try:
        before, after = gateway.card(old), gateway.card(new)
    except GatewayError:
        return True  # cannot tell: resume the open check rather than risk two charges
    same = ("brand", "last4", "exp_month", "exp_year")
    return all(getattr(before, name) == getattr(after, name) for name in same)


def _resume_or_replace(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    order_id: int,
    waiting: _Waiting,
    payment_method: str,
) -> PaymentOutcome | None:
    """The same card resumes the open 3-D Secure check. Another card cancels it, and None
    tells the caller to charge the new card (unless the old one was paid meanwhile)."""
    if _same_card(gateway, waiting.payment_method, payment_method):
        return _requires_action(gateway.retrieve(waiting.intent_id))
    with transaction() as session:
        _set_attempt(
            session, order_id, waiting.number, status="failed", error="replaced by another card"
        )
    try:
        intent = gateway.cancel(waiting.intent_id)
    except GatewayError:
        try:
            intent = gateway.retrieve(waiting.intent_id)
        except GatewayError:
            intent = None
        if intent is None or intent.status == "requires_action":
            with transaction() as session:
                _set_attempt(session, order_id, waiting.number, status="requires_action")
            return PaymentOutcome(
                "unavailable",
                "We could not switch to the new card just now; nothing was charged. "
                "Please try again in a moment.",
            )
    if intent.status == "canceled":
        return None
    with transaction() as session:  # it succeeded before the cancel reached it
        status = apply_intent(session, settings, intent, source="checkout")
    return _outcome_for(status, intent)


def _cancel_or_retrieve(gateway: PaymentGateway, intent_id: str) -> Intent | None:
    """Cancel an intent at the gateway; when it cannot be cancelled (it succeeded, is being
    processed or is already cancelled), its current state; None when the gateway is down."""
    try:
        return gateway.cancel(intent_id)
    except GatewayError:
        try:
            return gateway.retrieve(intent_id)
        except GatewayError:
            return None


def _settle_cancelled(
    transaction: Transaction, gateway: PaymentGateway, settings: CheckoutSettings, intent_id: str
) -> PaymentOutcome | None:
    """Settle an open attempt of a cancelled order: cancel it at the gateway, or record and
    flag money already taken. None when the gateway could not be asked."""
    intent = _cancel_or_retrieve(gateway, intent_id)
    if intent is None:
        return None
    with transaction() as session:
        status = apply_intent(session, settings, intent, source="cancelled order")
    if status == "flagged":
        return PaymentOutcome(
            "closed",
            "This order was cancelled before your payment went through; "
            "we will refund the payment.",
        )
    return None


def cancel_open_payments(
    transaction: Transaction, gateway: PaymentGateway, settings: CheckoutSettings, order_id: int
) -> int:
    """After an unpaid order was cancelled (and committed): cancel its open payment intents
    at the gateway, so a bank check left open can no longer take the money. Best effort:
    an intent the gateway cannot be asked about stays open for reconciliation. Money taken
    before the cancel reached the gateway is recorded and the order flagged for a refund.
    Returns how many open attempts were settled."""
    with transaction() as session:
        intent_ids = list(
            session.scalars(
                select(PaymentAttempt.intent_id).where(
                    PaymentAttempt.order_id == order_id,
                    PaymentAttempt.status.in_(OPEN),
                    PaymentAttempt.intent_id.is_not(None),
                )
            )
        )
    settled = 0
    for intent_id in intent_ids:
        intent = _cancel_or_retrieve(gateway, intent_id)
        if intent is None:
            continue
        with transaction() as session:
            apply_intent(session, settings, intent, source="cancelled order")
        settled += 1
    return settled


def expire_waiting_payments(
    transaction: Transaction,
    gateway: PaymentGateway,
    settings: CheckoutSettings,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Release the expired holds that `release_expired` keeps because a 3-D Secure check is
    open: cancel the check at the gateway first, then put the stock and points back.

    In that order the shopper can never finish the check for stock that is no longer held.
    A check that succeeded meanwhile marks the order paid (its stock is still held); one the
    gateway cannot be asked about keeps its hold until the next run. Returns (released,
    kept).
    """
    now = now or utcnow()
    with transaction() as session:
        rows = session.execute(
            select(Order.id, PaymentAttempt.attempt, PaymentAttempt.intent_id)
            .join(PaymentAttempt, PaymentAttempt.order_id == Order.id)
            .where(
                Order.status == states.PENDING_PAYMENT,
                Order.stock_reserved.is_(True),
                Order.reserved_until < now,
                PaymentAttempt.status == "requires_action",
                PaymentAttempt.intent_id.is_not(None),
            )
            .order_by(Order.id)
        ).all()
    released = kept = 0
    for order_id, number, intent_id in rows:
        intent = _cancel_or_retrieve(gateway, intent_id)
        if intent is None:
            kept += 1
            continue
        with transaction() as session:
            if intent.status != "canceled":
                apply_intent(session, settings, intent, source="hold expiry")
                kept += 1
                continue
            session.execute(
                update(PaymentAttempt)
                .where(
                    PaymentAttempt.order_id == order_id,
                    PaymentAttempt.attempt == number,
                    PaymentAttempt.status.in_(OPEN),
                )
                .values(status="failed", error=HOLD_EXPIRED, updated_at=utcnow())
            )
            order = session.get(Order, order_id)
            if order is not None and lock_order(session, order).status == states.PENDING_PAYMENT:
                released += release_stock(session, order, "Stock hold expired")
    return released, kept


HOLD_EXPIRED = "The bank check was not finished in time, so your items were no longer held for you."


def complete_payment(
    transaction: Transaction, gateway: PaymentGateway, settings: CheckoutSettings, order_id: int
) -> PaymentOutcome:
    """After the browser finished 3-D Secure: ask the gateway and apply what it says.

    For an order cancelled meanwhile, the open attempt is still settled with the gateway
    (cancelled there, or, when the money was already taken, recorded and flagged for a
    refund), so a payment that went through is never left unseen.
    """
    with transaction() as session:
        order, closed = _payable(session, order_id)
        attempt = latest_attempt(session, order_id)
        if attempt is None or not attempt.intent_id:
            return closed or PaymentOutcome("declined", "No payment was started for this order.")
        if closed is not None and (order.status != states.CANCELLED or attempt.status not in OPEN):
            return closed
        intent_id, save_card, user_id = attempt.intent_id, attempt.save_card, order.user_id
    if closed is not None:  # cancelled with the check still open: settle it with the gateway
        return _settle_cancelled(transaction, gateway, settings, intent_id) or closed
    intent = gateway.retrieve(intent_id)
    with transaction() as session:
        status = apply_intent(session, settings, intent, source="return")
    if status == "paid" and save_card and user_id is not None:
        _save_card_quietly(transaction, gateway, user_id, intent, settings.base_url)
    return _outcome_for(status, intent)


def apply_intent(
    session: Session, settings: CheckoutSettings, intent: Intent, *, source: str
) -> str:
    """Apply a gateway report about an intent to its order; safe to repeat.

    Returns "paid", "requires_action", "failed", "processing", "flagged" or "ignored".
    """
    order_id = _order_id(intent)
    order = session.get(Order, order_id) if order_id is not None else None
    number = intent.metadata.get("order_number")
    if order is None or (number and number != order.number):
        return "ignored"
    lock_order(session, order)  # a staff cancel at the same moment waits, or is seen
    attempt = _attempt_of(session, order, intent)
    if intent.succeeded:
        if attempt is not None:
            attempt.status = "succeeded"
        problem = _mismatch(order, intent)
        if problem:
            _flag(order, f"{problem} (intent {intent.id}, via {source}); not accepted")
            return "flagged"
        if order.status == states.PENDING_PAYMENT:
            _mark_paid(session, settings, order, intent, source)
            return "paid"
        if order.status == states.CANCELLED:
            _flag(order, f"paid after it was cancelled (intent {intent.id}); refund it")
            return "flagged"
        return "paid"
    if intent.status == "requires_action":
        if attempt is not None and attempt.status in OPEN:
            attempt.status = "requires_action"
        return "requires_action"
    if intent.status == "processing":
        if attempt is not None and attempt.status in OPEN:
            attempt.status = "processing"
        return "processing"
    if attempt is not None and attempt.status in OPEN:
        message = intent.error_message or "The payment did not go through."
        _fail(session, settings, order.id, attempt.attempt, message, intent.id)
    return "failed"


def _outcome_for(status: str, intent: Intent) -> PaymentOutcome:
    if status == "paid":
        return PaymentOutcome("paid")
    if status == "requires_action":
        return _requires_action(intent)
    if status == "processing":
        return PaymentOutcome("processing", "Your payment is being processed.")
    if status == "flagged":
        return PaymentOutcome(
            "closed", "We could not confirm this payment automatically; we will be in touch."
        )
    return PaymentOutcome("declined", intent.error_message or "The payment did not go through.")


def _requires_action(intent: Intent) -> PaymentOutcome:
    return PaymentOutcome(
        "requires_action", "Your bank asks you to confirm this payment.", intent.client_secret
    )


def _payable(session: Session, order_id: int) -> tuple[Order, PaymentOutcome | None]:
    """The order, and the outcome to answer with when it is no longer awaiting payment."""
    order = session.get(Order, order_id)
    if order is None:
        raise PaymentError("That order does not exist.")
    return order, _closed_outcome(order)


def _closed_outcome(order: Order) -> PaymentOutcome | None:
    if order.status == states.PENDING_PAYMENT:
        return None
    if order.status in (states.CANCELLED,):
        return PaymentOutcome("closed", "This order was cancelled and can no longer be paid.")
    return PaymentOutcome("paid")


def _saved_by_someone_else(session: Session, payment_method: str, user_id: int | None) -> bool:
    """True when the payment method is a card saved to an account other than `user_id`
    (any account, for a guest)."""
    owners = session.scalars(
        select(SavedCard.user_id).where(SavedCard.payment_method_id == payment_method)
    ).all()
    return any(owner != user_id for owner in owners)


def _customer_for(
    session: Session, user_id: int | None, payment_method: str, save_card: bool
) -> str | None:
    """The Stripe customer the card belongs to (saved cards) or will be saved to."""
    if user_id is None:
        return None
    user = session.get(User, user_id)
    saved = session.scalar(
        select(SavedCard).where(
            SavedCard.payment_method_id == payment_method, SavedCard.user_id == user_id
        )
    )
    if saved is not None or save_card:
        return user.stripe_customer_id if user else None
    return None


def _attempt_for(
    session: Session,
    order: Order,
    open_attempt: PaymentAttempt | None,
    payment_method: str,
    save_card: bool,
) -> PaymentAttempt:
    """Reuse an attempt whose outcome is unknown (same key); otherwise start the next one."""
    if open_attempt is not None and open_attempt.status in ("unknown", "creating"):
        if open_attempt.payment_method_id == payment_method:
            open_attempt.status = "creating"
            open_attempt.created_at = utcnow()
            return open_attempt
        # A different card: the old attempt's charge, if any, is found by reconciliation.
        open_attempt.status = "failed"
        open_attempt.error = "superseded by a new attempt with another card"
    number = (
        session.scalar(
            select(func.max(PaymentAttempt.attempt)).where(PaymentAttempt.order_id == order.id)
        )
        or 0
    ) + 1
    attempt = PaymentAttempt(
        order_id=order.id,
        attempt=number,
        idempotency_key=_key(order.id, number),
        status="creating",
        amount_pence=order.total_pence,
        currency=order.currency,
        payment_method_id=payment_method,
        save_card=save_card,
    )
    session.add(attempt)
    try:
        session.flush()
    except IntegrityError as exc:
        raise PaymentError("This payment is already being processed.") from exc
    return attempt


def _set_attempt(session: Session, order_id: int, number: int, **values: object) -> None:
    session.execute(
        update(PaymentAttempt)
        .where(PaymentAttempt.order_id == order_id, PaymentAttempt.attempt == number)
        .values(updated_at=utcnow(), **values)
    )


def _fail(
    session: Session,
    settings: CheckoutSettings,
    order_id: int,
    number: int,
    message: str,
    intent_id: str | None,
) -> None:
    """Record a failed attempt once: release the stock and tell the shopper by e-mail (once
    per FAILURE_NOTICE_INTERVAL at most)."""
    attempt = session.scalar(
        select(PaymentAttempt).where(
            PaymentAttempt.order_id == order_id, PaymentAttempt.attempt == number
        )
    )
    if attempt is None or attempt.status == "failed":
        return
    attempt.status = "failed"
    attempt.error = message[:2000]
    if intent_id and attempt.intent_id is None:
        attempt.intent_id = intent_id
    order = session.get(Order, order_id)
    if order is None or lock_order(session, order).status != states.PENDING_PAYMENT:
        return
    release_stock(session, order, "")
    states.note(order, f"Payment declined: {message}")
    if recent_order_count(session, order.id, ("payment_failed",), FAILURE_NOTICE_INTERVAL):
        return
    queue_order_email(
        session,
        order,
        "payment_failed",
        settings,
        retry_url=f"{settings.base_url}/checkout/pay/{order.access_token}",
        reason=message,
    )


def _order_id(intent: Intent) -> int | None:
    return parse_id(str(intent.metadata.get("order_id", "")))


def _attempt_of(session: Session, order: Order, intent: Intent) -> PaymentAttempt | None:
    attempt = session.scalar(select(PaymentAttempt).where(PaymentAttempt.intent_id == intent.id))
    if attempt is not None:
        return attempt
    number = intent.metadata.get("attempt", "")
    if not number.isdigit():
        return None
    attempt = session.scalar(
        select(PaymentAttempt).where(
            PaymentAttempt.order_id == order.id, PaymentAttempt.attempt == int(number)
        )
    )
    if attempt is not None and attempt.intent_id is None:
        attempt.intent_id = intent.id
    return attempt


def _mismatch(order: Order, intent: Intent) -> str:
    if intent.currency.upper() != order.currency.upper():
        return f"currency mismatch: paid {intent.currency}, order is in {order.currency}"
    if intent.amount != order.total_pence:
        paid, total = (format_money(p, order.currency) for p in (intent.amount, order.total_pence))
        return f"amount mismatch: paid {paid}, order total is {total}"
    return ""


def _flag(order: Order, problem: str) -> None:
    if order.payment_flag and problem in order.payment_flag:
        return
    order.payment_flag = ((order.payment_flag or "") + "\n" + problem).strip()[:4000]
    states.note(order, staff_note=f"Payment flagged: {problem}")


def _mark_paid(
    session: Session, settings: CheckoutSettings, order: Order, intent: Intent, source: str
) -> None:
    """The one place an order becomes paid: status, stock, cart, e-mail and event together.

    The money was taken, so the order is paid; but an order whose hold had ended (expired,
    or released after a decline) holds no stock or points, so they are taken again here.
    What cannot be taken is flagged for staff instead of being silently oversold.
    """
    if not order.stock_reserved:
        _hold_again_for_payment(session, settings, order, intent)
    states.transition(order, states.PAID, f"Payment received ({source})")
    order.reserved_until = None
    now = utcnow()
    _count_orders(session, order)
    _record_purchases(session, order, now)
    remove_bought(session, order)
    withdraw_pending(
        session, ("payment_failed",), "Not sent: the order was paid first.", order_id=order.id
    )
    queue_order_email(session, order, "order_confirmation", settings)
    record_event(
        session,
        "order_paid",
        {
            "order_id": order.id,
            "number": order.number,
            "user_id": order.user_id,
            "email": order.email,
            "total_pence": order.total_pence,
            "currency": order.currency,
            "intent_id": intent.id,
        },
    )


class _NoBenefits:
    """A benefits provider that holds nothing: take the stock alone."""

    def quote(self, *args: object, **kwargs: object) -> BenefitQuote:  # never asked
        raise NotImplementedError

    def hold(self, session: Session, order: Order, quote: BenefitQuote | None) -> None:
        return None

    def release(self, session: Session, order: Order) -> int:
        return 0


def _hold_again_for_payment(
    session: Session, settings: CheckoutSettings, order: Order, intent: Intent
) -> None:
    """Take the stock, points and code use of an order paid after its hold ended; flag
    what cannot be taken. The shopper paid the discounted total, so a code or points that
    can no longer be held do not stop the stock from being taken."""
    missing: list[str] = []
    attempts: tuple[dict[str, Any], ...] = (
        {},
        {"hold_code": False},
        {"hold_code": False, "benefits": _NoBenefits()},
    )
    # Points refused in the first try are refused again in the second, which only leaves
    # the code out: two reasons mean the points could not be taken.
    for options in attempts:
        try:
            reserve_stock(session, order, settings, **options)
            break
        except BenefitNotHeld as exc:
            missing.append(str(exc))
        except CheckoutError as exc:
            _flag(
                order,
                f"paid (intent {intent.id}) after its hold had ended, and its stock could not "
                f"be taken again ({exc}); restock or refund it",
            )
            return
    if not missing:
        return
    lost = []
    if len(missing) == 2:
        lost.append(f"its {order.points_redeemed:,} points could not be debited again")
    if order.promo_code_id is not None and not codes.hold_or_count(session, order, utcnow()):
        lost.append(f"its code {order.promo_code} was used beyond its limits")
    if lost:
        _flag(
            order,
            f"paid (intent {intent.id}) after its hold had ended, and {' and '.join(lost)} "
            f"({' '.join(dict.fromkeys(missing))}); recover the discount or refund it",
        )


def _count_orders(session: Session, order: Order) -> None:
    lines = Counter(line.product_id for line in order.lines if line.product_id is not None)
    add_to_products(session, Product.order_count, lines)


def _record_purchases(session: Session, order: Order, now: object) -> None:
    rows = [
        {
            "kind": "purchase",
            "visitor_id": order.visitor_id or f"order-{order.number}",
            "user_id": order.user_id,
            "product_id": line.product_id,
            "order_id": order.id,
            "quantity": line.quantity,
            "rec_id": line.rec_id,  # the list its cart line was last added from
            "created_at": now,
        }
        for line in order.lines
        if line.product_id is not None
    ]
    from shop.accounts.privacy import personalization_refused  # privacy imports payments

    if rows and not personalization_refused(session, order.user_id, order.visitor_id):
        session.execute(insert(Event), rows)


def _save_card_quietly(
    transaction: Transaction, gateway: PaymentGateway, user_id: int, intent: Intent, base_url: str
) -> None:
    from shop.payments.cards import save_card_after_payment

    save_card_after_payment(transaction, gateway, user_id, intent, base_url)
