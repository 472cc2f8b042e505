"""`flask orders ...` and `flask checkout ...`: fulfilment and stock holds from the shell."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from shop.checkout.pricing import CheckoutSettings
from shop.db import db
from shop.orders import fulfilment
from shop.orders.holds import release_expired
from shop.orders.states import IllegalTransition
from shop.payments.services import expire_waiting_payments
from shop.payments.setup import PaymentsNotConfigured, gateway

orders_cli = AppGroup("orders", help="Move orders on: ship, deliver, cancel unpaid ones.")
checkout_cli = AppGroup("checkout", help="Checkout housekeeping: release expired stock holds.")


def _run(number: str, action: str, reason: str = "") -> None:
    settings = CheckoutSettings.from_config(current_app.config)
    try:
        with db.transaction() as session:
            order = fulfilment.order_by_number(session, number)
            if action == "ship":
                fulfilment.ship_order(session, settings, order, reason)
            elif action == "deliver":
                fulfilment.deliver_order(session, order)
            else:
                fulfilment.cancel_unpaid_order(session, order, reason, notify=settings)
            status, order_id = order.status, order.id
    except (fulfilment.OrderNotFound, IllegalTransition) as exc:
        raise click.ClickException(str(exc)) from exc
    if action == "cancel":
        fulfilment.cancel_open_payments_of(settings, order_id)
    click.echo(f"Order {number} is now {status}.")


@orders_cli.command("ship")
@click.argument("number")
@click.option("--tracking", default="", help="Carrier and tracking number for the e-mail.")
def ship_command(number: str, tracking: str) -> None:
    """Mark a paid order shipped and e-mail the shopper."""
    _run(number, "ship", tracking)


@orders_cli.command("deliver")
@click.argument("number")
def deliver_command(number: str) -> None:
    """Mark a shipped order delivered."""
    _run(number, "deliver")


@orders_cli.command("cancel")
@click.argument("number")
@click.option("--reason", default="", help="Why: a staff note on the order's timeline.")
def cancel_command(number: str, reason: str) -> None:
    """Cancel an unpaid order and put its stock back (paid orders are refunded instead)."""
    _run(number, "cancel", reason)


@checkout_cli.command("release-expired")
def release_expired_command() -> None:
    """Put back the stock held by unpaid orders whose hold has run out."""
    with db.transaction() as session:
        released = release_expired(session)
    kept = 0
    try:
        waiting, kept = expire_waiting_payments(
            db.transaction, gateway(), CheckoutSettings.from_config(current_app.config)
        )
        released += waiting
    except PaymentsNotConfigured:
        pass
    click.echo(f"Released the stock of {released} unpaid order(s).")
    if kept:
        click.echo(
            f"Kept the hold of {kept} order(s) whose bank check could not be cancelled "
            "(try again later).",
            err=True,
        )
