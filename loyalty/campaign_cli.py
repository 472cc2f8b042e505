"""`flask loyalty send-weekly`, `send-picks`, `send-segment-mailings` and `announce-launches`:
queue this week's deals e-mail for opted-in members, this month's personal picks for
everyone who asked for them, the mailings merchandisers wrote to a segment, or the e-mail
about new products in early access."""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask import Flask, current_app

from loyalty import campaigns, launch_news, picks, segment_mailings
from loyalty.cli import loyalty_cli, register
from loyalty.preferences import links_from_config
from shop.cli_options import batch_size_option
from shop.db import db, utcnow
from shop.wording import counted


def _batch_size_option(who: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The --batch-size option of a mailing command."""
    return batch_size_option(
        campaigns.BATCH_SIZE,
        f"{who} per transaction (the work is committed after each batch).",
        most=10_000,
    )


@loyalty_cli.command("send-weekly")
@click.option(
    "--week",
    metavar="YYYY-Www",
    default=None,
    help="The ISO week to send for, e.g. 2026-W48 (default: the current week).",
)
@_batch_size_option("Members")
def send_weekly_command(week: str | None, batch_size: int) -> None:
    """Queue the weekly deals e-mail for every active member who confirmed weekly deals.

    Each member gets their top recommendations with reasons and their tier perks, with
    links carrying the campaign key (weekly-YYYY-Www) for attribution. A member already
    sent to for the week is skipped, so re-running (or running twice at once) is safe.
    The e-mails go to the outbox; `flask mail send` delivers them.
    """
    try:
        chosen = campaigns.IsoWeek.parse(week) if week else campaigns.IsoWeek.of(utcnow().date())
    except campaigns.CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    _run_and_report(
        lambda progress: campaigns.send_weekly(
            db.transaction,
            chosen,
            links_from_config(current_app.config),
            batch_size=batch_size,
            progress=progress,
        )
    )


@loyalty_cli.command("send-picks")
@click.option(
    "--month",
    metavar="YYYY-MM",
    default=None,
    help="The month to send for, e.g. 2026-11 (default: the current month).",
)
@_batch_size_option("People")
def send_picks_command(month: str | None, batch_size: int) -> None:
    """Queue the personal recommendations e-mail for everyone who confirmed that topic.

    Members and other customers alike get their top personal picks with reasons, with
    links carrying the campaign key (picks-YYYY-MM). Someone without personal picks
    (personalization switched off, or no history the model can use) is left out and
    counted. A person already sent to for the month is skipped, so re-running is safe.
    The e-mails go to the outbox; `flask mail send` delivers them.
    """
    try:
        chosen = picks.Month.parse(month) if month else picks.Month.of(utcnow().date())
    except campaigns.CampaignError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    _run_and_report(
        lambda progress: picks.send_picks(
            db.transaction,
            chosen,
            links_from_config(current_app.config),
            batch_size=batch_size,
            progress=progress,
        )
    )


@loyalty_cli.command("send-segment-mailings")
@_batch_size_option("People")
def send_segment_mailings_command(batch_size: int) -> None:
    """Queue the e-mails of the mailings merchandisers wrote to a segment in the console.

    Run it every minute (`make run` does, in the background). Each mailing whose time has
    come (now, or the time it was scheduled for) goes to the customers counted when it was
    queued who still want personal recommendations by e-mail and have personal picks, once
    each; then it is marked sent. Mailings scheduled for later, and cancelled ones, are left
    alone. The e-mails go to the outbox; `flask mail send` delivers them.
    """
    started = time.perf_counter()
    reports = segment_mailings.send_queued(
        db.transaction, links_from_config(current_app.config), batch_size=batch_size
    )
    if not reports:
        with db.transaction() as session:
            later, earliest = segment_mailings.scheduled_later(session, utcnow())
        if later:
            click.echo(
                f"No segment mailings due now; {counted(later, 'mailing')} scheduled for later, "
                f"the next at {earliest:%Y-%m-%d %H:%M} UTC."
            )
        else:
            click.echo("No segment mailings waiting.")
    for report in reports:
        _echo_report(report, started)


@loyalty_cli.command("announce-launches")
@_batch_size_option("Members")
def announce_launches_command(batch_size: int) -> None:
    """E-mail members with early access about new products whose early access has opened.

    Run it hourly (`make run` does, in the background). Each product is announced once, to
    active members whose tier has early access and who confirmed tier news and member
    offers; members who gain early access before the launch get it on the next run.
    The e-mails go to the outbox; `flask mail send` delivers them.
    """
    started = time.perf_counter()
    report = launch_news.announce_launches(
        db.transaction, links_from_config(current_app.config), batch_size=batch_size
    )
    click.echo(f"{report.summary()}, in {time.perf_counter() - started:.1f} s.")
    for sent in report.sends:
        click.echo(f"  campaign {sent.key}: {sent.queued:,} queued, {sent.skipped:,} already sent")


def _run_and_report(send: Callable[[Callable[[int, int], None]], campaigns.SendReport]) -> None:
    """Run a send with progress on stderr (at most every 2 s), then print its report."""
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 2 or done >= total:
            last[0] = now
            click.echo(f"  {done}/{total} recipients", err=True)

    _echo_report(send(progress), started)


def _echo_report(report: campaigns.SendReport, started: float) -> None:
    """Print what a send did."""
    left_out = f", {report.no_picks} without personal picks" if report.no_picks else ""
    click.echo(
        f"Campaign {report.key}: {counted(report.queued, 'e-mail')} queued, "
        f"{report.skipped:,} already sent, {report.failed:,} failed{left_out}, "
        f"in {time.perf_counter() - started:.1f} s."
    )


def init_app(app: Flask) -> None:
    """Add `flask loyalty send-weekly`, `send-picks`, `send-segment-mailings` and
    `announce-launches`."""
    register(app)
