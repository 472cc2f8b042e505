"""The checkout's extension point for benefits: discounts, free shipping, points.

The checkout knows nothing about who offers a benefit. A provider (the loyalty programme,
for one) implements `CheckoutBenefits` and registers itself on the app with `register`;
the checkout asks the registered provider for a `BenefitQuote` while pricing, calls `hold`
inside `place_order`'s transaction (and again when a released order is paid later), and
never calls anything else. With no provider registered the checkout is unchanged.

Giving held value back is the provider's business: the checkout records the domain event
`order_released` whenever an unpaid order's hold ends (cancelled, expired, payment
declined), and the provider subscribes to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from shop.checkout.pricing import ShippingOption

if TYPE_CHECKING:
    from shop.orders.models import Order

EXTENSION = "checkout_benefits"


class BenefitUnavailable(ValueError):
    """A benefit that can no longer be held (e.g. the points were spent); safe to show."""


@dataclass(frozen=True)
class BenefitQuote:
    """What a provider offers on one cart.

    Amounts are pence. `points_redeemed` points worth `points_discount_pence` are applied
    only when `errors` is empty. `labels` are short lines to show with the totals
    ("Gold member: 5% off"); `points_balance` and `max_points` let the review page offer
    redemption (None: this shopper cannot redeem); `hint` and `hint_url` invite
    non-members to join. `points_to_earn` is what the order earns once paid, at the
    member's tier as it is now.
    """

    tier_discount_pence: int = 0
    tier_label: str = ""
    free_shipping: bool = False
    points_redeemed: int = 0
    points_discount_pence: int = 0
    labels: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    points_balance: int | None = None
    min_points: int = 0
    max_points: int = 0
    point_value_pence: int = 0
    hint: str = ""
    hint_url: str = ""
    points_to_earn: int = 0

    @property
    def is_member(self) -> bool:
        """True when the shopper can redeem points (a member with a balance shown)."""
        return self.points_balance is not None


NO_BENEFITS = BenefitQuote()


@runtime_checkable
class CheckoutBenefits(Protocol):
    """A provider of checkout benefits (implemented outside the checkout)."""

    def quote(
        self,
        session: Session,
        user_id: int | None,
        subtotal_pence: int,
        shipping_options: Sequence[ShippingOption],
        redeem_points: int,
    ) -> BenefitQuote:
        """The benefits for this shopper and cart, with `redeem_points` points applied."""
        ...

    def hold(self, session: Session, order: Order, quote: BenefitQuote | None) -> None:
        """Take what the order uses (points) in the caller's transaction, or raise
        BenefitUnavailable. Idempotent: an order already holding its points is left alone.
        `quote` is None when an order released earlier is held again at payment."""
        ...

    def release(self, session: Session, order: Order) -> int:
        """Give back what the order holds; return how much (0 when nothing is held)."""
        ...


def register(app: Flask, provider: CheckoutBenefits) -> None:
    """Make `provider` the app's checkout benefits provider (replacing an earlier one)."""
    app.extensions[EXTENSION] = provider


def registered(app: Flask | None = None) -> CheckoutBenefits | None:
    """The app's provider, or None (also outside an app context)."""
    if app is None:
        if not has_app_context():
            return None
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    provider = app.extensions.get(EXTENSION)
    return provider if isinstance(provider, CheckoutBenefits) else None
