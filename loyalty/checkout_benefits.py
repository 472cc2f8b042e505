"""Member benefits at checkout: the tier discount, free shipping and points redemption.

The checkout does not call loyalty: it asks whatever provider is registered for its
`shop.checkout.adjustments.CheckoutBenefits`, and `init_app` registers `MemberBenefits`.
Points a member redeems are debited through the ledger in the transaction that places the
order (reason "redeem", reference "order:<id>"); they come back (reason
"redeem_reversal") when the shop reports `order_released` for an unpaid order, and a
confirmation e-mail is queued once the order is paid.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty import ledger, notifications, owed_points
from loyalty.models import LoyaltyNotice, Membership, PointsEntry, Tier
from loyalty.rules import points_for_order
from loyalty.settings import ProgrammeSettings, load_settings
from shop.accounts.models import User
from shop.checkout import adjustments
from shop.checkout.adjustments import BenefitQuote, BenefitUnavailable
from shop.checkout.pricing import (
    RedemptionError,
    RedemptionRules,
    ShippingOption,
    check_redemption,
    max_points_for,
    tier_discount,
)
from shop.db import db, utcnow
from shop.events.bus import order_paid, order_released
from shop.mail.outbox import enqueue_email
from shop.money import format_money
from shop.orders import states
from shop.orders.models import Order
from shop.orders.notifications import order_link
from shop.wording import counted, percent_text

log = logging.getLogger(__name__)

MEMBER_PAGE = "/account/loyalty"
NOTICE_KIND = "redeemed"


def redemption_rules(settings: ProgrammeSettings) -> RedemptionRules:
    """The checkout's redemption limits from the programme settings."""
    return RedemptionRules(
        point_value_pence=settings.point_value_pence,
        min_points=settings.min_redeem_points,
        max_points=settings.max_redeem_points,
        max_share_pct=settings.max_redeem_share_pct,
    )


def member_label(tier_name: str) -> str:
    """The tier as a label: "Silver member", but "Member" rather than "Member member"."""
    return tier_name if tier_name.lower().endswith("member") else f"{tier_name} member"


def active_membership(session: Session, user_id: int) -> tuple[Membership, Tier] | None:
    """The user's active membership and its tier, or None."""
    row = session.execute(
        select(Membership, Tier)
        .join(Tier, Tier.id == Membership.tier_id)
        .where(Membership.user_id == user_id, Membership.status == "active")
    ).first()
    return (row[0], row[1]) if row else None


def _order_entries(session: Session, membership_id: int, order_id: int) -> list[PointsEntry]:
    return list(
        session.scalars(
            select(PointsEntry)
            .where(
                PointsEntry.membership_id == membership_id,
                PointsEntry.order_id == order_id,
                PointsEntry.reason.in_(("redeem", "redeem_reversal")),
            )
            .order_by(PointsEntry.id)
        )
    )


def _open_holds(entries: Sequence[PointsEntry]) -> list[PointsEntry]:
    """Redeem entries of an order that no reversal with the same reference undid yet."""
    reversed_refs = {e.reference for e in entries if e.reason == "redeem_reversal"}
    return [e for e in entries if e.reason == "redeem" and e.reference not in reversed_refs]


class MemberBenefits:
    """The loyalty programme's `CheckoutBenefits` provider."""

    def quote(
        self,
        session: Session,
        user_id: int | None,
        subtotal_pence: int,
        shipping_options: Sequence[ShippingOption],
        redeem_points: int,
    ) -> BenefitQuote:
        """The member's tier discount, free shipping and `redeem_points` points, checked."""
        if user_id is None:
            return BenefitQuote(
                hint="Members get points on every order: sign in or join our loyalty "
                "programme from your account.",
                hint_url=MEMBER_PAGE,
            )
        found = active_membership(session, user_id)
        if found is None:
            return BenefitQuote(
                hint="Join our loyalty programme to earn points on this order.",
                hint_url=MEMBER_PAGE,
            )
        member, tier = found
        settings = load_settings(session)
        rules = redemption_rules(settings)
        tier_off = tier_discount(subtotal_pence, tier.discount_bp)
        goods = subtotal_pence - tier_off
        balance = member.points_balance
        errors: tuple[str, ...] = ()
        points_off = 0
        try:
            points_off = check_redemption(redeem_points, balance, goods, rules)
        except RedemptionError as exc:
            errors = (str(exc),)
        labels = [member_label(tier.name)]
        if tier_off:
            labels.append(f"{percent_text(tier.discount_bp)} off the goods")
        if tier.free_shipping:
            labels.append("free standard delivery")
        return BenefitQuote(
            tier_discount_pence=tier_off,
            tier_label=f"{member_label(tier.name)} discount ({percent_text(tier.discount_bp)})",
            free_shipping=tier.free_shipping,
            points_redeemed=redeem_points if points_off else 0,
            points_discount_pence=points_off,
            labels=tuple(labels),
            errors=errors,
            points_balance=balance,
            min_points=rules.min_points,
            max_points=min(max_points_for(goods, rules), balance),
            point_value_pence=rules.point_value_pence,
            points_to_earn=points_for_order(
                goods - points_off, settings.points_per_pound, tier.multiplier_pct
            ),
        )

    def hold(self, session: Session, order: Order, quote: BenefitQuote | None) -> None:
        """Debit the order's points (once; again after a release), or raise BenefitUnavailable."""
        points = order.points_redeemed or 0
        if points <= 0 or order.user_id is None:
            return
        found = active_membership(session, order.user_id)
        if found is None:
            raise BenefitUnavailable("Points can only be used by an active member.")
        member = found[0]
        entries = _order_entries(session, member.id, order.id)
        if _open_holds(entries):
            return
        count = sum(1 for e in entries if e.reason == "redeem")
        reference = f"order:{order.id}" if count == 0 else f"order:{order.id}/{count + 1}"
        try:
            ledger.append(
                session,
                member.id,
                -points,
                "redeem",
                reference,
                description=f"Used on order {order.number}",
                order_id=order.id,
            )
        except ledger.InsufficientPoints as exc:
            left = session.scalar(
                select(Membership.points_balance).where(Membership.id == member.id)
            )
            raise BenefitUnavailable(f"You have only {int(left or 0):,} points.") from exc
        except ledger.DuplicateEntry:
            return  # a concurrent hold of the same order won; it holds the points

    def release(self, session: Session, order: Order) -> int:
        """Give back the points the order holds, less what refunds are owed from them
        (`owed_points`); 0 when it holds none (already released)."""
        if order.user_id is None:
            return 0
        member = session.scalar(select(Membership).where(Membership.user_id == order.user_id))
        if member is None:
            return 0
        released = 0
        min_days = load_settings(session).expiry_reminder_days
        for hold in _open_holds(_order_entries(session, member.id, order.id)):
            try:
                ledger.append(
                    session,
                    member.id,
                    -hold.points,
                    "redeem_reversal",
                    hold.reference,
                    description=f"Returned from order {order.number}",
                    order_id=order.id,
                    expires_at=ledger.expiry_for_return(session, hold, utcnow(), min_days),
                )
            except ledger.DuplicateEntry:
                continue
            released += -hold.points
        taken_for = owed_points.settle_from_returned(session, member.id, released, order.number)
        if taken_for:
            user = session.get(User, order.user_id)
            if user is not None:
                session.refresh(member)  # the balance after the entries above
                notifications.send_owed_points_paid(
                    session, user, member, order.number, released, taken_for
                )
        return released - sum(taken_for.values())


PROVIDER = MemberBenefits()


def release_points_of(session: Session, order_id: int) -> int:
    """Give back the points of an order whose hold ended; safe to repeat.

    Locks the order row, then releases only when the order is cancelled, or is still
    unpaid and holds nothing (a payment may have held the order again since).
    """
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or not order.points_redeemed:
        return 0
    if order.status == states.PENDING_PAYMENT and order.stock_reserved:
        return 0
    if order.status not in (states.PENDING_PAYMENT, states.CANCELLED):
        return 0
    return PROVIDER.release(session, order)


def on_order_released(sender: str, **payload: Any) -> None:
    """Subscriber of `order_released`: give the order's redeemed points back."""
    if not payload.get("points_redeemed") or payload.get("user_id") is None:
        return
    with db.transaction() as session:
        released = release_points_of(session, int(payload["order_id"]))
    if released:
        log.info("returned %d points of order %s", released, payload.get("number"))


def confirm_redemption(session: Session, order_id: int) -> bool:
    """Queue the "you used N points" e-mail of a paid order once; True when queued now."""
    order = session.get(Order, order_id)
    if order is None or not order.points_redeemed or order.user_id is None:
        return False
    member = session.scalar(select(Membership).where(Membership.user_id == order.user_id))
    user = session.get(User, order.user_id)
    if member is None or user is None:
        return False
    try:
        PROVIDER.hold(session, order, None)  # normally a no-op: the points are held
    except BenefitUnavailable:
        # The payment flagged the order for staff; never confirm points nobody debited.
        log.warning("order %s was paid but its points could not be held", order.number)
        return False
    try:
        with session.begin_nested():
            session.add(LoyaltyNotice(membership_id=member.id, kind=NOTICE_KIND, key=str(order.id)))
            session.flush()
    except IntegrityError:
        return False  # confirmed already
    if not user.email or user.deleted_at is not None:
        return False
    session.refresh(member, ["points_balance"])
    value = format_money(order.points_discount_pence, order.currency)
    base_url = str(current_app.config.get("SHOP_BASE_URL", "")).rstrip("/")
    enqueue_email(
        session,
        kind="loyalty_points_redeemed",
        to=user.email,
        subject=f"You used {counted(order.points_redeemed, 'point')} on order {order.number}",
        template="loyalty_points_redeemed",
        context={
            "name": user.name,
            "number": order.number,
            "points": order.points_redeemed,
            "value": value,
            "balance": member.points_balance,
            "order_url": order_link(order, base_url),
            "member_url": f"{base_url}{MEMBER_PAGE}",
        },
        order_id=order.id,
        user_id=user.id,
    )
    return True


def on_order_paid(sender: str, **payload: Any) -> None:
    """Subscriber of `order_paid`: confirm a points redemption by e-mail (once per order)."""
    if payload.get("user_id") is None or payload.get("order_id") is None:
        return
    with db.transaction() as session:
        confirm_redemption(session, int(payload["order_id"]))


def init_app(app: Flask) -> None:
    """Register the member benefits with the checkout and subscribe to the order events."""
    adjustments.register(app, PROVIDER)
    order_released.connect(on_order_released)
    order_paid.connect(on_order_paid)
