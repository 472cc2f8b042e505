"""When a product is on sale, and to whom: launch dates, and early access before them.

A product with `launches_at` goes on sale to everyone at that moment. Before it, only
shoppers with early access see and buy it: the catalogue does not know who they are, it asks
whatever the app registered with `register` (the loyalty programme registers its members'
tier benefit), which answers how long before a launch a given user may buy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Session

from shop.catalog.models import Product
from shop.db import utcnow

EXTENSION = "catalogue_early_access"

# How long before launches a user may buy (None or zero: not before everyone else).
EarlyAccess = Callable[[Session, int], timedelta | None]


@dataclass(frozen=True)
class Viewer:
    """Who looks at the catalogue, and when: products launching by `sees_until` are theirs."""

    now: datetime
    sees_until: datetime

    @property
    def has_early_access(self) -> bool:
        """True when this viewer sees products before they launch to everyone."""
        return self.sees_until > self.now


def register(app: Flask, provider: EarlyAccess) -> None:
    """Make `provider` the app's answer to "how early may this user buy new products"."""
    app.extensions[EXTENSION] = provider


def public_viewer(now: datetime | None = None) -> Viewer:
    """Everyone: a product is theirs from its launch."""
    now = now or utcnow()
    return Viewer(now, now)


def viewer_for(session: Session, user_id: int | None, now: datetime | None = None) -> Viewer:
    """The catalogue as `user_id` (None: a visitor) sees it now; asked once per request
    (the page, the cart and checkout of one request share the answer)."""
    if now is not None or not has_request_context():
        return _look_up(session, user_id, now)
    known: dict[int | None, Viewer] = g.setdefault("catalogue_viewers", {})
    if user_id not in known:
        known[user_id] = _look_up(session, user_id, None)
    return known[user_id]


def _look_up(session: Session, user_id: int | None, now: datetime | None) -> Viewer:
    viewer = public_viewer(now)
    provider = current_app.extensions.get(EXTENSION) if has_app_context() else None
    if user_id is None or provider is None:
        return viewer
    early = provider(session, user_id)
    if not early or early <= timedelta(0):
        return viewer
    return Viewer(viewer.now, viewer.now + early)


def launched_for(viewer: Viewer) -> ColumnElement[bool]:
    """SQL: the product's launch (if any) is open to this viewer."""
    return or_(Product.launches_at.is_(None), Product.launches_at <= viewer.sees_until)


def on_sale_to(viewer: Viewer) -> ColumnElement[bool]:
    """SQL: the product is active and launched for this viewer."""
    return and_(Product.active.is_(True), launched_for(viewer))


def not_launched_yet(viewer: Viewer) -> ColumnElement[bool]:
    """SQL: the product has a launch this viewer may not buy before."""
    return Product.launches_at > viewer.sees_until


def is_launched_for(product: Product, viewer: Viewer) -> bool:
    """Whether this viewer may see and buy the product as far as its launch goes."""
    return product.launches_at is None or product.launches_at <= viewer.sees_until


def in_early_access(product: Product, viewer: Viewer) -> bool:
    """True when the viewer sees the product only thanks to early access."""
    return product.launches_at is not None and viewer.now < product.launches_at <= viewer.sees_until
