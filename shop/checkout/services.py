"""Placing an order from the cart, and holding or releasing its stock."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shop.accounts import notices
from shop.accounts.models import Address, User
from shop.accounts.profile import addresses, confirm_change
from shop.cart.services import CartOwner, CartView, lock_cart, orders_holding, view_cart
from shop.catalog.models import Product
from shop.checkout import adjustments
from shop.checkout.adjustments import NO_BENEFITS, BenefitQuote, CheckoutBenefits
from shop.checkout.pricing import (
    HOME_COUNTRY,
    CheckoutSettings,
    ShippingOption,
    Totals,
    below_minimum_charge,
    member_free_delivery,
    shipping_option,
    shipping_options,
    totals,
)
from shop.db import utcnow
from shop.orders import states
from shop.orders.holds import release_expired
from shop.orders.models import Order, OrderLine
from shop.promotions import codes
from shop.promotions.codes import PromoOffer


class CheckoutError(ValueError):
    """A checkout step that cannot go ahead; the message is safe to show to the shopper."""


class BelowMinimumCharge(CheckoutError):
    """The order's total is below the smallest card payment; change the basket or points."""


class OutOfStock(CheckoutError):
    """A product no longer has the quantity the order asks for."""

    def __init__(
        self, name: str, wanted: int, available: int, product_id: int | None = None
    ) -> None:
        if available <= 0:
            message = f"Sorry, {name} has just sold out."
        else:
            message = f"Sorry, only {available} of {name} left (you asked for {wanted})."
        super().__init__(message)
        self.name = name
        self.wanted = wanted
        self.available = available
        self.product_id = product_id


class HeldForEarlierOrder(CheckoutError):
    """The cart counts on units that the shopper's own earlier unpaid order holds: that
    order must be paid for or cancelled before they can be ordered again."""


class BenefitNotHeld(CheckoutError):
    """A benefit the order uses (points) can no longer be held."""


class BenefitRefused(CheckoutError):
    """The benefits asked for (e.g. points to redeem) cannot be applied to this cart."""


@dataclass(frozen=True)
class ContactAddress:
    """Who the order is for and where it goes."""

    email: str
    name: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str = ""
    phone: str = ""

    def as_dict(self) -> dict[str, str]:
        """A plain dict (for the signed session cookie)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ContactAddress | None:
        """Rebuild from `as_dict()`; None when data is missing or incomplete."""
        if not data:
            return None
        try:
            return cls(**{k: str(data[k]) for k in cls.__dataclass_fields__ if k in data})
        except TypeError:
            return None


@dataclass(frozen=True)
class Quote:
    """The cart priced for checkout: lines, the shipping options and the totals."""

    cart: CartView
    options: list[ShippingOption]
    shipping: ShippingOption | None
    totals: Totals
    benefits: BenefitQuote = NO_BENEFITS
    promo: PromoOffer | None = None  # the cart's discount code, applying or not (and why)
    country: str = HOME_COUNTRY  # where delivery is priced to


def _fingerprint(
    currency: str,
    lines: list[tuple[int | None, int, int]],
    delivery: tuple[str | None, int],
    discounts: tuple[int, int, int, int, int],
    total_pence: int,
) -> str:
    canonical = {
        "currency": currency,
        "lines": sorted(lines, key=lambda line: (line[0] or 0, line[1], line[2])),
        "delivery": delivery,
        "discounts": discounts,
        "total": total_pence,
    }
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def quote_fingerprint(priced: Quote) -> str:
    """A digest of what the review page shows: each line (product id, quantity, unit
    price), the delivery method and price, the discounts and points, and the total.

    `order_fingerprint` of the order placed from the same cart gives the same digest, so
    placing can tell that the order is exactly what the shopper reviewed.
    """
    shown = priced.totals
    return _fingerprint(
        priced.cart.currency,
        [(ln.product.id, ln.quantity, ln.product.price_pence) for ln in priced.cart.lines],
        (priced.shipping.code if priced.shipping else None, shown.shipping_pence),
        (
            shown.discount_pence,
            shown.promo_discount_pence,
            shown.tier_discount_pence,
            shown.points_discount_pence,
            shown.points_redeemed,
        ),
        shown.total_pence,
    )


def order_fingerprint(order: Order) -> str:
    """The `quote_fingerprint` of the review this order matches (see there)."""
    return _fingerprint(
        order.currency,
        [(ln.product_id, ln.quantity, ln.unit_price_pence) for ln in order.lines],
        (order.shipping_method, order.shipping_pence),
        (
            order.discount_pence,
            order.promo_discount_pence,
            order.tier_discount_pence,
            order.points_discount_pence,
            order.points_redeemed,
        ),
        order.total_pence,
    )


def quote(
    session: Session,
    owner: CartOwner,
    settings: CheckoutSettings,
    method: str | None = None,
    *,
    redeem_points: int = 0,
    benefits: CheckoutBenefits | None = None,
    email: str | None = None,
    now: datetime | None = None,
    country: str = HOME_COUNTRY,
) -> Quote:
    """Price the owner's cart with the chosen shipping method (if any) to `country`, its
    discount code and benefits.

    The code applies first; the benefits provider (by default the app's registered one;
    none: no benefits) is quoted on the goods after it. Points the provider refuses are
    reported in `Quote.benefits.errors` and not applied. `email` is the shopper's address
    when known, for codes limited to one use per customer.
    """
    cart = view_cart(session, owner, settings.currency)
    subtotal = cart.subtotal_pence
    promo = None
    if cart.lines:
        promo = codes.offer(
            session,
            cart.promo_code,
            subtotal,
            now=now or utcnow(),
            currency=settings.currency,
            user_id=owner.user_id,
            email=email,
        )
    promo_off = promo.discount_pence if promo is not None else 0
    provider = benefits if benefits is not None else adjustments.registered()
    offered = NO_BENEFITS
    if provider is not None and cart.lines:
        offered = provider.quote(
            session,
            owner.user_id,
            subtotal - promo_off,
            shipping_options(settings, subtotal, country=country),
            redeem_points,
        )
    use_points = not offered.errors
    line_totals = [line.line_total_pence for line in cart.lines]
    discounts = {
        "promo_discount_pence": promo_off,
        "promo_code": promo.code if promo is not None else None,
        "tier_discount_pence": offered.tier_discount_pence,
        "points_discount_pence": offered.points_discount_pence if use_points else 0,
        "points_redeemed": offered.points_redeemed if use_points else 0,
    }
    free, note = offered.free_shipping, ""
    code_free = promo is not None and promo.free_delivery
    if free or code_free:
        goods = totals(line_totals, None, **discounts).total_pence
        note = member_free_delivery(goods, settings) or ""
        free = not note
    because = _free_because(offered.free_shipping, code_free)
    options = shipping_options(
        settings, subtotal, country=country, free_standard=free, because=because
    )
    chosen = next((option for option in options if option.code == method), None)
    if method and chosen is None:
        # raises UnknownShippingMethod
        chosen = shipping_option(settings, method, subtotal, country=country)
    return Quote(
        cart=cart,
        options=options,
        shipping=chosen,
        totals=totals(line_totals, chosen, **discounts, free_shipping=free, shipping_note=note),
        benefits=offered,
        promo=promo,
        country=country,
    )


def _free_because(member: bool, code: bool) -> str:
    if member:
        return "for you as a member"
    return "with your code" if code else ""


def place_order(
    session: Session,
    *,
    owner: CartOwner,
    contact: ContactAddress,
    method: str,
    checkout_token: str,
    settings: CheckoutSettings,
    save_address: bool = False,
    visitor_id: str | None = None,
    now: datetime | None = None,
    redeem_points: int = 0,
    campaign: str | None = None,
    benefits: CheckoutBenefits | None = None,
) -> Order:
    """Turn the cart into an order awaiting payment, holding its stock and benefits.

    The same checkout token always gives the same order, so a double submit places one
    order. Benefits (tier discount, free shipping, `redeem_points` points) come from
    `benefits`, by default the app's registered provider, which holds the points in this
    transaction. `campaign` is the marketing campaign key the shopper came from.
    Raises CheckoutError (OutOfStock, HeldForEarlierOrder, BenefitRefused, BenefitNotHeld)
    and changes nothing when it cannot.
    """
    lock_cart(session, owner)  # a double submit waits here, then finds the order placed
    existing = order_by_checkout_token(session, checkout_token)
    if existing is not None:
        return existing
    now = now or utcnow()
    release_expired(session, now)
    provider = benefits if benefits is not None else adjustments.registered()
    priced = quote(
        session,
        owner,
        settings,
        method,
        redeem_points=redeem_points,
        benefits=provider,
        email=contact.email,
        now=now,
        country=contact.country,
    )
    if not priced.cart.lines:
        raise CheckoutError("Your cart is empty.")
    if priced.benefits.errors:
        raise BenefitRefused(" ".join(priced.benefits.errors))
    for line in priced.cart.lines:
        if not line.product.active:
            raise CheckoutError(f"{line.product.name} is no longer sold; remove it to continue.")
        if line.on_sale_from is not None:
            raise CheckoutError(f"{line.product.name} is not on sale yet; remove it to continue.")
    too_small = below_minimum_charge(priced.totals.total_pence, settings)
    if too_small is not None:
        raise BelowMinimumCharge(too_small)
    order = Order(
        number=_new_order_number(now),
        kind="sale",
        user_id=owner.user_id,
        email=contact.email,
        status=states.PENDING_PAYMENT,
        source="web",
        country=contact.country,
        currency=settings.currency,
        vat_rate_bp=settings.vat_rate_bp,
        subtotal_pence=priced.totals.subtotal_pence,
        shipping_pence=priced.totals.shipping_pence,
        discount_pence=priced.totals.discount_pence,
        **_promo_columns(priced, settings),
        tier_discount_pence=priced.totals.tier_discount_pence,
        tier_discount_label=(
            priced.benefits.tier_label[:80] or None if priced.totals.tier_discount_pence else None
        ),
        points_discount_pence=priced.totals.points_discount_pence,
        points_redeemed=priced.totals.points_redeemed,
        points_to_earn=priced.benefits.points_to_earn or None,
        total_pence=priced.totals.total_pence,
        campaign=_campaign_key(campaign),
        placed_at=now,
        access_token=secrets.token_urlsafe(24),
        checkout_token=checkout_token,
        visitor_id=visitor_id,
        ship_name=contact.name,
        ship_line1=contact.line1,
        ship_line2=contact.line2,
        ship_city=contact.city,
        ship_postcode=contact.postcode,
        phone=contact.phone,
        shipping_method=method,
    )
    order.lines = [
        OrderLine(
            product_id=line.product.id,
            sku=line.product.sku,
            name=line.product.name,
            quantity=line.quantity,
            unit_price_pence=line.product.price_pence,
            line_total_pence=line.line_total_pence,
            rec_id=line.rec_id,
        )
        for line in priced.cart.lines
    ]
    states.start(order, "Order placed")
    session.add(order)
    session.flush()
    # Orders before products, as payments lock them, so the two never wait on each other.
    cancel_superseded(session, order)
    try:
        reserve_stock(session, order, settings, now, benefits=provider, quote=priced.benefits)
    except OutOfStock as exc:
        clearer = _held_for_earlier_order(session, owner, exc)
        if clearer is None:
            raise
        raise clearer from exc
    if save_address and owner.user_id is not None:
        remember_address(session, owner.user_id, contact, settings.base_url)
    return order


def _promo_columns(priced: Quote, settings: CheckoutSettings) -> dict[str, Any]:
    """The order's code columns: set only when the code changed the price (a discount, or
    standard delivery made free by it), so a code that did nothing holds no use of it."""
    promo = priced.promo
    if promo is None or not promo.applies:
        return {}
    chosen = priced.shipping
    saved_delivery = (
        promo.free_delivery
        and chosen is not None
        and chosen.price_pence == 0
        and shipping_option(
            settings,
            chosen.code,
            priced.totals.subtotal_pence,
            country=priced.country,
            free_standard=priced.benefits.free_shipping,
        ).price_pence
        > 0
    )
    if not (priced.totals.promo_discount_pence or saved_delivery):
        return {}
    return {
        "promo_code_id": promo.promo_id,
        "promo_code": promo.code,
        "promo_discount_pence": priced.totals.promo_discount_pence,
    }


def _held_for_earlier_order(
    session: Session, owner: CartOwner, short: OutOfStock
) -> HeldForEarlierOrder | None:
    """The clearer refusal when the stock a line lacks is held by the shopper's own earlier
    unpaid order (which the cart counts as theirs): the new order must not take it twice,
    so they pay for that order or cancel it first. None when no such order holds any."""
    if short.product_id is None:
        return None
    earlier = orders_holding(session, owner, short.product_id)
    if not earlier:
        return None
    number = earlier[0].number
    free = f"only {short.available} more" if short.available > 0 else "none"
    return HeldForEarlierOrder(
        f"Your unpaid order {number} holds {short.name}, so {free} can be ordered now "
        f"(your cart has {short.wanted}). Pay for order {number}, or cancel it to order "
        "your cart as it is now."
    )


def cancel_superseded(session: Session, order: Order) -> list[Order]:
    """Cancel the shopper's earlier unpaid orders that no longer hold stock (a declined
    card, a hold that ran out): a new order replaces them, and their payment links must not
    charge the same basket a second time. Returns them."""
    if order.user_id is not None:
        whose = Order.user_id == order.user_id
    elif order.visitor_id:
        whose = (Order.visitor_id == order.visitor_id) & Order.user_id.is_(None)
    else:
        return []
    earlier = session.scalars(
        select(Order)
        .where(
            whose,
            Order.id != order.id,
            Order.kind == "sale",
            Order.status == states.PENDING_PAYMENT,
            Order.stock_reserved.is_(False),
        )
        .order_by(Order.id)
        .with_for_update()  # a payment of one of them landing now waits, then is flagged
        .execution_options(populate_existing=True)
    ).all()
    for replaced in earlier:
        states.transition(replaced, states.CANCELLED, f"Replaced by order {order.number}")
    return list(earlier)


def reserve_stock(
    session: Session,
    order: Order,
    settings: CheckoutSettings,
    now: datetime | None = None,
    *,
    benefits: CheckoutBenefits | None = None,
    quote: BenefitQuote | None = None,
    hold_code: bool = True,
) -> None:
    """Take the order's quantities out of stock and hold its benefits, or raise OutOfStock.

    The order row is claimed first (`stock_reserved` false -> true, a conditional update),
    so two payments of one released order never take its stock twice. Each product is then
    decremented with a conditional update (`stock >= n`), in product-id order so that
    concurrent checkouts lock rows in the same order; one use of the order's discount code
    is taken, and the benefits provider (by default the app's) holds the order's points.
    All of it happens in a savepoint: on OutOfStock (or BenefitNotHeld, also raised for a
    code used up or ended meanwhile) nothing is taken. `hold_code=False` takes no use of
    the code (an order already paid for with its discount).
    """
    now = now or utcnow()
    if not order.stock_reserved:
        provider = benefits if benefits is not None else adjustments.registered()
        with session.begin_nested():
            claimed = session.execute(
                update(Order)
                .where(Order.id == order.id, Order.stock_reserved.is_(False))
                .values(stock_reserved=True)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount == 1:
                _take_stock(session, order)
                try:
                    if hold_code:
                        codes.hold(session, order, now)
                except codes.PromoUnavailable as exc:
                    raise BenefitNotHeld(str(exc)) from exc
                if provider is not None:
                    try:
                        provider.hold(session, order, quote)
                    except adjustments.BenefitUnavailable as exc:
                        raise BenefitNotHeld(str(exc)) from exc
        session.refresh(order, ["stock_reserved"])
    order.reserved_until = now + timedelta(minutes=settings.reservation_minutes)


def _take_stock(session: Session, order: Order) -> None:
    for line in sorted(order.lines, key=lambda ln: ln.product_id or 0):
        if line.product_id is None:
            continue
        taken = session.execute(
            update(Product)
            .where(
                Product.id == line.product_id,
                Product.active.is_(True),
                Product.stock_qty >= line.quantity,
            )
            .values(stock_qty=Product.stock_qty - line.quantity)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            available = session.scalar(
                select(Product.stock_qty).where(Product.id == line.product_id)
            )
            raise OutOfStock(line.name, line.quantity, int(available or 0), line.product_id)


def remember_address(
    session: Session, user_id: int, contact: ContactAddress, base_url: str
) -> Address:
    """Add the address to the member's book unless the same one is already there, with
    the same confirmation e-mail as an address added in the address book."""
    fields = {
        "name": contact.name,
        "line1": contact.line1,
        "line2": contact.line2,
        "city": contact.city,
        "postcode": contact.postcode,
        "country": contact.country,
    }
    for address in addresses(session, user_id):
        if all(getattr(address, key) == value for key, value in fields.items()):
            return address
    first = not addresses(session, user_id)
    address = Address(user_id=user_id, phone=contact.phone, is_default=first, **fields)
    session.add(address)
    user = session.get(User, user_id)
    if user is not None:
        notices.profile_changed(session, user_id, "address_added", ["addresses"])
        summary = "An address was added to your address book."
        if first:
            summary = f"{summary} It is now your default address: {address.one_line()}."
        confirm_change(session, user, summary, base_url)
    return address


def pending_checkout_order(
    session: Session,
    *,
    user_id: int | None,
    access_token: str | None = None,
    now: datetime | None = None,
) -> Order | None:
    """The shopper's unpaid order from the checkout whose stock is still held, if any.

    That is the newest order placed from the checkout, awaiting payment, with its hold
    not yet run out, and either the member's (`user_id`, on any device) or the one this
    browser session placed (`access_token`, for guests; never another member's order).
    While there is one, the checkout points the shopper to it rather than placing a
    second order that would hold the same stock again.
    """
    now = now or utcnow()
    whose = []
    if user_id is not None:
        whose.append(Order.user_id == user_id)
    if access_token:
        mine = Order.user_id.is_(None) if user_id is None else Order.user_id == user_id
        whose.append((Order.access_token == access_token) & mine)
    if not whose:
        return None
    return session.scalar(
        select(Order)
        .where(
            or_(*whose),
            Order.status == states.PENDING_PAYMENT,
            Order.checkout_token.is_not(None),
            Order.stock_reserved.is_(True),
            Order.reserved_until > now,
        )
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
    )


def same_items(order: Order, cart: CartView) -> bool:
    """True when the order has exactly the cart's products and quantities."""
    ordered: dict[int | None, int] = {}
    for line in order.lines:
        ordered[line.product_id] = ordered.get(line.product_id, 0) + line.quantity
    return ordered == {line.product.id: line.quantity for line in cart.lines}


def order_by_token(session: Session, token: str) -> Order | None:
    """The order behind a secret order link."""
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Order).where(Order.access_token == token))


def order_by_checkout_token(session: Session, token: str) -> Order | None:
    """The order already placed from this review page, if any."""
    return session.scalar(select(Order).where(Order.checkout_token == token))


def _campaign_key(campaign: str | None) -> str | None:
    """A campaign key worth storing (1 to 40 characters), or None."""
    if isinstance(campaign, str) and 0 < len(campaign.strip()) <= 40:
        return campaign.strip()
    return None


def _new_order_number(now: datetime) -> str:
    return f"W{now:%y%m%d}-{secrets.token_hex(3).upper()}"
