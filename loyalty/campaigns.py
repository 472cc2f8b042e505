"""Marketing campaigns: mailings with personal picks, and the numbers behind attribution.

`send_mailing` e-mails everyone who confirmed the mailing's topic (members only, for the
weekly deals) and has no send for its campaign yet: their top recommendations with
reasons, their tier perks if they are members, and links carrying the campaign key
(?cmp=). The CampaignSend row (unique per campaign and person) and the outbox row are
written in the same transaction, so a re-run, or a second run at the same time, never
sends anyone the same campaign twice. `send_weekly` is the weekly deals mailing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.models import (
    Campaign,
    CampaignSend,
    CommunicationPreference,
    Membership,
    SegmentMailingRecipient,
    Tier,
)
from loyalty.preferences import MailLinks
from shop.accounts.models import User
from shop.db import Transaction, utcnow
from shop.mail.outbox import OutboxError, enqueue_email
from shop.money import format_money
from shop.orders import states
from shop.orders.models import Order
from shop.tracking.models import Event
from shop.tracking.units import person_key

log = logging.getLogger(__name__)

KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
TOPIC = "weekly_deals"
KIND = "weekly_deals"
BATCH_SIZE = 200
# Orders that were paid (and not wholly undone); their totals are the campaign's revenue.
PAID_STATUSES = states.KEPT


class CampaignError(ValueError):
    """A campaign argument that cannot be used (for example a malformed week)."""


@dataclass(frozen=True)
class IsoWeek:
    """An ISO year and week number."""

    year: int
    week: int

    @property
    def key(self) -> str:
        """The campaign key, e.g. "weekly-2026-W48"."""
        return f"weekly-{self.year}-W{self.week:02d}"

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        """The ISO week a day falls in."""
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Parse "YYYY-Www"; raise CampaignError when it is not a real ISO week."""
        match = WEEK_RE.fullmatch(text.strip())
        if not match:
            raise CampaignError(f"{text!r} is not a week like 2026-W48")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise CampaignError(f"{year} has no week {week}") from None
        return cls(year, week)


@dataclass(frozen=True)
class Mailing:
    """One campaign's e-mail: who may get it (the topic they confirmed, members only or
    not), what it says, and which placement picks its products."""

    key: str
    kind: str
    topic: str
    subject: str
    template: str
    placement: str
    members_only: bool = True
    # Leave out people without personal picks (no usable history, or personalization off).
    personal_only: bool = False
    context: Mapping[str, Any] = field(default_factory=dict)
    # The same products for everyone (name, price, reason, url) instead of personal picks.
    items: tuple[Mapping[str, str], ...] | None = None
    # Only members whose tier has this benefit (a boolean column of Tier, e.g. "early_access").
    tier_benefit: str | None = None
    # Only the people listed for this segment mailing (SegmentMailingRecipient.mailing_id).
    audience: int | None = None


def weekly_mailing(week: IsoWeek) -> Mailing:
    """The weekly deals e-mail of one ISO week (members only)."""
    return Mailing(
        key=week.key,
        kind=KIND,
        topic=TOPIC,
        subject=f"Your weekly deals: week {week.week}",
        template="weekly_deals",
        placement="weekly_email",
        context={"week": week.week, "year": week.year},
    )


@dataclass(frozen=True)
class SendReport:
    """What a run did: e-mails queued, people already sent to, failures (kept out), and
    people left out for having no personal picks."""

    key: str
    queued: int
    skipped: int
    failed: int
    no_picks: int = 0


class _NoPersonalPicks(Exception):
    """Raised inside a recipient's savepoint to undo it: nothing personal to send."""


@dataclass(frozen=True)
class CampaignStats:
    """One campaign's attribution numbers."""

    key: str
    kind: str
    created_at: Any
    sends: int
    clicks: int
    orders: int
    revenue_pence: int
    recipients_clicked: int = 0

    @property
    def click_rate(self) -> float | None:
        """The share of recipients who came through a link (signed in then or later)."""
        return self.recipients_clicked / self.sends if self.sends else None


def valid_key(raw: str) -> bool:
    """True for a well-formed campaign key (letters, digits, "-" and "_", at most 40)."""
    return bool(KEY_RE.fullmatch(raw))


def is_known(session: Session, key: str) -> bool:
    """True when a campaign with this key exists."""
    return session.scalar(select(Campaign.id).where(Campaign.key == key)) is not None


def ensure_campaign(transaction: Transaction, key: str, kind: str = KIND) -> int:
    """The id of the campaign with this key, created if needed (safe against a race)."""
    with transaction() as tx:
        found = tx.scalar(select(Campaign.id).where(Campaign.key == key))
        if found is not None:
            return found
        try:
            with tx.begin_nested():
                campaign = Campaign(key=key, kind=kind, created_at=utcnow())
                tx.add(campaign)
                tx.flush()
                return campaign.id
        except IntegrityError:
            pass
        created = tx.scalar(select(Campaign.id).where(Campaign.key == key))
        assert created is not None
        return created


def tier_perks(tier: Tier) -> list[str]:
    """A tier's benefits in words, for e-mails."""
    perks = []
    if tier.discount_bp:
        perks.append(f"{tier.discount_bp / 100:g}% off every order")
    if tier.multiplier_pct and tier.multiplier_pct != 100:
        perks.append(f"{tier.multiplier_pct / 100:g}x points on every order")
    if tier.free_shipping:
        perks.append("Free standard delivery")
    if tier.priority_support:
        perks.append("Priority support")
    if tier.early_access:
        perks.append("Early access to new products")
    return perks


def _recipients(mailing: Mailing, campaign_id: int, after: int, limit: int | None) -> Any:
    """People who confirmed the mailing's topic (active members only, if it is for them)
    without a send for the campaign, by user id from `after`."""
    active_member = and_(Membership.user_id == User.id, Membership.status == "active")
    query = (
        select(
            User.id,
            User.email,
            User.name,
            Membership.number,
            Membership.tier_id,
            Membership.points_balance,
            User.tracking_enabled,
        )
        .join(
            CommunicationPreference,
            and_(
                CommunicationPreference.user_id == User.id,
                CommunicationPreference.topic == mailing.topic,
                CommunicationPreference.status == "on",
            ),
        )
        .where(
            User.id > after,
            User.email.is_not(None),
            User.deleted_at.is_(None),
            ~exists().where(
                CampaignSend.campaign_id == campaign_id, CampaignSend.user_id == User.id
            ),
        )
        .order_by(User.id)
        .limit(limit)
    )
    if mailing.members_only or mailing.tier_benefit:
        query = query.join(Membership, active_member)
    else:
        query = query.outerjoin(Membership, active_member)
    if mailing.tier_benefit:
        benefit = getattr(Tier, mailing.tier_benefit)
        query = query.join(Tier, Tier.id == Membership.tier_id).where(benefit.is_(True))
    if mailing.audience is not None:
        query = query.join(
            SegmentMailingRecipient,
            and_(
                SegmentMailingRecipient.user_id == User.id,
                SegmentMailingRecipient.mailing_id == mailing.audience,
            ),
        )
    return query


def _recommendations(
    session: Session, user_id: int, personalized: bool, mailing: Mailing, base_url: str
) -> tuple[list[dict[str, str]], bool]:
    """The person's top picks with reasons (popular ones, labelled so, for someone who
    switched personalization off), and whether they are personal; the impression is
    logged in this transaction."""
    from shop.personalization import service
    from shop.recommendation_data import Shopper

    shopper = Shopper(visitor_id=f"campaign-{user_id}", user_id=user_id, personalized=personalized)
    try:
        with session.begin_nested():
            shown = service().for_order(
                session, shopper, [], placement_name=mailing.placement, log_in_session=True
            )
    except Exception:
        log.exception("no recommendations for member %s in %s", user_id, mailing.key)
        return [], False
    key = mailing.key
    items = [
        {
            "name": item.product.name,
            "price": format_money(item.product.price_pence, item.product.currency),
            "reason": item.reason,
            "url": f"{base_url}/products/{item.product.id}?rec={shown.rec_id}&cmp={key}",
        }
        for item in shown.items
    ]
    return items, shown.strategy == "personal"


def _send_one(
    session: Session,
    campaign_id: int,
    mailing: Mailing,
    recipient: Any,
    tier: Tier | None,
    links: MailLinks,
) -> None:
    """Insert the send and queue the person's e-mail (inside the caller's savepoint)."""
    user_id, email, name, number, _tier_id, points, personalized = recipient
    send = CampaignSend(campaign_id=campaign_id, user_id=user_id, created_at=utcnow())
    session.add(send)
    session.flush()  # the unique (campaign, user) decides who sends; a duplicate raises here
    key = mailing.key
    if mailing.items is not None:
        items, personal = [dict(item) for item in mailing.items], True
    else:
        items, personal = _recommendations(session, user_id, personalized, mailing, links.base_url)
    if mailing.personal_only and not personal:
        raise _NoPersonalPicks
    context = {
        **mailing.context,
        "name": name,
        "member_number": number,
        "tier_name": tier.name if tier else "",
        "perks": tier_perks(tier) if tier else [],
        "points": points,
        "items": items,
        "shop_url": f"{links.base_url}/?cmp={key}",
        "member_url": f"{links.base_url}/account/loyalty?cmp={key}",
        "preferences_url": links.preferences_url(),
        "unsubscribe_url": links.unsubscribe_url(user_id, mailing.topic),
        "campaign": key,
    }
    row = enqueue_email(
        session,
        kind=mailing.kind,
        to=email,
        subject=mailing.subject,
        template=mailing.template,
        context=context,
        user_id=user_id,
        headers=links.headers(user_id, mailing.topic),
    )
    session.flush()
    send.outbox_email_id = row.id


def send_weekly(
    transaction: Transaction,
    week: IsoWeek,
    links: MailLinks,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Queue the week's deals e-mail for every opted-in member not sent to yet, committing
    every `batch_size` members. Safe to re-run and to run twice at once."""
    return send_mailing(
        transaction, weekly_mailing(week), links, batch_size=batch_size, progress=progress
    )


def send_mailing(
    transaction: Transaction,
    mailing: Mailing,
    links: MailLinks,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> SendReport:
    """Queue the mailing for everyone who confirmed its topic and has no send for it yet,
    committing every `batch_size` people. Safe to re-run and to run twice at once."""
    if batch_size < 1:
        raise CampaignError("the batch size must be at least 1")
    campaign_id = ensure_campaign(transaction, mailing.key, mailing.kind)
    with transaction() as tx:
        total = tx.scalar(
            select(func.count()).select_from(_recipients(mailing, campaign_id, 0, None).subquery())
        )
    queued = failed = no_picks = processed = 0
    after = 0
    while True:
        with transaction() as tx:
            batch = tx.execute(_recipients(mailing, campaign_id, after, batch_size)).all()
            if not batch:
                break
            tiers = {t.id: t for t in tx.scalars(select(Tier))}
            for recipient in batch:
                tier = tiers.get(recipient[4])
                try:
                    with tx.begin_nested():
                        _send_one(tx, campaign_id, mailing, recipient, tier, links)
                except IntegrityError:
                    pass  # another run sent it first: counted with the earlier sends below
                except _NoPersonalPicks:
                    no_picks += 1
                except OutboxError as exc:
                    failed += 1
                    log.warning("%s not queued for user %s: %s", mailing.key, recipient[0], exc)
                else:
                    queued += 1
            after = batch[-1][0]
            processed += len(batch)
        if progress is not None:
            progress(processed, total or 0)
    with transaction() as tx:
        sent = tx.scalar(
            select(func.count())
            .select_from(CampaignSend)
            .where(CampaignSend.campaign_id == campaign_id)
        )
    # People sent to by earlier runs, or by a run racing this one.
    return SendReport(mailing.key, queued, int(sent or 0) - queued, failed, no_picks)


# --- attribution ------------------------------------------------------------------------------


def campaign_stats(session: Session, limit: int = 100) -> list[CampaignStats]:
    """Sends, click-throughs (distinct people: an account once, however many browsers),
    recipients who clicked, paid orders and revenue per campaign, newest campaign first;
    each number is one GROUP BY query joined to the campaigns."""
    sends = (
        select(CampaignSend.campaign_id.label("campaign_id"), func.count().label("n"))
        .group_by(CampaignSend.campaign_id)
        .subquery()
    )
    clicks = (
        select(
            Event.campaign.label("key"),
            func.count(func.distinct(person_key(Event.user_id, Event.visitor_id))).label("n"),
        )
        .where(Event.campaign.is_not(None))
        .group_by(Event.campaign)
        .subquery()
    )
    # A recipient's visit is theirs once its events carry their account: signed in when
    # they clicked, or later (signing in links the visit's earlier events to the account).
    clicked = (
        select(
            CampaignSend.campaign_id.label("campaign_id"),
            func.count(func.distinct(CampaignSend.user_id)).label("n"),
        )
        .join(Campaign, Campaign.id == CampaignSend.campaign_id)
        .where(
            exists().where(Event.user_id == CampaignSend.user_id, Event.campaign == Campaign.key)
        )
        .group_by(CampaignSend.campaign_id)
        .subquery()
    )
    orders = (
        select(
            Order.campaign.label("key"),
            func.count().label("n"),
            func.coalesce(func.sum(Order.total_pence), 0).label("revenue"),
        )
        .where(
            Order.campaign.is_not(None),
            Order.kind == "sale",
            Order.status.in_(PAID_STATUSES),
        )
        .group_by(Order.campaign)
        .subquery()
    )
    query = (
        select(
            Campaign.key,
            Campaign.kind,
            Campaign.created_at,
            func.coalesce(sends.c.n, 0),
            func.coalesce(clicks.c.n, 0),
            func.coalesce(orders.c.n, 0),
            func.coalesce(orders.c.revenue, 0),
            func.coalesce(clicked.c.n, 0),
        )
        .outerjoin(sends, sends.c.campaign_id == Campaign.id)
        .outerjoin(clicked, clicked.c.campaign_id == Campaign.id)
        .outerjoin(clicks, clicks.c.key == Campaign.key)
        .outerjoin(orders, orders.c.key == Campaign.key)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(limit)
    )
    return [
        CampaignStats(key, kind, created, int(s), int(c), int(o), int(r), int(rc))
        for key, kind, created, s, c, o, r, rc in session.execute(query)
    ]
