"""Member service for the console: find members, and adjust a member's points by hand.

An adjustment is a goodwill credit or a correction. It goes through the ledger like any
other change, is audited, and the member gets an e-mail saying what changed and why. It
never counts towards a tier: tiers look only at spend, or at points earned on orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from loyalty import ledger, notifications, rules
from loyalty.membership import NUMBER_PREFIX
from loyalty.models import Membership, PointsEntry, Tier
from loyalty.settings import load_settings
from shop.accounts.models import User
from shop.console import audit
from shop.db import utcnow
from shop.pagination import Page, check_page

MAX_ADJUSTMENT = 1_000_000
KEY_PATTERN = re.compile(r"[0-9a-f]{16}")


class MemberAdminError(ValueError):
    """An adjustment that cannot be made; the message is safe to show."""


@dataclass(frozen=True)
class MemberRow:
    """One line of the member list."""

    membership: Membership
    user: User
    tier: Tier


def _search_condition(text: str) -> ColumnElement[bool]:
    value = text.strip()
    numbers = {value.upper()}
    if value.isascii() and value.isdigit():
        numbers.add(f"{NUMBER_PREFIX}{value}")  # the number without its prefix
    return or_(
        func.upper(Membership.number).in_(numbers),
        User.external_ref == value,
        User.email.icontains(value, autoescape=True),
        User.name.icontains(value, autoescape=True),
    )


def find_members(
    session: Session, text: str = "", *, page: int = 1, per_page: int = 50
) -> Page[MemberRow]:
    """Active members, newest first, optionally those matching an e-mail address or name
    (any part), a membership number or a customer number; PageError past the end."""
    query = (
        select(Membership, User, Tier)
        .join(User, User.id == Membership.user_id)
        .join(Tier, Tier.id == Membership.tier_id)
        .where(Membership.status == "active")
    )
    if text.strip():
        query = query.where(_search_condition(text))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    check_page(page, total, per_page)
    rows = session.execute(
        query.order_by(Membership.joined_at.desc(), Membership.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page([MemberRow(m, u, t) for m, u, t in rows], total, page, per_page)


def active_member(session: Session, membership_id: int) -> Membership | None:
    """The active membership with this id, or None."""
    member = session.get(Membership, membership_id)
    return member if member is not None and member.status == "active" else None


@dataclass(frozen=True)
class Adjustment:
    """What an adjustment did; `repeated` when the same form was sent before."""

    entry: PointsEntry
    balance: int
    repeated: bool = False
    member_told: bool = False


def adjust_points(
    session: Session,
    actor: audit.Actor,
    membership_id: int,
    points: int,
    note: str,
    key: str,
    *,
    now: datetime | None = None,
) -> Adjustment:
    """Add (points > 0) or take off points with a note the member sees, in the caller's
    transaction: ledger entry, audit entry and the member's e-mail commit together.

    `key` identifies the form that was opened, so a form sent twice adjusts once. Credits
    expire like earned points. Raises MemberAdminError with a message to show.
    """
    if not KEY_PATTERN.fullmatch(key):
        raise MemberAdminError("The form is out of date; open the member again.")
    if not 0 < abs(points) <= MAX_ADJUSTMENT:
        raise MemberAdminError(f"Give a number of points from 1 to {MAX_ADJUSTMENT:,}.")
    note = note.strip()
    if not note:
        raise MemberAdminError("Say why: the member sees the note.")
    member = active_member(session, membership_id)
    if member is None:
        raise MemberAdminError("This membership is closed; its points cannot change.")
    reference = f"console:{key}"
    earlier = session.scalar(
        select(PointsEntry).where(
            PointsEntry.membership_id == member.id,
            PointsEntry.reason == "adjust",
            PointsEntry.reference == reference,
        )
    )
    if earlier is not None:
        return Adjustment(earlier, member.points_balance, repeated=True)
    moment = now or utcnow()
    before = member.points_balance
    expires_at = None
    if points > 0:
        expires_at = rules.add_months(moment, load_settings(session).expiry_months)
    try:
        entry = ledger.append(
            session, member.id, points, "adjust", reference, description=note, expires_at=expires_at
        )
    except ledger.InsufficientPoints:
        raise MemberAdminError(
            f"The member has {member.points_balance:,} points; you cannot take off more."
        ) from None
    except ledger.DuplicateEntry:  # the same form, sent at the same instant
        session.expire(member, ["points_balance"])
        found = session.scalars(
            select(PointsEntry).where(
                PointsEntry.membership_id == member.id, PointsEntry.reference == reference
            )
        ).first()
        if found is None:  # that other send was rolled back meanwhile
            raise MemberAdminError(
                "The form was sent twice at once; open the member again."
            ) from None
        return Adjustment(found, member.points_balance, repeated=True)
    entry.created_at = moment
    audit.record(
        session,
        actor,
        "loyalty.points_adjust",
        f"member {member.number}",
        before={"balance": before},
        after={"balance": member.points_balance, "points": points, "note": note},
    )
    user = session.get(User, member.user_id)
    told = user is not None and notifications.send_points_adjusted(
        session, user, member, points, note
    )
    session.flush()
    return Adjustment(entry, member.points_balance, member_told=told)
