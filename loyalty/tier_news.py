"""Telling a tier's members when the programme changes its benefits or its name.

A change that only improves the tier (a perk added, a bigger discount, more points, a new
name) is news: it goes to the tier's members who confirmed "Tier news and member offers",
as a campaign (links carry ?cmp=, one-click unsubscribe). A change that lowers or ends a
benefit changes what members joined for: every member of the tier is told, whatever their
marketing preferences, as a service message. Either way the e-mails are queued in the
transaction that saves the tier, so they go out exactly when the change commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from loyalty.models import Campaign, CampaignSend, CommunicationPreference, Membership, Tier
from loyalty.notifications import BENEFIT_FLAGS, benefit_lines, times_text
from loyalty.preferences import MailLinks, links_from_config
from loyalty.rules import TierSpec
from shop.accounts.models import User
from shop.db import utcnow
from shop.mail.outbox import enqueue_email
from shop.wording import percent_text

TOPIC = "tier_news"
NEWS_KIND = "tier_news"
NOTICE_KIND = "loyalty_tier_benefits"


@dataclass(frozen=True)
class BenefitChange:
    """What changed for a tier's members, in words: better, worse, and the old name."""

    better: tuple[str, ...]
    worse: tuple[str, ...]
    old_name: str | None  # set when the tier was renamed

    @property
    def worth_telling(self) -> bool:
        """True when members would notice the change."""
        return bool(self.better or self.worse or self.old_name)


def benefit_change(before: TierSpec, after: TierSpec) -> BenefitChange:
    """Compare two versions of a tier (only what members get, and the name)."""
    better: list[str] = []
    worse: list[str] = []
    if after.discount_bp != before.discount_bp:
        side = better if after.discount_bp > before.discount_bp else worse
        was = f" (was {percent_text(before.discount_bp)})" if before.discount_bp else ""
        if after.discount_bp:
            side.append(f"{percent_text(after.discount_bp)} off every order{was}")
        else:
            side.append(f"No discount on orders any more{was}")
    if after.multiplier_pct != before.multiplier_pct:
        side = better if after.multiplier_pct > before.multiplier_pct else worse
        side.append(
            f"{times_text(after.multiplier_pct)} points on every order"
            f" (was {times_text(before.multiplier_pct)})"
        )
    for attribute, label in BENEFIT_FLAGS:
        had, has = getattr(before, attribute), getattr(after, attribute)
        if has and not had:
            better.append(label)
        elif had and not has:
            worse.append(f"{label}: ended")
    renamed = before.name if before.name != after.name else None
    return BenefitChange(tuple(better), tuple(worse), renamed)


def _members_query(tier_id: int | None, only_topic: bool) -> Select[tuple[int, str, str]]:
    query = (
        select(User.id, User.email, User.name)
        .join(Membership, and_(Membership.user_id == User.id, Membership.status == "active"))
        .where(User.email.is_not(None), User.email != "", User.deleted_at.is_(None))
        .order_by(User.id)
    )
    if tier_id is not None:
        query = query.where(Membership.tier_id == tier_id)
    if only_topic:
        query = query.join(
            CommunicationPreference,
            and_(
                CommunicationPreference.user_id == User.id,
                CommunicationPreference.topic == TOPIC,
                CommunicationPreference.status == "on",
            ),
        )
    return query


def members_to_tell(
    session: Session, tier_id: int | None = None, only_topic: bool = False
) -> Sequence[tuple[int, str, str]]:
    """(user id, e-mail, name) of the active members (of one tier, or all) who can be
    e-mailed; with `only_topic`, only those who confirmed tier news."""
    query = _members_query(tier_id, only_topic)
    return [(user_id, email, name) for user_id, email, name in session.execute(query)]


def count_members_to_tell(
    session: Session, tier_id: int | None = None, only_topic: bool = False
) -> int:
    """How many members `members_to_tell` would list, counted in the database."""
    counted = select(func.count()).select_from(_members_query(tier_id, only_topic).subquery())
    return int(session.scalar(counted) or 0)


def audience(session: Session, tier_id: int, change: BenefitChange) -> int:
    """How many members `tell_members` would e-mail about this change of the tier."""
    if not change.worth_telling:
        return 0
    return count_members_to_tell(session, tier_id, only_topic=not change.worse)


def review_intro(change: BenefitChange, name: str) -> str:
    """Who `tell_members` e-mails about the change, and why, for the review before saving."""
    if change.worse:
        return (
            f"Saving this tier e-mails every member of {name}, whatever their marketing "
            "preferences, because a benefit they joined for is reduced or ends. The e-mail "
            "lists these changes and their benefits now:"
        )
    return (
        f"Saving this tier e-mails the members of {name} who asked for tier news. The "
        "e-mail lists these changes and their benefits now:"
    )


def change_lines(change: BenefitChange, name: str) -> list[str]:
    """The change in one sentence per benefit, as the review before saving shows it."""
    lines = [f"New or better: {line}" for line in change.better]
    lines += [f"Reduced or ended: {line}" for line in change.worse]
    if change.old_name:
        lines.append(f"The tier {change.old_name} is now called {name}.")
    return lines


def tell_members(session: Session, tier: Tier, change: BenefitChange) -> int:
    """Queue the e-mails a change calls for (see the module docstring); returns how many."""
    if not change.worth_telling:
        return 0
    notice = bool(change.worse)
    members = members_to_tell(session, tier.id, only_topic=not notice)  # as in `audience`
    if not members:
        return 0
    links = links_from_config(current_app.config)
    context = {
        "tier": tier.name,
        "old_name": change.old_name,
        "better": change.better,
        "worse": change.worse,
        "benefits": benefit_lines(tier),
        "notice": notice,
    }
    if notice:
        member_url = f"{links.base_url}/account/loyalty"
        for user_id, email, name in members:
            enqueue_email(
                session,
                kind=NOTICE_KIND,
                to=email,
                subject=f"Changes to your {tier.name} benefits",
                template="loyalty_tier_news",
                context={**context, "name": name, "member_url": member_url},
                user_id=user_id,
            )
        return len(members)
    return _send_news(session, tier, members, context, links)


def _send_news(
    session: Session,
    tier: Tier,
    members: Sequence[tuple[int, str, str]],
    context: dict[str, object],
    links: MailLinks,
) -> int:
    """The marketing version: a campaign, a send per member, links with ?cmp=."""
    now = utcnow()
    campaign = Campaign(key=f"tier-{tier.id}-{now:%Y%m%d%H%M%S%f}", kind=NEWS_KIND, created_at=now)
    session.add(campaign)
    session.flush()
    sent = []
    for user_id, email, name in members:
        row = enqueue_email(
            session,
            kind=NEWS_KIND,
            to=email,
            subject=f"News about your tier: {tier.name}",
            template="loyalty_tier_news",
            context={
                **context,
                "name": name,
                "member_url": f"{links.base_url}/account/loyalty?cmp={campaign.key}",
                "unsubscribe_url": links.unsubscribe_url(user_id, TOPIC),
                "preferences_url": links.preferences_url(),
            },
            user_id=user_id,
            headers=links.headers(user_id, TOPIC),
        )
        send = CampaignSend(campaign_id=campaign.id, user_id=user_id, created_at=now)
        session.add(send)
        sent.append((send, row))
    session.flush()
    for send, row in sent:
        send.outbox_email_id = row.id
    return len(sent)
