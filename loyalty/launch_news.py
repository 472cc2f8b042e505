"""Telling members with early access that new products are theirs to buy before launch.

When a product's early-access window opens (its launch minus the programme's
`early_access_hours`), active members whose tier has early access and who confirmed "Tier
news and member offers" get an e-mail naming it, with the moment everyone else can buy it.
A run claims every product whose window has opened since the last run into one campaign
(a LaunchAnnouncement row per product, so each product is announced once), then sends each
campaign whose products are still in early access to the members not sent it yet: a
re-run, or two runs at once, sends nobody anything twice, and a member who gains early
access before the launch gets it on the next run. Products that launched, sold out or were
taken off sale by then are left out of the e-mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loyalty.campaigns import BATCH_SIZE, Mailing, SendReport, send_mailing
from loyalty.models import Campaign, LaunchAnnouncement
from loyalty.preferences import MailLinks
from loyalty.settings import load_settings
from shop.catalog.availability import Viewer, not_launched_yet, on_sale_to, public_viewer
from shop.catalog.models import Product
from shop.db import Transaction, utcnow
from shop.money import format_money
from shop.wording import counted

KIND = "early_access"
TOPIC = "tier_news"


@dataclass(frozen=True)
class LaunchReport:
    """What a run did: products newly announced, and each campaign's sends."""

    announced: int
    sends: tuple[SendReport, ...]

    def summary(self) -> str:
        """One line for logs and the command's output."""
        queued = sum(report.queued for report in self.sends)
        failed = sum(report.failed for report in self.sends)
        return (
            f"{counted(self.announced, 'product')} newly in early access; "
            f"{counted(len(self.sends), 'campaign')} sent: {counted(queued, 'e-mail')} queued, "
            f"{failed:,} failed"
        )


def early_access_window(now: datetime, hours: int) -> ColumnElement[bool]:
    """SQL: the product is on sale to early access now and not yet to everyone."""
    early = Viewer(now, now + timedelta(hours=hours))
    return and_(on_sale_to(early), not_launched_yet(public_viewer(now)), Product.stock_qty > 0)


def when_everyone(moment: datetime) -> str:
    """A launch moment in words, e.g. "1 December 2026, 09:00 UTC"."""
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def announce_launches(
    transaction: Transaction,
    links: MailLinks,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> LaunchReport:
    """Claim the products whose early access has opened, then queue the e-mails of every
    campaign still in early access (see the module docstring)."""
    now = now or utcnow()
    with transaction() as tx:
        hours = load_settings(tx).early_access_hours
    announced = _claim(transaction, now, hours)
    with transaction() as tx:
        campaigns = _open_campaigns(tx, now, hours)
    sends = tuple(
        send_mailing(
            transaction,
            _mailing(key, products, links),
            links,
            batch_size=batch_size,
            progress=progress,
        )
        for key, products in campaigns
    )
    return LaunchReport(announced, sends)


def _claim(transaction: Transaction, now: datetime, hours: int) -> int:
    """Put the products newly in early access into a new campaign; 0 when there are none,
    or when a run at the same time claimed them first."""
    try:
        with transaction() as tx:
            announced = select(LaunchAnnouncement.product_id).where(
                LaunchAnnouncement.product_id == Product.id
            )
            ids = list(
                tx.scalars(
                    select(Product.id)
                    .where(early_access_window(now, hours), ~announced.exists())
                    .order_by(Product.id)
                )
            )
            if not ids:
                return 0
            campaign = Campaign(key=f"early-{now:%Y%m%d%H%M%S%f}", kind=KIND, created_at=now)
            tx.add(campaign)
            tx.flush()
            tx.add_all(
                LaunchAnnouncement(product_id=i, campaign_id=campaign.id, created_at=now)
                for i in ids
            )
            tx.flush()
            return len(ids)
    except IntegrityError:
        return 0


def _open_campaigns(session: Session, now: datetime, hours: int) -> list[tuple[str, list[Product]]]:
    """Each early-access campaign with its products still in early access, oldest first."""
    rows = session.execute(
        select(Campaign.key, Product)
        .join(LaunchAnnouncement, LaunchAnnouncement.campaign_id == Campaign.id)
        .join(Product, Product.id == LaunchAnnouncement.product_id)
        .where(Campaign.kind == KIND, early_access_window(now, hours))
        .order_by(Campaign.id, Product.launches_at, Product.id)
    ).all()
    campaigns: dict[str, list[Product]] = {}
    for key, product in rows:
        session.expunge(product)
        campaigns.setdefault(key, []).append(product)
    return list(campaigns.items())


def _mailing(key: str, products: list[Product], links: MailLinks) -> Mailing:
    """The e-mail of one campaign: its products, for members whose tier has early access."""
    subject = (
        f"Early access: {products[0].name}"
        if len(products) == 1
        else f"Early access: {len(products)} new products"
    )
    items = tuple(
        {
            "name": product.name,
            "price": format_money(product.price_pence, product.currency),
            "reason": f"On sale to everyone from {when_everyone(product.launches_at)}",
            "url": f"{links.base_url}/products/{product.id}?cmp={key}",
        }
        for product in products
        if product.launches_at is not None
    )
    return Mailing(
        key=key,
        kind=KIND,
        topic=TOPIC,
        subject=subject,
        template="early_access_launch",
        placement="",
        items=items,
        tier_benefit="early_access",
        context={"early_access_url": f"{links.base_url}/early-access?cmp={key}"},
    )
