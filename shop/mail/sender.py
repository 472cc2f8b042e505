"""Delivering the outbox over SMTP: claim a batch, send it on one connection, record results.

Delivery is at least once: a row is marked sent right after the SMTP server accepts it, in
its own short transaction. If a sender dies between the two, the row's claim goes stale and
another sender sends it again with the same Message-ID, so the receiver can tell it apart.
Failures are retried with exponential backoff; after MAIL_MAX_ATTEMPTS a row is `failed` and
stays in the table for staff to see and retry.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import smtplib
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shop.db import utcnow
from shop.mail.models import OutboxEmail
from shop.mail.outbox import (
    DEFAULT_CLAIM_TIMEOUT_S,
    RECIPIENT,
    RESERVED_HEADERS,
    forget_if_asked,
)

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_CAP_S = 3600
JITTER = 0.1  # a retry is due within +-10% of its nominal delay
MAX_ERROR_CHARS = 1000
MAX_REPORTED_ERRORS = 100

SessionFactory = sessionmaker[Session]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect to the SMTP relay."""

    host: str
    port: int
    starttls: bool = False
    use_ssl: bool = False
    username: str = ""
    password: str = ""
    timeout_s: float = 10

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        """Read the SMTP_* settings of an app config."""
        return cls(
            host=config["SMTP_HOST"],
            port=int(config["SMTP_PORT"]),
            starttls=bool(config.get("SMTP_STARTTLS", False)),
            use_ssl=bool(config.get("SMTP_SSL", False)),
            username=config.get("SMTP_USERNAME", ""),
            password=config.get("SMTP_PASSWORD", ""),
            timeout_s=float(config.get("SMTP_TIMEOUT_S", 10)),
        )


@dataclass(frozen=True)
class SenderSettings:
    """Everything a sender needs besides the database."""

    smtp: SmtpSettings
    mail_from: str
    max_attempts: int = 6
    backoff_base_s: float = 30
    backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S
    claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SenderSettings:
        """Read the MAIL_* and SMTP_* settings of an app config."""
        return cls(
            smtp=SmtpSettings.from_config(config),
            mail_from=sender_address(config["MAIL_FROM"], str(config.get("SHOP_NAME", ""))),
            max_attempts=max(1, int(config.get("MAIL_MAX_ATTEMPTS", 6))),
            backoff_base_s=float(config.get("MAIL_BACKOFF_BASE_S", 30)),
            backoff_cap_s=float(config.get("MAIL_BACKOFF_CAP_S", DEFAULT_BACKOFF_CAP_S)),
            claim_timeout_s=float(config.get("MAIL_CLAIM_TIMEOUT_S", DEFAULT_CLAIM_TIMEOUT_S)),
        )


@dataclass
class SendReport:
    """What one or more sending passes did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost_claims: int = 0  # results not recorded because another sender took the row over
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        """Add another report's counts to this one (keeping only the latest errors)."""
        self.claimed += other.claimed
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.lost_claims += other.lost_claims
        self.errors = (self.errors + other.errors)[-MAX_REPORTED_ERRORS:]

    def summary(self) -> str:
        """One line for logs and the CLI."""
        text = f"sent {self.sent}, retrying {self.retrying}, failed {self.failed}"
        if self.lost_claims:
            text += f", {self.lost_claims} taken over by another sender"
        return text


@dataclass(frozen=True)
class Outgoing:
    """A claimed outbox row, detached from any session."""

    id: int
    message_id: str
    to_address: str
    subject: str
    text_body: str
    html_body: str
    headers: dict[str, str]
    attempts: int
    created_at: datetime

    @classmethod
    def of(cls, row: OutboxEmail) -> Outgoing:
        """Copy the fields the sender needs from a row."""
        return cls(
            id=row.id,
            message_id=row.message_id,
            to_address=row.to_address,
            subject=row.subject,
            text_body=row.text_body,
            html_body=row.html_body,
            headers=dict(row.headers or {}),
            attempts=row.attempts,
            created_at=row.created_at,
        )


class PermanentError(Exception):
    """A message that no retry can deliver (e.g. the relay refused the recipient for good)."""


class RelayUnavailable(Exception):
    """The SMTP relay could not be reached or refused the session (connect, TLS or login)."""


def backoff_seconds(
    attempts: int,
    base_s: float,
    cap_s: float = DEFAULT_BACKOFF_CAP_S,
    jitter: float = JITTER,
    rng: Callable[[float, float], float] = random.uniform,
) -> float:
    """Delay before retry number `attempts` (1-based): base * 2**(attempts-1), capped, +-jitter."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    if base_s <= 0 or cap_s <= 0:
        raise ValueError("backoff base and cap must be positive")
    nominal = min(cap_s, base_s * 2 ** min(attempts - 1, 62))
    return nominal * rng(1 - jitter, 1 + jitter)


def new_worker_id() -> str:
    """A unique name for this sender: host, process and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimable(now: datetime, stale_before: datetime) -> Any:
    return or_(
        and_(OutboxEmail.status == "pending", OutboxEmail.next_attempt_at <= now),
        and_(OutboxEmail.status == "sending", OutboxEmail.claimed_at < stale_before),
    )


def claim_batch(
    session_factory: SessionFactory,
    worker_id: str,
    limit: int,
    now: datetime,
    claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S,
) -> list[int]:
    """Atomically mark up to `limit` due rows as being sent by `worker_id`; return their ids.

    Due rows are pending ones whose next attempt has come, and rows left in 'sending' by a
    sender whose claim is older than `claim_timeout_s`. On PostgreSQL the rows are locked with
    SELECT ... FOR UPDATE SKIP LOCKED; on SQLite pass a write session factory (BEGIN IMMEDIATE)
    so the conditional UPDATE runs alone.
    """
    stale_before = now - timedelta(seconds=claim_timeout_s)
    due = _claimable(now, stale_before)
    order = (OutboxEmail.next_attempt_at, OutboxEmail.id)
    claim = {"status": "sending", "claimed_by": worker_id, "claimed_at": now}
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            query = select(OutboxEmail.id).where(due).order_by(*order).limit(limit)
            ids = list(session.scalars(query.with_for_update(skip_locked=True)))
            if ids:
                session.execute(
                    update(OutboxEmail).where(OutboxEmail.id.in_(ids)).values(**claim),
                    execution_options={"synchronize_session": False},
                )
            return ids
        candidates = select(OutboxEmail.id).where(due).order_by(*order).limit(limit)
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id.in_(candidates.scalar_subquery()), due)
            .values(**claim),
            execution_options={"synchronize_session": False},
        )
        mine = select(OutboxEmail.id).where(
            OutboxEmail.status == "sending",
            OutboxEmail.claimed_by == worker_id,
            OutboxEmail.claimed_at == now,
        )
        return list(session.scalars(mine.order_by(OutboxEmail.id)))


def load_claimed(session_factory: SessionFactory, ids: Sequence[int]) -> list[Outgoing]:
    """Read the claimed rows, in id order, as detached values."""
    if not ids:
        return []
    with session_factory() as session:
        query = select(OutboxEmail).where(OutboxEmail.id.in_(ids)).order_by(OutboxEmail.id)
        rows = [Outgoing.of(row) for row in session.scalars(query)]
        session.rollback()
    return rows


# Bodies are encoded at 76 characters a line (RFC 2045's limit for quoted-printable and
# base64) and headers folded at 76, which keeps RFC 2047 encoded words within their 75.
# `refold_source="none"` lets an ASCII extra header set raw (a List-Unsubscribe URL is one
# long word) go out as written: folded at 76 it was RFC 2047-encoded whole, and mail programs
# could no longer find its <https://...>.
MESSAGE_POLICY = policy.SMTP.clone(max_line_length=76, refold_source="none")
MAX_HEADER_LINE = 998  # RFC 5322 section 2.1.1
# RFC 3834: every e-mail of the shop is sent by a program, so auto-responders stay quiet.
AUTO_SUBMITTED = "auto-generated"


def sender_address(mail_from: str, shop_name: str) -> str:
    """The From header: MAIL_FROM, with the shop's name as display name when it has none."""
    display_name, address = parseaddr(mail_from)
    if display_name or not shop_name or "@" not in address:
        return mail_from
    local_part, _, domain = address.rpartition("@")
    return str(Address(display_name=shop_name, username=local_part, domain=domain))


def _set_extra_header(msg: EmailMessage, name: str, value: str) -> None:
    if value.isascii() and len(name) + 2 + len(value) <= MAX_HEADER_LINE:
        msg.set_raw(name, value)
    else:
        msg[name] = value


def build_message(email: Outgoing, mail_from: str) -> EmailMessage:
    """Build the multipart/alternative message (text, then HTML) for an outbox row."""
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["From"] = mail_from
    msg["To"] = email.to_address
    msg["Subject"] = email.subject
    msg["Message-ID"] = email.message_id
    msg["Date"] = format_datetime(email.created_at.replace(tzinfo=UTC), usegmt=True)
    msg["Auto-Submitted"] = AUTO_SUBMITTED
    for name, value in email.headers.items():
        if name.lower() in RESERVED_HEADERS:
            log.warning("outbox e-mail %s: ignoring reserved header %s", email.id, name)
            continue
        _set_extra_header(msg, name, value)
    msg.set_content(email.text_body)
    msg.add_alternative(email.html_body, subtype="html")
    return msg


@functools.cache
def _local_hostname() -> str:
    # smtplib looks this up (socket.getfqdn, possibly a slow DNS query) on every connection.
    return socket.getfqdn()


def open_smtp(settings: SmtpSettings) -> smtplib.SMTP:
    """Connect (SSL or plain, then STARTTLS if asked), log in if configured, and return it."""
    local = _local_hostname()
    client: smtplib.SMTP
    if settings.use_ssl:
        context = ssl.create_default_context()
        client = smtplib.SMTP_SSL(timeout=settings.timeout_s, local_hostname=local, context=context)
    else:
        client = smtplib.SMTP(timeout=settings.timeout_s, local_hostname=local)
    try:
        client.connect(settings.host, settings.port)
        if settings.starttls and not settings.use_ssl:
            client.starttls(context=ssl.create_default_context())
        if settings.username:
            client.login(settings.username, settings.password)
    except BaseException:
        client.close()
        raise
    return client


def close_smtp(client: smtplib.SMTP) -> None:
    """Say QUIT if the server still listens, and close the socket in any case."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()


class SmtpSession:
    """One SMTP connection reused for a batch, reopened once after it drops."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        """Send one message; raise PermanentError when retrying cannot help."""
        if self.client is None:
            try:
                self.client = open_smtp(self.settings)
            except (smtplib.SMTPException, OSError) as exc:
                raise RelayUnavailable(_describe(exc)) from exc
        try:
            self.client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # smtplib has reset the transaction: the connection is still usable.
            if all(code >= 500 for code, _msg in exc.recipients.values()):
                raise PermanentError(_describe(exc)) from exc
            raise
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentError(_describe(exc)) from exc
            raise
        except smtplib.SMTPSenderRefused:
            raise
        except BaseException:
            self.close()  # disconnected, timed out or out of step: start afresh next time
            raise

    def close(self) -> None:
        """Close the connection if one is open."""
        if self.client is not None:
            client, self.client = self.client, None
            close_smtp(client)


@contextmanager
def smtp_session(settings: SmtpSettings) -> Iterator[SmtpSession]:
    """Yield an SmtpSession and close its connection at the end."""
    session = SmtpSession(settings)
    try:
        yield session
    finally:
        session.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items()]
        text = "recipient refused: " + "; ".join(parts)
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_ERROR_CHARS]


def _without_address(error: str, address: str) -> str:
    if not address:
        return error
    return re.sub(re.escape(address), RECIPIENT, error, flags=re.IGNORECASE)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def record_sent(
    session_factory: SessionFactory, email: Outgoing, worker_id: str, now: datetime
) -> bool:
    """Mark a claimed row sent; False if this sender no longer holds the claim."""
    with session_factory() as session, session.begin():
        result = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email.id,
                OutboxEmail.status == "sending",
                OutboxEmail.claimed_by == worker_id,
            )
            .values(status="sent", sent_at=now, attempts=email.attempts + 1, last_error=None),
            execution_options={"synchronize_session": False},
        )
        done = getattr(result, "rowcount", 0) == 1
        if done:
            forget_if_asked(session, email.id, now)
    return done


def record_failure(
    session_factory: SessionFactory,
    email: Outgoing,
    worker_id: str,
    error: str,
    settings: SenderSettings,
    now: datetime,
    permanent: bool = False,
) -> str | None:
    """Count a failed attempt: back to pending with backoff, or `failed` for good.

    Returns the row's new status, or None if this sender no longer holds the claim.
    """
    attempts = email.attempts + 1
    status = "failed" if permanent or attempts >= settings.max_attempts else "pending"
    delay = backoff_seconds(attempts, settings.backoff_base_s, settings.backoff_cap_s)
    with session_factory() as session, session.begin():
        result = session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == email.id,
                OutboxEmail.status == "sending",
                OutboxEmail.claimed_by == worker_id,
            )
            .values(
                status=status,
                attempts=attempts,
                last_error=error[:MAX_ERROR_CHARS],
                next_attempt_at=now + timedelta(seconds=delay),
                claimed_by=None,
                claimed_at=None,
            ),
            execution_options={"synchronize_session": False},
        )
        held = getattr(result, "rowcount", 0) == 1
        if held and status == "failed":
            forget_if_asked(session, email.id, now)
    return status if held else None


def _count_failure(report: SendReport, status: str | None, email: Outgoing, error: str) -> None:
    if status is None:
        report.lost_claims += 1
        return
    report.errors.append(f"{email.id}: {error}")
    if status == "failed":
        report.failed += 1
        log.error("outbox e-mail %s failed for good: %s", email.id, error)
    else:
        report.retrying += 1
        log.warning("outbox e-mail %s will be retried: %s", email.id, error)


def release_claims(session_factory: SessionFactory, ids: Sequence[int], worker_id: str) -> None:
    """Hand rows this sender claimed but did not try back to the queue, attempts unchanged."""
    if not ids:
        return
    with session_factory() as session, session.begin():
        session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id.in_(list(ids)),
                OutboxEmail.status == "sending",
                OutboxEmail.claimed_by == worker_id,
            )
            .values(status="pending", claimed_by=None, claimed_at=None),
            execution_options={"synchronize_session": False},
        )


@dataclass
class _Pass:
    """The state of one sending pass: where to record results, and the running report."""

    session_factory: SessionFactory
    settings: SenderSettings
    worker_id: str
    clock: Callable[[], datetime]
    report: SendReport

    def failed(self, email: Outgoing, error: str, permanent: bool = False) -> None:
        """Record and count a failed attempt; the error never names the recipient (it is
        kept, and logged, after the retention period removes the address)."""
        error = _without_address(error, email.to_address)
        status = record_failure(
            self.session_factory,
            email,
            self.worker_id,
            error,
            self.settings,
            self.clock(),
            permanent,
        )
        _count_failure(self.report, status, email, error)

    def sent(self, email: Outgoing) -> None:
        """Record and count a delivered message."""
        if record_sent(self.session_factory, email, self.worker_id, self.clock()):
            self.report.sent += 1
        else:
            self.report.lost_claims += 1
            log.warning("outbox e-mail %s was sent after its claim went stale", email.id)

    def send(self, smtp: SmtpSession, email: Outgoing) -> None:
        """Build and send one message, recording the outcome; RelayUnavailable propagates."""
        try:
            message = build_message(email, self.settings.mail_from)
        except (ValueError, TypeError) as exc:
            self.failed(email, f"cannot build the message: {type(exc).__name__}: {exc}", True)
            return
        try:
            smtp.send(message)
        except PermanentError as exc:
            self.failed(email, str(exc), permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            self.failed(email, _describe(exc))
        else:
            self.sent(email)


def deliver(
    session_factory: SessionFactory,
    settings: SenderSettings,
    *,
    worker_id: str,
    limit: int = 100,
    now: datetime | None = None,
) -> SendReport:
    """Claim one batch and send it over one SMTP connection; return what happened.

    `session_factory` must begin write transactions (db.write_session_factory). `now`
    fixes the clock for the whole pass (tests); by default the real time is used.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    ids = claim_batch(session_factory, worker_id, limit, clock(), settings.claim_timeout_s)
    state = _Pass(session_factory, settings, worker_id, clock, SendReport(claimed=len(ids)))
    emails = load_claimed(session_factory, ids)
    done = 0
    try:
        with smtp_session(settings.smtp) as smtp:
            for email in emails:
                try:
                    state.send(smtp, email)
                except RelayUnavailable as exc:
                    # Nothing can go out now: this row and the rest wait for a retry.
                    for waiting in emails[done:]:
                        state.failed(waiting, str(exc))
                    done = len(emails)
                    break
                done += 1
    finally:
        release_claims(session_factory, [email.id for email in emails[done:]], worker_id)
    if state.report.claimed:
        log.info("mail sender %s: %s", worker_id, state.report.summary())
    return state.report


def _resolve_app(app: Flask | None) -> Flask:
    return app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]


def send_pending(
    app: Flask | None = None,
    *,
    limit: int = 100,
    now: datetime | None = None,
    worker_id: str | None = None,
) -> SendReport:
    """Send one batch of due outbox e-mails with the app's settings (current app by default)."""
    flask_app = _resolve_app(app)
    database = flask_app.extensions["database"]
    if database.write_session_factory is None:
        raise RuntimeError("the database extension is not initialised")
    return deliver(
        database.write_session_factory,
        SenderSettings.from_config(flask_app.config),
        worker_id=worker_id or new_worker_id(),
        limit=limit,
        now=now,
    )


def run_loop(
    stop: threading.Event,
    interval_s: float,
    app: Flask | None = None,
    *,
    limit: int = 100,
    on_pass: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Send batches until `stop` is set, waiting `interval_s` whenever the outbox is drained."""
    flask_app = _resolve_app(app)
    worker_id = new_worker_id()
    total = SendReport()
    while not stop.is_set():
        try:
            report = send_pending(flask_app, limit=limit, worker_id=worker_id)
        except Exception:  # a database hiccup must not end the loop
            log.exception("mail sender %s: pass failed; trying again later", worker_id)
            report = SendReport()
        total.add(report)
        if on_pass is not None and report.claimed:
            on_pass(report)
        if report.claimed < limit:
            stop.wait(interval_s)
    return total
