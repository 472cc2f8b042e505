"""The contact page: how to reach the shop, and how cancelling and returning an order work."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from flask import Blueprint, current_app, render_template

from shop.orders.invoice import Seller
from shop.returns.services import ReturnSettings

bp = Blueprint("help", __name__)


def support_address(config: Mapping[str, Any]) -> str:
    """Where shoppers write to: SHOP_SUPPORT_EMAIL, else the address the shop's e-mails come
    from (replies to them reach the same people)."""
    chosen = str(config.get("SUPPORT_EMAIL") or "")
    return chosen or parseaddr(str(config.get("MAIL_FROM", "")))[1]


@bp.get("/contact")
def contact() -> str:
    """The shop's e-mail and postal address, and what to do to cancel or send something back."""
    config = current_app.config
    return render_template(
        "help/contact.html",
        support_email=support_address(config),
        seller=Seller.from_config(config),
        returns=ReturnSettings.from_config(config),
    )
