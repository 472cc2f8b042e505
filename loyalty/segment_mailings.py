"""Segment mailings: a merchandiser writes a note to one RFM segment, and each customer in
it who asked for personal recommendations by e-mail gets the note with their own picks.

Queuing fixes the audience (the people the form counted) and the text, and optionally a
time to send at (UTC); the background job (`send_queued`, run by `flask loyalty
send-segment-mailings` and `make run`) queues the e-mails of each mailing whose time has come
through `campaigns.send_mailing`, so the usual rules hold: one e-mail per person, consent
checked again at send time, unsubscribe links and campaign attribution.

A waiting mailing can be cancelled. The job claims a mailing and a cancel takes it back with
one conditional UPDATE each (status "queued" to "sending", or to "cancelled"), so when both
happen at once exactly one of them wins.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from loyalty.campaigns import BATCH_SIZE, Mailing, SendReport, send_mailing
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
from shop.db import Transaction, utcnow
from shop.money import format_money

TOPIC = "recommendations"
KIND = "segment_mailing"
TEMPLATE = "segment_mailing"
PLACEMENT = "segment_email"
SUBJECT_MAX = 120
MESSAGE_MAX = 2000
MAX_PER_DAY = 20  # mailings to one segment in one day (the campaign keys stay short)
PREVIEW_TRIES = 10  # customers tried for a preview before saying there is none to show
SCHEDULE_SLACK = timedelta(minutes=1)  # a time just gone (the form took a while) means now
SCHEDULE_DAYS = 90  # how far ahead a mailing can be scheduled
# Statuses: waiting (for its time, when it has one), claimed by the job, done, taken back.
QUEUED, SENDING, SENT, CANCELLED = "queued", "sending", "sent", "cancelled"


class MailingError(ValueError):
    """A segment mailing that cannot be queued or cancelled, and the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class MailingNotFound(LookupError):
    """No segment mailing has that id."""


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


def check_send_after(send_at: datetime | None, now: datetime) -> datetime | None:
    """When a mailing may go out, as naive UTC: None for now, else a time no more than
    SCHEDULE_SLACK ago and at most SCHEDULE_DAYS ahead; MailingError otherwise."""
    if send_at is None:
        return None
    if send_at.tzinfo is not None:
        send_at = send_at.astimezone(UTC).replace(tzinfo=None)
    if send_at < now - SCHEDULE_SLACK:
        raise MailingError(
            "send_at", "That time has passed: choose a later one, or leave it empty to send now."
        )
    if send_at > now + timedelta(days=SCHEDULE_DAYS):
        raise MailingError(
            "send_at", f"A mailing can be scheduled at most {SCHEDULE_DAYS} days ahead."
        )
    return send_at


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
    *,
    send_at: datetime | None = None,
    now: datetime | None = None,
) -> Queued:
    """Queue a mailing to the segment's reachable customers (`reach`, when the caller has
    just counted them in this transaction), to go out now or at `send_at` (UTC), in the
    caller's transaction with its audit entry; MailingError for bad text, a time out of
    range or nobody to send to."""
    if len(form_token) != 32:
        raise MailingError("form_token", "The form has expired; open it again.")
    found = _existing(session, form_token)
    if found is not None:
        return found
    subject, message = check_text(subject, message)
    send_after = check_send_after(send_at, now or utcnow())
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
                status=QUEUED,
                queued=0,
                send_after=send_after,
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
        after={
            "segment": slug,
            "subject": subject,
            "audience": len(reach.reachable),
            "send_after": send_after.isoformat(" ", "minutes") if send_after else None,
        },
    )
    return Queued(mailing, key, created=True)


@dataclass(frozen=True)
class Cancelled:
    """A mailing taken back before it went out."""

    key: str
    subject: str


def cancel_mailing(
    session: Session, actor: audit.Actor, mailing_id: int, now: datetime | None = None
) -> Cancelled:
    """Cancel a mailing that is still waiting, forget its recipients and record who did it,
    in the caller's transaction; MailingNotFound, or MailingError when the job has claimed
    it already or it was cancelled before."""
    row = session.execute(
        select(SegmentMailing.subject, SegmentMailing.send_after, Campaign.key)
        .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
        .where(SegmentMailing.id == mailing_id)
    ).first()
    if row is None:
        raise MailingNotFound(mailing_id)
    subject, send_after, key = row
    when = now or utcnow()
    taken = session.execute(
        update(SegmentMailing)
        .where(SegmentMailing.id == mailing_id, SegmentMailing.status == QUEUED)
        .values(status=CANCELLED, cancelled_at=when, cancelled_by_email=actor.email)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        now_status = select(SegmentMailing.status).where(SegmentMailing.id == mailing_id)
        status = session.scalar(now_status)
        raise MailingError("mailing", _not_cancelled(subject, status))
    session.execute(
        delete(SegmentMailingRecipient).where(SegmentMailingRecipient.mailing_id == mailing_id)
    )
    audit.record(
        session,
        actor,
        "campaigns.segment_mailing_cancel",
        f"campaign {key}",
        before={
            "status": QUEUED,
            "send_after": send_after.isoformat(" ", "minutes") if send_after else None,
        },
        after={"status": CANCELLED},
    )
    return Cancelled(key, subject)


def _not_cancelled(subject: str, status: str | None) -> str:
    if status == CANCELLED:
        return f"“{subject}” was cancelled already."
    if status == SENDING:
        return f"“{subject}” is being sent right now, so it can no longer be cancelled."
    return f"“{subject}” has been sent already, so it can no longer be cancelled."


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


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return SegmentMailing.status == QUEUED, or_(
        SegmentMailing.send_after.is_(None), SegmentMailing.send_after <= now
    )


def due_mailings(session: Session, now: datetime) -> list[int]:
    """The ids of the waiting mailings whose time has come, oldest first."""
    query = select(SegmentMailing.id).where(*_due(now)).order_by(SegmentMailing.id)
    return list(session.scalars(query))


def scheduled_later(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """How many waiting mailings are scheduled after `now`, and the earliest time."""
    count, earliest = session.execute(
        select(func.count(), func.min(SegmentMailing.send_after)).where(
            SegmentMailing.status == QUEUED, SegmentMailing.send_after > now
        )
    ).one()
    return int(count or 0), earliest


def claim(session: Session, mailing_id: int, now: datetime) -> bool:
    """Mark a waiting mailing whose time has come as being sent, unless a cancel or another
    run got to it first (then False); in the caller's transaction."""
    claimed = session.execute(
        update(SegmentMailing)
        .where(SegmentMailing.id == mailing_id, *_due(now))
        .values(status=SENDING)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def send_queued(
    transaction: Transaction,
    links: MailLinks,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> list[SendReport]:
    """Claim every waiting segment mailing whose time has come (`now`, UTC), queue the
    e-mails of each one being sent, oldest first, then mark it sent and forget its recipient
    list. A mailing scheduled for later, or cancelled, is left alone. Safe to re-run and to
    run twice at once."""
    when = now or utcnow()
    with transaction() as tx:
        due = due_mailings(tx, when)
    for mailing_id in due:
        with transaction() as tx:
            claim(tx, mailing_id, when)
    # Those claimed now, and any a run that stopped half-way left being sent.
    with transaction() as tx:
        sending = tx.execute(
            select(SegmentMailing, Campaign.key)
            .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
            .where(SegmentMailing.status == SENDING)
            .order_by(SegmentMailing.id)
        ).all()
        mailings = [(mailing_of(row, key), row.id, row.campaign_id) for row, key in sending]
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
                .where(SegmentMailing.id == mailing_id, SegmentMailing.status == SENDING)
                .values(status=SENT, sent_at=utcnow(), queued=int(sent or 0))
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
    """A segment mailing as the console's campaigns page lists it; `state` is "scheduled"
    (waiting for its time), "waiting" (to go out on the job's next run), "sending", "sent"
    or "cancelled"."""

    id: int
    key: str
    segment: str
    subject: str
    created_by: str
    created_at: datetime
    audience: int
    state: str
    send_after: datetime | None
    sent_at: datetime | None
    queued: int
    cancelled_at: datetime | None
    cancelled_by: str | None

    @property
    def cancellable(self) -> bool:
        """Whether it is still waiting, so can be cancelled."""
        return self.state in ("scheduled", "waiting")


def _state(row: SegmentMailing, now: datetime) -> str:
    if row.status == QUEUED:
        return "scheduled" if row.send_after is not None and row.send_after > now else "waiting"
    return row.status


def recent_mailings(
    session: Session, now: datetime | None = None, limit: int = 50
) -> list[MailingRow]:
    """The latest segment mailings, newest first, each as it stands at `now`."""
    return _rows(session, now or utcnow(), limit)


def mailing_row(
    session: Session, mailing_id: int, now: datetime | None = None
) -> MailingRow | None:
    """One segment mailing as it stands at `now`, or None when there is no such mailing."""
    found = _rows(session, now or utcnow(), 1, SegmentMailing.id == mailing_id)
    return found[0] if found else None


def _rows(
    session: Session, when: datetime, limit: int, *where: ColumnElement[bool]
) -> list[MailingRow]:
    rows = session.execute(
        select(SegmentMailing, Campaign.key)
        .join(Campaign, Campaign.id == SegmentMailing.campaign_id)
        .where(*where)
        .order_by(SegmentMailing.id.desc())
        .limit(limit)
    ).all()
    return [
        MailingRow(
            id=row.id,
            key=key,
            segment=rfm.SEGMENTS[row.segment].name if row.segment in rfm.SEGMENTS else row.segment,
            subject=row.subject,
            created_by=row.created_by_email,
            created_at=row.created_at,
            audience=row.audience,
            state=_state(row, when),
            send_after=row.send_after,
            sent_at=row.sent_at,
            queued=row.queued,
            cancelled_at=row.cancelled_at,
            cancelled_by=row.cancelled_by_email,
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
