"""Loyalty tables: tiers, memberships, tier history, the points ledger, communication
preferences, favourite categories, notices sent once, and e-mail campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow


class LoyaltySettings(Base):
    """Programme-wide numbers (one row, id 1): earning, redemption, expiry, tier basis."""

    __tablename__ = "loyalty_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Tier(Base):
    """A tier with its qualifying threshold (pence of 12-month spend, or points) and benefits."""

    __tablename__ = "loyalty_tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    threshold: Mapped[int] = mapped_column(Integer)
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)  # basis points: 500 = 5%
    multiplier_pct: Mapped[int] = mapped_column(Integer, default=100)  # 150 = 1.5x points
    free_shipping: Mapped[bool] = mapped_column(Boolean, default=False)
    priority_support: Mapped[bool] = mapped_column(Boolean, default=False)
    early_access: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(Base):
    """A customer's membership; `points_balance` mirrors the ledger's sum (kept in step)."""

    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("loyalty_tiers.id"))
    status: Mapped[str] = mapped_column(String(12), default="active")
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    terms_version: Mapped[str] = mapped_column(String(20))
    joined_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    tier_since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set when an evaluation first finds the member below their tier; cleared when back.
    below_tier_since: Mapped[datetime | None] = mapped_column(DateTime)


class TierChange(Base):
    """One entry of a member's tier history."""

    __tablename__ = "loyalty_tier_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_tiers.id"))
    to_tier_id: Mapped[int] = mapped_column(ForeignKey("loyalty_tiers.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PointsEntry(Base):
    """An append-only ledger line. (membership, reason, reference) is unique, so the same
    order can never award (or reverse) points twice."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("membership_id", "reason", "reference"),
        Index("ix_points_ledger_member_time", "membership_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(200), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CommunicationPreference(Base):
    """One marketing topic for one account: off, pending (awaiting the opt-in link) or on."""

    __tablename__ = "communication_preferences"
    __table_args__ = (UniqueConstraint("user_id", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default="off")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The link sent before the current one, so opening it says a newer one replaced it.
    replaced_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FavouriteCategory(Base):
    """A category the member chose; the recommender boosts it for them."""

    __tablename__ = "favourite_categories"
    __table_args__ = (UniqueConstraint("user_id", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))


class LoyaltyNotice(Base):
    """A notice sent once per key (for example a points-expiry reminder for one date)."""

    __tablename__ = "loyalty_notices"
    __table_args__ = (UniqueConstraint("membership_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OwedPoints(Base):
    """Points a refund could not take back because an unpaid order held them: taken back
    from those points if they come back (the order cancelled or its hold ended)."""

    __tablename__ = "loyalty_owed_points"
    __table_args__ = (UniqueConstraint("membership_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(60))  # the refund's ledger reference
    order_number: Mapped[str] = mapped_column(String(40))  # the refunded order
    points: Mapped[int] = mapped_column(Integer)  # still owed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Campaign(Base):
    """A marketing send, e.g. the weekly deals of one ISO week (key "weekly-2026-W48")."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CampaignSend(Base):
    """One member's e-mail of a campaign; unique per (campaign, user), so re-runs skip it."""

    __tablename__ = "campaign_sends"
    __table_args__ = (UniqueConstraint("campaign_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    outbox_email_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_emails.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SegmentMailing(Base):
    """A merchandiser's e-mail to one RFM segment: what it says, who wrote it, when it may go
    out, and how far it got: "queued" (waiting, for `send_after` when set), then "sending"
    once the background job claimed it and "sent"; or "cancelled" while it was waiting."""

    __tablename__ = "segment_mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True
    )
    segment: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    # The form's one-off token: a form submitted twice (a double click) queues one mailing.
    form_token: Mapped[str] = mapped_column(String(32), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    audience: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    # Naive UTC; None: as soon as the job runs.
    send_after: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_by_email: Mapped[str | None] = mapped_column(String(254))


class SegmentMailingRecipient(Base):
    """Who a segment mailing may go to, fixed when the merchandiser queued it (the people
    the form counted); the rows go once the mailing is sent or cancelled."""

    __tablename__ = "segment_mailing_recipients"

    mailing_id: Mapped[int] = mapped_column(
        ForeignKey("segment_mailings.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class LaunchAnnouncement(Base):
    """A product whose early access was announced to members, and the campaign that did it
    (one row per product, so a product is announced once, however often the job runs)."""

    __tablename__ = "launch_announcements"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
