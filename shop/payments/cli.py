"""`flask payments ...`: reconcile lost confirmations and make refunds from the shell."""

from __future__ import annotations

from collections.abc import Sequence

import click
from flask import current_app
from flask.cli import AppGroup

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.money import format_money, to_minor
from shop.orders.fulfilment import OrderNotFound, order_by_number
from shop.orders.models import OrderLine
from shop.payments.gateway import GatewayError
from shop.payments.reconcile import reconcile
from shop.payments.refunds import RefundError, RefundMadeElsewhere, RefundRequest, refund_order
from shop.payments.setup import PaymentsNotConfigured, gateway

payments_cli = AppGroup("payments", help="Card payments: reconcile with Stripe, refund orders.")


def _settings() -> CheckoutSettings:
    return CheckoutSettings.from_config(current_app.config)


@payments_cli.command("reconcile")
@click.option(
    "--min-age",
    default=5,
    show_default=True,
    type=click.IntRange(min=0),
    help="Only attempts older than this (minutes).",
)
def reconcile_command(min_age: int) -> None:
    """Ask Stripe about unpaid orders whose payment outcome the shop never heard.

    Exits with status 1 when an order could not be checked, so that cron reports it."""
    try:
        report = reconcile(db.transaction, gateway(), _settings(), min_age_minutes=min_age)
    except PaymentsNotConfigured as exc:
        raise click.ClickException(str(exc)) from exc
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(report.outcomes.items())) or "nothing"
    click.echo(f"Checked {report.checked} order(s); {outcomes}.")
    for error in report.errors:
        click.echo(f"  could not check {error}", err=True)
    if report.errors:
        raise click.exceptions.Exit(1)


@payments_cli.command("refund")
@click.argument("number")
@click.option("--amount", help="Amount in pounds, e.g. 4.50 (default: everything not refunded).")
@click.option("--restock", is_flag=True, help="Put every item of the order back in stock.")
@click.option(
    "--restock-line",
    multiple=True,
    metavar="SKU=QTY",
    help="Put QTY of one line back in stock (repeatable), for partial refunds.",
)
@click.option("--reason", default="", help="Why, for the order's record.")
def refund_command(
    number: str, amount: str | None, restock: bool, restock_line: tuple[str, ...], reason: str
) -> None:
    """Refund an order in full or in part through Stripe (idempotent per attempt).

    Exits with status 1 when a concurrent request booked the same refund instead."""
    try:
        with db.transaction() as session:
            order = order_by_number(session, number)
            order_id = order.id
            lines = _restock_lines(order.lines, restock_line)
        request = RefundRequest(
            amount_pence=to_minor(amount) if amount else None,
            restock_all=restock,
            restock=lines,
            reason=reason,
            source="cli",
        )
        refund = refund_order(db.transaction, gateway(), _settings(), order_id, request)
    except RefundMadeElsewhere as exc:
        raise click.ClickException(
            "A concurrent request made this same refund of "
            f"{format_money(exc.amount_pence, exc.currency)} on order {number}; "
            "this command refunded nothing more."
        ) from exc
    except (OrderNotFound, RefundError, GatewayError, PaymentsNotConfigured, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Refunded {format_money(refund.amount_pence, refund.currency)} of order {number}.")


def _restock_lines(lines: Sequence[OrderLine], specs: tuple[str, ...]) -> dict[int, int]:
    by_sku = {line.sku: line.id for line in lines}
    wanted: dict[int, int] = {}
    for spec in specs:
        sku, _, qty = spec.partition("=")
        if sku not in by_sku or not qty.isdigit():
            raise ValueError(f"--restock-line {spec!r}: use SKU=QTY with a SKU on the order")
        wanted[by_sku[sku]] = int(qty)
    return wanted
