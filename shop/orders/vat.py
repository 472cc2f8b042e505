"""VAT in the shop's VAT-inclusive prices: how much of an amount is VAT, per order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shop.orders.models import Order


def vat_in(gross_pence: int, rate_bp: int) -> int:
    """The VAT included in a VAT-inclusive amount, to the nearest penny (halves away from
    zero, so a refund's VAT mirrors the sale's)."""
    vat = Decimal(gross_pence) * rate_bp / (10_000 + rate_bp)
    return int(vat.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate_label(rate_bp: int) -> str:
    """A rate for people: 2000 is "20%", 1750 is "17.5%"."""
    return f"{(Decimal(rate_bp) / 100).normalize():f}%"


@dataclass(frozen=True)
class VatBreakdown:
    """An amount including VAT, split into VAT and the rest."""

    rate_bp: int
    gross_pence: int
    vat_pence: int

    @property
    def net_pence(self) -> int:
        """The amount without VAT."""
        return self.gross_pence - self.vat_pence

    @property
    def rate(self) -> str:
        """The rate as people write it ("20%")."""
        return rate_label(self.rate_bp)


def breakdown(gross_pence: int, rate_bp: int) -> VatBreakdown:
    """Split a VAT-inclusive amount at a rate."""
    return VatBreakdown(rate_bp, gross_pence, vat_in(gross_pence, rate_bp))


def order_vat(order: Order) -> VatBreakdown | None:
    """The VAT in the order's total; None for orders sold before the shop recorded a rate
    (imported invoices)."""
    if order.vat_rate_bp is None:
        return None
    return breakdown(order.total_pence, order.vat_rate_bp)
