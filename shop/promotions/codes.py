"""Discount codes in the cart and at checkout: checking a code, what it takes off, and
holding one use of it while an order is unpaid.

A shopper's code is kept on their cart and checked again every time the cart is priced,
so a code that expires or runs out while it sits there stops applying, and one whose
minimum spend is not reached yet starts applying once the cart reaches it. Placing an order
takes one use (`hold`, a conditional UPDATE against `max_uses`, in the same savepoint as
the stock), and a released unpaid order gives it back (`give_back`), so the last use of a
code cannot go to two orders. Services take a session and plain values; the caller commits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.cart.models import Cart
from shop.money import format_money
from shop.orders import states
from shop.orders.models import Order
from shop.promotions.models import AMOUNT, FREE_DELIVERY, PERCENT, PromoCode
from shop.wording import percent_text

if TYPE_CHECKING:  # the cart's services release holds, which give codes back
    from shop.cart.services import CartOwner

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9_-]{2,31}")
CODE_RULE = "A code is 3 to 32 letters, digits, hyphens or underscores."
ACTIVE, SCHEDULED, ENDED, USED_UP, SWITCHED_OFF = "active", "scheduled", "ended", "used_up", "off"


class PromoError(ValueError):
    """A code that cannot be used as asked; the message is safe to show the shopper."""


class PromoUnavailable(PromoError):
    """A code whose use could not be held for an order (used up, ended, used before)."""


@dataclass(frozen=True)
class PromoOffer:
    """What a cart's code does for it now.

    `problem` says why it does not apply (the minimum spend, an end date...); then the
    discount is 0 and delivery is not free. `below_minimum` marks the one problem the
    shopper can mend by adding to the cart.
    """

    code: str
    label: str = ""
    promo_id: int | None = None
    discount_pence: int = 0
    free_delivery: bool = False
    problem: str = ""
    below_minimum: bool = False

    @property
    def applies(self) -> bool:
        """True when the code takes something off this cart."""
        return not self.problem


def normalise(raw: str | None) -> str:
    """The code as stored: spaces dropped, upper case."""
    return "".join((raw or "").split()).upper()


def find(session: Session, code: str) -> PromoCode | None:
    """The code's row (the code given in any case), or None."""
    return session.scalar(select(PromoCode).where(PromoCode.code == normalise(code)))


def describe(promo: PromoCode, currency: str = "GBP") -> str:
    """What the code gives, in words ("10% off", "£5.00 off", "Free standard delivery")."""
    if promo.kind == PERCENT:
        return f"{percent_text(promo.percent_bp or 0)} off"
    if promo.kind == AMOUNT:
        return f"{format_money(promo.amount_pence or 0, currency)} off"
    return "Free standard delivery"


def discount_for(promo: PromoCode, goods_pence: int) -> int:
    """What the code takes off goods worth `goods_pence` (whole pence, rounded down)."""
    goods = max(goods_pence, 0)
    if promo.kind == PERCENT:
        return goods * (promo.percent_bp or 0) // 10_000
    if promo.kind == AMOUNT:
        return min(promo.amount_pence or 0, goods)
    return 0


def status(promo: PromoCode, now: datetime) -> str:
    """Where the code stands at `now`: ACTIVE, or the first reason nobody can use it."""
    if not promo.active:
        return SWITCHED_OFF
    if promo.starts_at is not None and now < promo.starts_at:
        return SCHEDULED
    if promo.ends_at is not None and now >= promo.ends_at:
        return ENDED
    if promo.max_uses is not None and promo.uses >= promo.max_uses:
        return USED_UP
    return ACTIVE


REFUSALS = {
    SWITCHED_OFF: "The code {} is no longer available.",
    SCHEDULED: "The code {} cannot be used yet.",
    ENDED: "The code {} has expired.",
    USED_UP: "The code {} has been used up.",
}


def _refusal(promo: PromoCode, now: datetime) -> str:
    """Why the code cannot be used by anyone at `now` ("" when it can)."""
    why = REFUSALS.get(status(promo, now))
    return why.format(promo.code) if why else ""


def earlier_use(
    session: Session,
    promo_id: int,
    *,
    user_id: int | None,
    email: str | None,
    other_than: int | None = None,
) -> Order | None:
    """The customer's (their account's, or their e-mail address's, the account's own address
    included) order with this code that was paid or is holding it now, if any; `other_than`
    is an order to leave out."""
    who = []
    if user_id is not None:
        who.append(Order.user_id == user_id)
        account_email = select(func.lower(User.email)).where(User.id == user_id)
        who.append(func.lower(Order.email) == account_email.scalar_subquery())
    if email:
        who.append(func.lower(Order.email) == email.strip().lower())
    if not who:
        return None
    holding = or_(
        Order.status.in_(states.WERE_PAID),
        and_(Order.status == states.PENDING_PAYMENT, Order.stock_reserved.is_(True)),
    )
    query = select(Order).where(Order.promo_code_id == promo_id, holding, or_(*who))
    if other_than is not None:
        query = query.where(Order.id != other_than)
    # A paid order first: "already used" is then the whole truth.
    paid_first = case((Order.status == states.PENDING_PAYMENT, 1), else_=0)
    return session.scalar(query.order_by(paid_first, Order.id).limit(1))


def used_message(code: str, earlier: Order) -> str:
    """Why a once-per-customer code cannot be used again, naming an unpaid order that holds it."""
    if earlier.status == states.PENDING_PAYMENT:
        return (
            f"Your unpaid order {earlier.number} holds the code {code}. Pay for order "
            f"{earlier.number}, or cancel it to use the code on this cart."
        )
    return f"You have already used the code {code}."


def offer(
    session: Session,
    code: str | None,
    subtotal_pence: int,
    *,
    now: datetime,
    currency: str = "GBP",
    user_id: int | None = None,
    email: str | None = None,
) -> PromoOffer | None:
    """What `code` does for goods worth `subtotal_pence` for this customer (None: no code)."""
    if not code:
        return None
    promo = find(session, code)
    if promo is None:
        return PromoOffer(code=code, problem=f"The code {code} is no longer available.")
    return _offer_of(session, promo, subtotal_pence, now, currency, user_id, email)


def _offer_of(
    session: Session,
    promo: PromoCode,
    subtotal_pence: int,
    now: datetime,
    currency: str,
    user_id: int | None,
    email: str | None,
) -> PromoOffer:
    label = describe(promo, currency)
    problem = _refusal(promo, now)
    once = not problem and promo.once_per_customer
    earlier = earlier_use(session, promo.id, user_id=user_id, email=email) if once else None
    if earlier:
        problem = used_message(promo.code, earlier)
    if not problem and subtotal_pence < promo.min_subtotal_pence:
        short = format_money(promo.min_subtotal_pence - subtotal_pence, currency)
        return PromoOffer(
            code=promo.code,
            label=label,
            promo_id=promo.id,
            problem=f"Spend {short} more to use the code {promo.code}.",
            below_minimum=True,
        )
    if problem:
        return PromoOffer(code=promo.code, label=label, promo_id=promo.id, problem=problem)
    return PromoOffer(
        code=promo.code,
        label=label,
        promo_id=promo.id,
        discount_pence=discount_for(promo, subtotal_pence),
        free_delivery=promo.kind == FREE_DELIVERY,
    )


def _owner_cart(session: Session, owner: CartOwner) -> Cart | None:
    return session.scalar(select(Cart).where(owner.clause()).with_for_update())


def apply_code(
    session: Session,
    owner: CartOwner,
    raw: str,
    *,
    now: datetime,
    currency: str = "GBP",
    email: str | None = None,
) -> PromoOffer:
    """Put a code on the owner's cart and say what it does, or raise PromoError.

    A code anyone could use now is kept even when the cart is below its minimum spend (the
    offer's `problem` says how much more to spend); an unknown, ended, used-up or already
    used code is refused and the cart keeps the code it had.
    """
    code = normalise(raw)
    if not code:
        raise PromoError("Enter a discount code.")
    if not CODE_PATTERN.fullmatch(code):
        raise PromoError(f"We don't recognise that code. {CODE_RULE}")
    cart = _owner_cart(session, owner)
    if cart is None or not cart.items:
        raise PromoError("Add something to your cart before entering a code.")
    promo = find(session, code)
    if promo is None:
        raise PromoError(f"We don't recognise the code {code}.")
    # Imported here: the cart's services release holds, which give codes back (`give_back`).
    from shop.cart.services import view_cart

    subtotal = view_cart(session, owner, currency).subtotal_pence
    found = _offer_of(session, promo, subtotal, now, currency, owner.user_id, email)
    if found.problem and not found.below_minimum:
        raise PromoError(found.problem)
    cart.promo_code = promo.code
    return found


def remove_code(session: Session, owner: CartOwner) -> str | None:
    """Take the code off the owner's cart; return the code removed (None: it had none)."""
    cart = _owner_cart(session, owner)
    if cart is None or cart.promo_code is None:
        return None
    removed, cart.promo_code = cart.promo_code, None
    return removed


def cart_code(session: Session, owner: CartOwner) -> str | None:
    """The code on the owner's cart, if any."""
    return session.scalar(select(Cart.promo_code).where(owner.clause()))


def hold(session: Session, order: Order, now: datetime) -> None:
    """Take one use of the order's code in the caller's transaction, or raise
    PromoUnavailable (and take nothing). Orders without a code are left alone."""
    if order.promo_code_id is None:
        return
    promo = session.get(PromoCode, order.promo_code_id, populate_existing=True)
    code = order.promo_code or ""
    if promo is None:
        raise PromoUnavailable(f"The code {code} is no longer available.")
    earlier = (
        earlier_use(
            session, promo.id, user_id=order.user_id, email=order.email, other_than=order.id
        )
        if promo.once_per_customer
        else None
    )
    if earlier:
        raise PromoUnavailable(used_message(promo.code, earlier))
    taken = session.execute(
        update(PromoCode)
        .where(
            PromoCode.id == promo.id,
            PromoCode.active.is_(True),
            or_(PromoCode.max_uses.is_(None), PromoCode.uses < PromoCode.max_uses),
            or_(PromoCode.starts_at.is_(None), PromoCode.starts_at <= now),
            or_(PromoCode.ends_at.is_(None), PromoCode.ends_at > now),
        )
        .values(uses=PromoCode.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # (deleted meanwhile, when it is no longer there)
        current = session.get(PromoCode, promo.id, populate_existing=True)
        why = _refusal(current, now) if current is not None else ""
        raise PromoUnavailable(why or f"The code {code} is no longer available.")


def hold_or_count(session: Session, order: Order, now: datetime) -> bool:
    """Take a use of the order's code as `hold` does; when it cannot be held (the order
    was already paid with its discount), count the use anyway and return False."""
    try:
        with session.begin_nested():
            hold(session, order, now)
        return True
    except PromoUnavailable:
        session.execute(
            update(PromoCode)
            .where(PromoCode.id == order.promo_code_id)
            .values(uses=PromoCode.uses + 1)
            .execution_options(synchronize_session=False)
        )
        return False


def give_back(session: Session, orders: Sequence[Order]) -> None:
    """Return the uses held by these released orders (one per order with a code)."""
    held = Counter(order.promo_code_id for order in orders if order.promo_code_id is not None)
    for promo_id in sorted(held):
        session.execute(
            update(PromoCode)
            .where(PromoCode.id == promo_id)
            .values(
                uses=case(
                    (PromoCode.uses > held[promo_id], PromoCode.uses - held[promo_id]), else_=0
                )
            )
            .execution_options(synchronize_session=False)
        )
