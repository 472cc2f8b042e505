"""Account changes past the hourly cap of "your account was changed" e-mails are not lost:
they are told together in one e-mail that goes out an hour after the first of them. Until
it goes, each further change joins it and the e-mail is written again with all of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.accounts.models import ChangeNote, User
from shop.db import utcnow
from shop.mail.models import OutboxEmail
from shop.mail.outbox import enqueue_email, render_email

KIND = "account_profile_changes"
SUBJECT = "More changes to your account"
DELAY = timedelta(hours=1)
SHOWN = 50  # the e-mail lists this many changes and counts the rest


def _context(user: User, notes: list[tuple[datetime, str]], base_url: str) -> dict[str, object]:
    return {
        "name": user.name,
        "changes": [(f"{moment:%d %b %Y %H:%M} UTC", summary) for moment, summary in notes][:SHOWN],
        "more": max(0, len(notes) - SHOWN),
        "account_url": f"{base_url}/account",
        "reset_url": f"{base_url}/account/password/reset",
    }


def join_waiting(session: Session, user: User, summary: str, base_url: str) -> bool:
    """Add the change to the account's waiting e-mail, if one has not gone out yet; return
    whether it did (False: there is none, or its sender took it a moment ago)."""
    waiting = session.scalar(
        select(OutboxEmail.id)
        .where(
            OutboxEmail.user_id == user.id,
            OutboxEmail.kind == KIND,
            OutboxEmail.status == "pending",
        )
        .order_by(OutboxEmail.id.desc())
        .limit(1)
        .with_for_update()
    )
    if waiting is None:
        return False
    now = utcnow()
    held = session.execute(
        select(ChangeNote.created_at, ChangeNote.summary)
        .where(ChangeNote.email_id == waiting)
        .order_by(ChangeNote.id)
    )
    notes = [(moment, text) for moment, text in held] + [(now, summary)]
    text_body, html_body = render_email(KIND, _context(user, notes, base_url))
    rewritten = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == waiting, OutboxEmail.status == "pending")
        .values(text_body=text_body, html_body=html_body)
        .execution_options(synchronize_session=False)
    )
    if rewritten.rowcount != 1:
        return False
    session.add(ChangeNote(user_id=user.id, email_id=waiting, summary=summary, created_at=now))
    return True


def start(session: Session, user: User, summary: str, base_url: str) -> None:
    """Queue the e-mail with this first change, to go out an hour from now."""
    assert user.email
    row = enqueue_email(
        session,
        kind=KIND,
        to=user.email,
        subject=SUBJECT,
        template=KIND,
        context=_context(user, [(utcnow(), summary)], base_url),
        user_id=user.id,
    )
    row.next_attempt_at = row.created_at + DELAY
    session.flush()
    note = ChangeNote(user_id=user.id, email_id=row.id, summary=summary, created_at=row.created_at)
    session.add(note)
