"""The VAT invoice (or, without a VAT number, the receipt) of a paid order: who sold it,
when, what, and how much of each amount was VAT, with any refunds as credits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.orders import states
from shop.orders.models import Order
from shop.orders.vat import VatBreakdown, breakdown
from shop.payments.models import Refund


class NoInvoice(LookupError):
    """The order has no invoice (yet); the message says why."""


@dataclass(frozen=True)
class Seller:
    """Who the invoice is from (the shop's settings)."""

    name: str
    address: tuple[str, ...]
    vat_number: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Seller:
        """SHOP_NAME, SHOP_LEGAL_ADDRESS (its parts separated by commas) and SHOP_VAT_NUMBER."""
        parts = str(config.get("LEGAL_ADDRESS", "")).split(",")
        return cls(
            name=str(config.get("SHOP_NAME", "")),
            address=tuple(part.strip() for part in parts if part.strip()),
            vat_number=str(config.get("VAT_NUMBER", "")),
        )


@dataclass(frozen=True)
class Credit:
    """A refund on the invoice: when, and its amount with the VAT in it."""

    refunded_at: datetime
    amount: VatBreakdown


@dataclass(frozen=True)
class Invoice:
    """Everything the invoice page shows."""

    order: Order
    seller: Seller
    supplied_at: datetime  # the time of supply: when the order was paid
    total: VatBreakdown
    credits: tuple[Credit, ...]

    @property
    def is_vat_invoice(self) -> bool:
        """A VAT invoice needs the seller's VAT number; without one it is a receipt."""
        return bool(self.seller.vat_number)

    @property
    def title(self) -> str:
        """The page's heading: a VAT invoice, or a receipt without a VAT number."""
        return "VAT invoice" if self.is_vat_invoice else "Receipt"


def refusal(order: Order) -> str | None:
    """Why the order has no invoice, or None when it has one."""
    if order.kind != "sale":
        return f"{order.number} is a return; it has no invoice of its own."
    if order.vat_rate_bp is None:
        return (
            f"Order {order.number} was placed before the shop recorded VAT rates, so we "
            "cannot issue an invoice for it here."
        )
    if order.status not in states.WERE_PAID:
        return f"Order {order.number} has not been paid, so it has no invoice."
    return None


def invoice_for(session: Session, order: Order, seller: Seller) -> Invoice:
    """The order's invoice; raise NoInvoice (see `refusal`) when it has none."""
    why = refusal(order)
    if why:
        raise NoInvoice(why)
    rate = order.vat_rate_bp
    assert rate is not None
    paid = [step.created_at for step in order.history if step.to_status == states.PAID]
    refunds = session.scalars(
        select(Refund)
        .where(Refund.order_id == order.id, Refund.status == "succeeded")
        .order_by(Refund.created_at, Refund.id)
    )
    return Invoice(
        order=order,
        seller=seller,
        supplied_at=paid[0] if paid else order.placed_at,
        total=breakdown(order.total_pence, rate),
        credits=tuple(Credit(r.created_at, breakdown(r.amount_pence, rate)) for r in refunds),
    )
