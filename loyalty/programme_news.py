"""Telling every member when the programme's own rules change: earning, spending points,
expiry, the tier basis, the grace period or the terms. The join page's terms promise notice
by e-mail, so this is a service message, sent whatever the marketing preferences, queued in
the transaction that saves the settings."""

from __future__ import annotations

from sqlalchemy.orm import Session

from loyalty.notifications import member_page_url
from loyalty.settings import ProgrammeSettings
from loyalty.tier_news import members_to_tell
from shop.mail.outbox import enqueue_email
from shop.wording import counted

KIND = "loyalty_programme_changed"
REVIEW_INTRO = (
    "Saving these settings e-mails every active member at once, whatever their marketing "
    "preferences, because the programme terms promise notice of changes. The e-mail lists "
    "these changes and links to the terms:"
)


def _basis(settings: ProgrammeSettings) -> str:
    return "points earned" if settings.tier_basis == "points" else "spend"


def _spending(s: ProgrammeSettings) -> str:
    return (
        f"from {s.min_redeem_points:,} to {s.max_redeem_points:,} points on an order, "
        f"up to {s.max_redeem_share_pct}% of its goods"
    )


def programme_changes(before: ProgrammeSettings, after: ProgrammeSettings) -> list[str]:
    """What changed for members, one sentence each (internal settings are left out)."""
    lines = []
    if after.points_per_pound != before.points_per_pound:
        lines.append(
            f"You earn {counted(after.points_per_pound, 'point')} per £1 spent, before your "
            f"tier's multiplier (was {before.points_per_pound})."
        )
    if after.point_value_pence != before.point_value_pence:
        lines.append(
            f"Each point takes {after.point_value_pence}p off an order "
            f"(was {before.point_value_pence}p)."
        )
    if _spending(after) != _spending(before):
        lines.append(f"You can spend {_spending(after)} (was {_spending(before)}).")
    if after.expiry_months != before.expiry_months:
        lines.append(
            f"Points expire {after.expiry_months} months after you earn them "
            f"(was {before.expiry_months})."
        )
    if after.expiry_reminder_days != before.expiry_reminder_days:
        lines.append(
            f"We remind you {after.expiry_reminder_days} days before points expire "
            f"(was {before.expiry_reminder_days})."
        )
    if after.tier_basis != before.tier_basis:
        lines.append(
            f"Your tier now depends on your {_basis(after)} over the last 12 months "
            f"(was your {_basis(before)})."
        )
    if after.downgrade_grace_days != before.downgrade_grace_days:
        lines.append(
            f"If you fall below your tier's threshold, you keep the tier for "
            f"{after.downgrade_grace_days} days (was {before.downgrade_grace_days})."
        )
    if after.early_access_hours != before.early_access_hours:
        lines.append(
            f"Tiers with early access can buy new products {after.early_access_hours} hours "
            f"before everyone else (was {before.early_access_hours})."
        )
    if after.terms_version != before.terms_version:
        lines.append(
            f"The programme terms are now version {after.terms_version} "
            f"(was {before.terms_version})."
        )
    return lines


def tell_members(session: Session, before: ProgrammeSettings, after: ProgrammeSettings) -> int:
    """Queue the notice for every active member with an e-mail address; returns how many."""
    lines = programme_changes(before, after)
    if not lines:
        return 0
    members = members_to_tell(session)
    for user_id, email, name in members:
        enqueue_email(
            session,
            kind=KIND,
            to=email,
            subject="Changes to the loyalty programme",
            template=KIND,
            context={
                "name": name,
                "changes": lines,
                "terms_version": after.terms_version,
                "terms_url": f"{member_page_url()}#terms",
                "member_url": member_page_url(),
            },
            user_id=user_id,
        )
    return len(members)
