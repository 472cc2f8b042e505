"""Segment mailings: a merchandiser writes a note to one RFM segment, and each customer in
it who asked for personal recommendations by e-mail gets the note with their own picks.

Queuing fixes the audience (the people the form counted) and the text; the background job
(`send_queued`, run by `flask loyalty send-segment-mailings` and `make run`) queues the
e-mails through `campaigns.send_mailing`, so the usual rules hold: one e-mail per person,
consent checked again at send time, unsubscribe links and campaign attribution.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.campaigns import BATCH_SIZE, Mailing, SendReport, Transaction, send_mailing
from loyalty.models import (
    Campaign,
    CampaignSend,
    CommunicationPreference,
    SegmentMailing,
    SegmentMailingRecipient,
)
from loyalty.preferences import UNSUBSCRIBE_PATH, MailLinks
from shop.accounts.models import User
from shop.analytics import rfm
from shop.analytics.customers import LOOKUP_CHUNK, segment_members
from shop.console import audit
from shop.db import utcnow
from shop.money import format_money

TOPIC = "recommendations"
KIND = "segment_mailing"
TEMPLATE = "segment_mailing"
PLACEMENT = "segment_email"
SUBJECT_MAX = 120
MESSAGE_MAX = 2000
MAX_PER_DAY = 20  # mailings to one segment in one day (the campaign keys stay short)
PREVIEW_TRIES = 10  # customers tried for a preview before saying there is none to show


class MailingError(ValueError):
    """A segment mailing that cannot be queued, and the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Audience:
    """Who in a segment a mailing can reach: customers who confirmed personal
    recommendations by e-mail and have personalization on, best spenders first."""

    segment: rfm.Segment
    customers: int  # everyone in the segment, guests included
    accounts: int  # accounts not deleted, with personalization on
    reachable: list[int]  # account ids, best spenders first

    @property
    def not_reachable(self) -> int:
        """Customers in the segment the mailing will not go to."""
        return self.customers - len(self.reachable)


def audience(session: Session, slug: str, today: date) -> Audience:
    """The segment's customers and which of them a mailing can reach today;
    CustomerAnalyticsError (404) for an unknown segment."""
    members, _scored = segment_members(session, slug, today)
    ids = [row.totals.key for row in members if isinstance(row.totals.key, int)]
    live: set[int] = set()
    consented: set[int] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        live.update(
            session.scalars(
                select(User.id).where(
                    User.id.in_(chunk),
                    User.deleted_at.is_(None),
                    User.email.is_not(None),
                    # Personalization off: no personal picks to send them.
                    User.tracking_enabled.is_(True),
                )
            )
        )
        consented.update(
            session.scalars(
                select(CommunicationPreference.user_id).where(
                    CommunicationPreference.user_id.in_(chunk),
                    CommunicationPreference.topic == TOPIC,
                    CommunicationPreference.status == "on",
                )
            )
        )
    segment = rfm.SEGMENTS[slug]
    reachable = [i for i in ids if i in live and i in consented]
    return Audience(segment, len(members), len(live), reachable)


def new_form_token() -> str:
    """A one-off token for the mailing form, so that submitting it twice queues once."""
    return secrets.token_hex(16)


def paragraphs(message: str) -> list[str]:
    """The note split into paragraphs at blank lines (line breaks inside one are kept)."""
    text = message.replace("\r\n", "\n").replace("\r", "\n").strip()
    parts = [part.strip() for part in text.split("\n\n")]
    return [part for part in parts if part]


def check_text(subject: str, message: str) -> tuple[str, str]:
    """The subject and note, trimmed; MailingError when either is empty or too long, or the
    subject spans lines (it becomes an e-mail header)."""
    subject, message = subject.strip(), message.strip()
    if not subject:
        raise MailingError("subject", "Write a subject.")
    if "\n" in subject or "\r" in subject:
        raise MailingError("subject", "The subject must be one line.")
    if len(subject) > SUBJECT_MAX:
        raise MailingError("subject", f"The subject can be at most {SUBJECT_MAX} characters.")
    if not paragraphs(message):
        raise MailingError("message", "Write a note for the customers.")
    if len(message) > MESSAGE_MAX:
        raise MailingError("message", f"The note can be at most {MESSAGE_MAX:,} characters.")
    return subject, message


def _campaign_key(session: Session, slug: str, today: date) -> str:
    """A free campaign key such as "segment-at-risk-20261125", then "-2", "-3"..."""
    base = f"segment-{slug}-{today:%Y%m%d}"
    taken = set(session.scalars(select(Campaign.key).where(Campaign.key.startswith(base))))
    if base not in taken:
        return base
    if len(taken) >= MAX_PER_DAY:
        raise MailingError(
            "segment", f"This segment has had {MAX_PER_DAY} mailings today; that is the most."
        )
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


@dataclass(frozen=True)
class Queued:
    """A queued mailing, and whether this request queued it (False: the form was sent
    before and this is the same mailing)."""

    mailing: SegmentMailing
    key: str
    created: bool


def _existing(session: Session, form_token: str) -> Queued | None:
    row = session.execute(
        select(SegmentMailing, Campaign.key)
        .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
        .where(SegmentMailing.form_token == form_token)
    ).first()
    return Queued(row[0], row[1], created=False) if row else None


def queue_mailing(
    session: Session,
    actor: audit.Actor,
    slug: str,
    subject: str,
    message: str,
    form_token: str,
    today: date,
    reach: Audience | None = None,
) -> Queued:
    """Queue a mailing to the segment's reachable customers (`reach`, when the caller has
    just counted them in this transaction), in the caller's transaction with its audit
    entry; MailingError for bad text or nobody to send to."""
    if len(form_token) != 32:
        raise MailingError("form_token", "The form has expired; open it again.")
    found = _existing(session, form_token)
    if found is not None:
        return found
    subject, message = check_text(subject, message)
    if reach is None or reach.segment.slug != slug:
        reach = audience(session, slug, today)
    if not reach.reachable:
        raise MailingError(
            "segment",
            f"Nobody in {reach.segment.name} has asked for personal recommendations by "
            "e-mail, so there is no one to send it to.",
        )
    try:
        with session.begin_nested():
            key = _campaign_key(session, slug, today)
            campaign = Campaign(key=key, kind=KIND, created_at=utcnow())
            session.add(campaign)
            session.flush()
            mailing = SegmentMailing(
                campaign_id=campaign.id,
                segment=slug,
                subject=subject,
                message=message,
                form_token=form_token,
                created_by_id=actor.id,
                created_by_email=actor.email,
                created_at=utcnow(),
                audience=len(reach.reachable),
                status="queued",
                queued=0,
            )
            session.add(mailing)
            session.flush()
    except IntegrityError:
        # The same form a moment ago (the token), or a mailing to the segment that took the
        # key in between: the first is that mailing, the second worth a new attempt.
        found = _existing(session, form_token)
        if found is not None:
            return found
        raise MailingError(
            "form_token", "Another mailing was queued just now; send again."
        ) from None
    session.execute(
        insert(SegmentMailingRecipient),
        [{"mailing_id": mailing.id, "user_id": user_id} for user_id in reach.reachable],
    )
    audit.record(
        session,
        actor,
        "campaigns.segment_mailing",
        f"campaign {key}",
        after={"segment": slug, "subject": subject, "audience": len(reach.reachable)},
    )
    return Queued(mailing, key, created=True)


def mailing_of(row: SegmentMailing, key: str) -> Mailing:
    """The campaign mailing that sends a queued segment mailing."""
    return Mailing(
        key=key,
        kind=KIND,
        topic=TOPIC,
        subject=row.subject,
        template=TEMPLATE,
        placement=PLACEMENT,
        members_only=False,
        personal_only=True,
        context={"subject": row.subject, "paragraphs": paragraphs(row.message)},
        audience=row.id,
    )


def send_queued(
    transaction: Transaction,
    links: MailLinks,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> list[SendReport]:
    """Queue the e-mails of every queued segment mailing, oldest first, then mark each sent
    and forget its recipient list. Safe to re-run and to run twice at once."""
    with transaction() as tx:
        waiting = tx.execute(
            select(SegmentMailing, Campaign.key)
            .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
            .where(SegmentMailing.status == "queued")
            .order_by(SegmentMailing.id)
        ).all()
        mailings = [(mailing_of(row, key), row.id, row.campaign_id) for row, key in waiting]
    reports = []
    for mailing, mailing_id, campaign_id in mailings:
        report = send_mailing(transaction, mailing, links, batch_size=batch_size, progress=progress)
        with transaction() as tx:
            sent = tx.scalar(
                select(func.count())
                .select_from(CampaignSend)
                .where(CampaignSend.campaign_id == campaign_id)
            )
            tx.execute(
                update(SegmentMailing)
                .where(SegmentMailing.id == mailing_id)
                .values(status="sent", sent_at=utcnow(), queued=int(sent or 0))
            )
            tx.execute(
                delete(SegmentMailingRecipient).where(
                    SegmentMailingRecipient.mailing_id == mailing_id
                )
            )
        reports.append(report)
    return reports


@dataclass(frozen=True)
class MailingRow:
    """A segment mailing as the console's campaigns page lists it."""

    key: str
    segment: str
    subject: str
    created_by: str
    created_at: datetime
    audience: int
    status: str
    sent_at: datetime | None
    queued: int


def recent_mailings(session: Session, limit: int = 50) -> list[MailingRow]:
    """The latest segment mailings, newest first."""
    rows = session.execute(
        select(SegmentMailing, Campaign.key)
        .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
        .order_by(SegmentMailing.id.desc())
        .limit(limit)
    ).all()
    return [
        MailingRow(
            key=key,
            segment=rfm.SEGMENTS[row.segment].name if row.segment in rfm.SEGMENTS else row.segment,
            subject=row.subject,
            created_by=row.created_by_email,
            created_at=row.created_at,
            audience=row.audience,
            status=row.status,
            sent_at=row.sent_at,
            queued=row.queued,
        )
        for row, key in rows
    ]


def preview_context(
    session: Session,
    reach: Audience,
    subject: str,
    message: str,
    links: MailLinks,
    picks: Callable[[Session, User], tuple[Sequence[Any], bool]],
) -> dict[str, Any] | None:
    """What the e-mail's templates need to show the copy of the best spender who gets it:
    the first of the first PREVIEW_TRIES reachable customers whose picks (from `picks`, not
    logged: the items and whether they are personal) are personal; None when none is."""
    for user_id in reach.reachable[:PREVIEW_TRIES]:
        user = session.get(User, user_id)
        if user is None:
            continue
        shown, personal = picks(session, user)
        if personal:
            break
    else:
        return None
    items = [
        {
            "name": item.product.name,
            "price": format_money(item.product.price_pence, item.product.currency),
            "reason": item.reason,
            "url": f"{links.base_url}/products/{item.product.id}",
        }
        for item in shown
    ]
    return {
        "to": user.email,
        "subject": subject,
        "paragraphs": paragraphs(message),
        "name": user.name,
        "items": items,
        "shop_url": f"{links.base_url}/",
        "preferences_url": links.preferences_url(),
        # Not the customer's working link: a preview must not be a way to unsubscribe them.
        "unsubscribe_url": f"{links.base_url}{UNSUBSCRIBE_PATH}[their own link]",
    }
