"""Preview: live and draft recommendations side by side for one shopper or a described session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.customer_refs import parse_customer_ref
from shop.accounts.models import User
from shop.accounts.services import normalise_email
from shop.cart.models import Cart, CartItem
from shop.db import parse_id, utcnow
from shop.merchandising.editing import EditError, product_by_reference
from shop.merchandising.revisions import draft_data, draft_revision
from shop.orders.models import Order, OrderLine
from shop.recommendation_data import Shopper
from shop.recommendation_types import RecommendationList
from shop.recommendations import RecommendationService
from shop.tracking.models import Event

MAX_VIEWED = 20


@dataclass(frozen=True)
class PreviewTarget:
    """Who the preview is for, and the context each placement needs."""

    label: str
    shopper: Shopper
    product_id: int | None
    cart: list[int]
    order: list[int]
    pending: list[dict[str, object]]


@dataclass(frozen=True)
class PreviewRow:
    """One placement: the live list next to the draft list."""

    placement: str
    live: RecommendationList
    draft: RecommendationList
    # The A/B variant ("<experiment>:<variant>") the customer is served here instead.
    arm: str | None = None

    @property
    def differs(self) -> bool:
        """True when the draft would show other products or another order."""
        return [i.product.id for i in self.live.items] != [i.product.id for i in self.draft.items]


@dataclass(frozen=True)
class Preview:
    """Every placement for one target, and whether there is a draft at all."""

    target: PreviewTarget
    rows: list[PreviewRow]
    has_draft: bool


def find_shopper(session: Session, text: str) -> User:
    """A customer by e-mail, "#<account id>", "customer <imported customer number>", or a
    bare number that is one of the two; EditError if none matches, or when a bare number
    is the id of one account and the customer number of another (the message says how to
    pick each)."""
    text = text.strip()
    ref = parse_customer_ref(text)
    if ref.kind == "email":
        email = normalise_email(ref.value)
        return _found(session.scalar(select(User).where(User.email == email)), text)
    if ref.kind == "account":
        account_id = parse_id(ref.value)
        return _found(session.get(User, account_id) if account_id else None, text)
    if ref.kind == "customer":
        return _found(_by_customer_number(session, ref.value), text)
    account_id = parse_id(text)
    by_id = session.get(User, account_id) if account_id else None
    by_number = _by_customer_number(session, text)
    if by_id is not None and by_number is not None and by_id.id != by_number.id:
        raise EditError(
            "shopper",
            f"{text} could be account #{by_id.id} ({_who(by_id)}) or customer number "
            f"{text} ({_who(by_number)}, account #{by_number.id}). Type #{text} for the "
            f"first, or customer {text} for the second.",
        )
    return _found(by_id or by_number, text)


def _by_customer_number(session: Session, number: str) -> User | None:
    return session.scalar(select(User).where(User.external_ref == number).limit(1))


def _who(user: User) -> str:
    return user.email or user.name or "no name"


def _found(user: User | None, text: str) -> User:
    if user is None:
        raise EditError("shopper", f"No customer matches {text!r}.")
    return user


def shopper_target(session: Session, user: User, product_ref: str = "") -> PreviewTarget:
    """A real customer: their cart, their last order and (by default) their last viewed product."""
    cart = list(
        session.scalars(
            select(CartItem.product_id)
            .join(Cart, Cart.id == CartItem.cart_id)
            .where(Cart.user_id == user.id)
        )
    )
    last_order = session.scalar(
        select(Order.id)
        .where(Order.user_id == user.id, Order.kind == "sale")
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(1)
    )
    order = (
        list(session.scalars(select(OrderLine.product_id).where(OrderLine.order_id == last_order)))
        if last_order
        else []
    )
    product_id = product_by_reference(session, product_ref)
    if product_id is None:
        product_id = session.scalar(
            select(Event.product_id)
            .where(Event.user_id == user.id, Event.product_id.is_not(None))
            .order_by(Event.created_at.desc(), Event.id.desc())
            .limit(1)
        )
    number = f", customer {user.external_ref}" if user.external_ref else ""
    label = f"{user.email or user.name or 'customer'} (account #{user.id}{number})"
    if not user.tracking_enabled:
        label += ", who switched personalization off: popular lists only"
    return PreviewTarget(
        label,
        # As the storefront serves them: popular lists only when they switched it off.
        Shopper(f"preview-{user.id}", user.id, personalized=user.tracking_enabled),
        product_id,
        cart,
        [p for p in order if p],
        [],
    )


def session_target(session: Session, viewed: str, product_ref: str = "") -> PreviewTarget:
    """An anonymous visitor who viewed these products (ids or SKUs), oldest first."""
    refs = [r for r in (part.strip() for part in viewed.split(",")) if r]
    if not refs:
        raise EditError("viewed", "List at least one product id or SKU.")
    if len(refs) > MAX_VIEWED:
        raise EditError("viewed", f"List at most {MAX_VIEWED} products.")
    try:
        ids = [product_by_reference(session, ref) for ref in refs]
    except EditError as exc:
        raise EditError("viewed", str(exc)) from exc
    now = utcnow()
    pending = [
        {"kind": "product_view", "product_id": pid, "created_at": now - timedelta(minutes=n)}
        for n, pid in enumerate(reversed(ids))
    ]
    product_id = product_by_reference(session, product_ref) or ids[-1]
    shopper = Shopper(f"preview-{uuid.uuid4().hex}")
    return PreviewTarget(
        f"an anonymous visitor who viewed {', '.join(refs)}",
        shopper,
        product_id,
        [],
        [],
        pending,  # type: ignore[arg-type]
    )


def build_preview(session: Session, recs: RecommendationService, target: PreviewTarget) -> Preview:
    """Render every placement twice: with the live settings and with the draft."""
    live = recs.live_config(session) if recs.live_config else recs.default_config()
    draft = recs.config_from(draft_data(session))
    lists = {}
    for name, config in (("live", live), ("draft", draft)):
        lists[name] = recs.preview(
            session,
            target.shopper,
            config,
            product_id=target.product_id,
            cart=target.cart,
            order=target.order,
            pending=list(target.pending),  # type: ignore[arg-type]
        )
    rows = [
        PreviewRow(
            placement,
            lists["live"][placement],
            lists["draft"][placement],
            _arm(session, recs, target.shopper, placement),
        )
        for placement in lists["live"]
    ]
    return Preview(target, rows, draft_revision(session) is not None)


def _arm(
    session: Session, recs: RecommendationService, shopper: Shopper, placement: str
) -> str | None:
    """The A/B variant a customer gets on a placement (a described session has none)."""
    if shopper.user_id is None:
        return None
    found = recs.assign(session, shopper, placement)
    return found.label if found is not None else None
