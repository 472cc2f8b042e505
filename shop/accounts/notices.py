"""Account e-mails (templates/email/account_*) and the `profile_changed` domain event.

Both are added to the caller's transaction, so they commit together with the change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shop.events.bus import record_event
from shop.mail.outbox import enqueue_email

SUBJECTS = {
    "account_password_changed": "Your password was changed",
    "account_email_change_requested": "A change of your e-mail address was requested",
    "account_email_confirm": "Confirm your new e-mail address",
    "account_email_changed": "The e-mail address of your account was changed",
    "account_profile_changed": "Your account details were changed",
    "account_password_reset": "Reset your password",
    "account_deleted": "Your account has been deleted",
    "account_welcome": "Welcome: your account is ready",
    "account_email_verify": "Confirm your e-mail address",
}


def send(
    session: Session,
    kind: str,
    *,
    to: str,
    user_id: int | None,
    forget_after_send: bool = False,
    subject: str | None = None,
    **context: Any,
) -> None:
    """Queue one account e-mail (kind = template name; its usual subject unless `subject`
    is given) in the caller's transaction."""
    enqueue_email(
        session,
        kind=kind,
        to=to,
        subject=subject or SUBJECTS[kind],
        template=kind,
        context=context,
        user_id=user_id,
        forget_after_send=forget_after_send,
    )


def profile_changed(session: Session, user_id: int, change: str, fields: list[str]) -> None:
    """Record the `profile_changed` event; the payload names what changed, never values."""
    record_event(
        session, "profile_changed", {"user_id": user_id, "change": change, "fields": fields}
    )
