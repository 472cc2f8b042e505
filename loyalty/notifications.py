"""Member e-mails of the programme (joining, tier changes, points about to expire, points
moved by a refund or by hand).

Each goes through the outbox in the caller's transaction, so it commits with the change it
confirms. These are service messages about the membership, sent whatever the marketing
preferences. Members without an e-mail address (imported customers) get none.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from loyalty.models import Membership, Tier
from shop.accounts.models import User
from shop.mail.outbox import enqueue_email
from shop.money import format_money
from shop.wording import counted, long_date, percent_text

# A tier's on/off benefits, with how they are put to members.
BENEFIT_FLAGS = (
    ("free_shipping", "Free standard delivery"),
    ("priority_support", "Priority support"),
    ("early_access", "Early access to new products"),
)


def benefit_lines(tier: Tier) -> list[str]:
    """A tier's benefits as short sentences, for pages and e-mails."""
    lines: list[str] = []
    if tier.discount_bp:
        lines.append(f"{percent_text(tier.discount_bp)} off every order")
    if tier.multiplier_pct != 100:
        lines.append(f"{times_text(tier.multiplier_pct)} points on every order")
    else:
        lines.append("Points on every order")
    lines.extend(label for attribute, label in BENEFIT_FLAGS if getattr(tier, attribute))
    return lines


def times_text(pct: int) -> str:
    """A multiplier in percent as "1.5x"."""
    whole, frac = divmod(pct, 100)
    return f"{whole}x" if not frac else f"{whole}.{frac:02d}".rstrip("0") + "x"


def member_page_url() -> str:
    """The absolute address of the member page, for e-mails."""
    base = str(current_app.config.get("SHOP_BASE_URL", "")).rstrip("/")
    return f"{base}/account/loyalty"


def _send(
    session: Session, user: User, kind: str, subject: str, template: str, context: dict[str, Any]
) -> bool:
    if not user.email or user.deleted_at is not None:
        return False
    enqueue_email(
        session,
        kind=kind,
        to=user.email,
        subject=subject,
        template=template,
        context={"name": user.name, "member_url": member_page_url(), **context},
        user_id=user.id,
    )
    return True


def send_welcome(session: Session, user: User, member: Membership, tier: Tier) -> bool:
    """Queue the welcome e-mail confirming that the customer joined."""
    return _send(
        session,
        user,
        "loyalty_welcome",
        f"Welcome to the programme: membership {member.number}",
        "loyalty_welcome",
        {
            "number": member.number,
            "tier": tier.name,
            "benefits": benefit_lines(tier),
            "terms_version": member.terms_version,
        },
    )


def send_tier_changed(
    session: Session,
    user: User,
    member: Membership,
    old: Tier | None,
    new: Tier,
    reason: str,
) -> bool:
    """Queue the e-mail confirming an upgrade or a downgrade."""
    upgrade = old is None or new.rank > old.rank
    subject = f"You are now {new.name}" if upgrade else f"Your tier is now {new.name}"
    return _send(
        session,
        user,
        "loyalty_tier_changed",
        subject,
        "loyalty_tier_changed",
        {
            "number": member.number,
            "old_tier": old.name if old else None,
            "tier": new.name,
            "upgrade": upgrade,
            "reason": reason,
            "benefits": benefit_lines(new),
        },
    )


def send_points_expiring(
    session: Session,
    user: User,
    member: Membership,
    points: int,
    expires_on: str,
    *,
    min_redeem_points: int = 0,
) -> bool:
    """Queue the reminder that some points expire on a date (saying how many more points
    the member needs first when their balance is below the fewest spent at once)."""
    expires_on = long_date(expires_on)
    return _send(
        session,
        user,
        "loyalty_points_expiring",
        f"{counted(points, 'point')} expire{'s' if points == 1 else ''} on {expires_on}",
        "loyalty_points_expiring",
        {
            "number": member.number,
            "points": points,
            "expires_on": expires_on,
            "balance": member.points_balance,
            "min_redeem_points": min_redeem_points,
        },
    )


def send_refund_points(
    session: Session,
    user: User,
    member: Membership,
    order_number: str,
    returned: int,
    taken_back: int,
    shortfall: int,
    *,
    owed: int = 0,
) -> bool:
    """Queue the e-mail saying what a refund did to the member's points."""
    return _send(
        session,
        user,
        "loyalty_refund_points",
        f"Your points after the refund on order {order_number}",
        "loyalty_refund_points",
        {
            "number": member.number,
            "order_number": order_number,
            "returned": returned,
            "taken_back": taken_back,
            "shortfall": shortfall,
            "owed": owed,
            "balance": member.points_balance,
        },
    )


def send_owed_points_paid(
    session: Session,
    user: User,
    member: Membership,
    order_number: str,
    returned: int,
    taken_for: dict[str, int],
) -> bool:
    """Queue the e-mail saying that points an unpaid order gave back paid what refunds
    still owed, so the balance did not grow by all of them."""
    return _send(
        session,
        user,
        "loyalty_owed_points_paid",
        f"Your points from order {order_number}",
        "loyalty_owed_points_paid",
        {
            "number": member.number,
            "order_number": order_number,
            "returned": returned,
            "taken_for": sorted(taken_for.items()),
            "taken": sum(taken_for.values()),
            "balance": member.points_balance,
        },
    )


def send_points_adjusted(
    session: Session, user: User, member: Membership, points: int, note: str
) -> bool:
    """Queue the e-mail saying that the shop added or took off points by hand, and why."""
    subject = (
        f"We added {counted(points, 'point')} to your account"
        if points > 0
        else f"We took {counted(-points, 'point')} off your account"
    )
    return _send(
        session,
        user,
        "loyalty_points_adjusted",
        subject,
        "loyalty_points_adjusted",
        {
            "number": member.number,
            "points": points,
            "note": note,
            "balance": member.points_balance,
        },
    )


def money(pence: int) -> str:
    """Pence as '£12.34' (the shop's currency)."""
    return format_money(pence, str(current_app.config.get("CURRENCY", "GBP")))
