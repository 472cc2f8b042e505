"""`flask mail ...`: deliver the outbox, list it, and retry failed e-mails."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from shop.db import db
from shop.mail.outbox import STATUSES, OutboxError, outbox_counts, outbox_rows, retry_email
from shop.mail.sender import SendReport, run_loop, send_pending

mail_cli = AppGroup(
    "mail",
    help="Transactional e-mail: deliver the outbox over SMTP, list it, retry failed e-mails.",
)


@mail_cli.command("send")
@click.option(
    "--loop",
    "loop",
    is_flag=True,
    help="Keep running, sending new e-mails as they become due, until Ctrl-C or SIGTERM.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="With --loop: seconds to wait after the outbox has been drained.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    show_default=True,
    help="How many e-mails to claim and send per batch (one SMTP connection per batch).",
)
def send_command(loop: bool, interval: float, limit: int) -> None:
    """Send the e-mails that are due, over the configured SMTP relay.

    By default this sends one batch and exits (for cron); failures are retried later with
    exponential backoff, and after MAIL_MAX_ATTEMPTS an e-mail is marked failed (see
    `flask mail list --status failed` and `flask mail retry`).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    click.echo(f"Sending via {config['SMTP_HOST']}:{config['SMTP_PORT']}.")
    started = time.perf_counter()
    report = _send_in_loop(app, interval, limit) if loop else send_pending(app, limit=limit)
    elapsed = time.perf_counter() - started
    click.echo(f"Outbox: {report.summary()} ({report.claimed} claimed, {elapsed:.1f} s).")
    for error in report.errors[-10:]:
        click.echo(f"  e-mail {error}", err=True)


def _send_in_loop(app: Any, interval: float, limit: int) -> SendReport:
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    click.echo(f"Sending every {interval:g} s; press Ctrl-C to stop.")
    total = SendReport()

    def echo_pass(report: SendReport) -> None:
        """Print one line per batch that had something to send."""
        click.echo(f"{time.strftime('%H:%M:%S')} {report.summary()}")

    try:
        total = run_loop(stop, interval, app, limit=limit, on_pass=echo_pass)
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return total


@mail_cli.command("list")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    default=None,
    help="Only e-mails with this status (e.g. failed: given up after MAIL_MAX_ATTEMPTS).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=1000),
    default=50,
    show_default=True,
    help="How many e-mails to show, newest first.",
)
def list_command(status: str | None, limit: int) -> None:
    """List outbox e-mails, newest first, with their status, attempts and last error."""
    session = db.session
    counts = outbox_counts(session)
    click.echo("Outbox: " + ", ".join(f"{name} {counts[name]}" for name in STATUSES) + ".")
    rows = outbox_rows(session, status=status, limit=limit)
    if not rows:
        click.echo("No e-mails" + (f" with status {status}." if status else "."))
        return
    width = max(map(len, STATUSES))  # "withdrawn" would push the other columns along
    click.echo(f"{'id':>6}  {'status':<{width}} {'tries':>5}  {'kind':<20} {'to':<30} when (UTC)")
    for row in rows:
        when = row.sent_at if row.status == "sent" else row.next_attempt_at
        stamp = when.strftime("%Y-%m-%d %H:%M:%S") if when else ""
        click.echo(
            f"{row.id:>6}  {row.status:<{width}} {row.attempts:>5}  {row.kind[:20]:<20} "
            f"{row.to_address[:30]:<30} {stamp}"
        )
        click.echo(f"{'':>8}{row.subject[:90]}")
        if row.last_error and row.status != "sent":
            click.echo(f"{'':>8}last error: {row.last_error[:200]}")


@mail_cli.command("retry")
@click.argument("email_ids", metavar="ID...", nargs=-1, required=True, type=int)
def retry_command(email_ids: tuple[int, ...]) -> None:
    """Queue failed e-mails again (by id, see `flask mail list --status failed`).

    Each gets a fresh set of MAIL_MAX_ATTEMPTS attempts and goes out with the next
    `flask mail send`, under its original Message-ID.
    """
    problems = []
    for email_id in email_ids:
        try:
            with db.transaction() as session:
                row = retry_email(session, email_id)
                click.echo(f"E-mail {row.id} to {row.to_address} is pending again.")
        except OutboxError as exc:
            problems.append(str(exc))
    if problems:
        raise click.ClickException("; ".join(problems))
