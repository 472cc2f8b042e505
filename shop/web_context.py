"""Who the current request is for: the cart owner (account or anonymous visitor), and the
catalogue as they may see it."""

from __future__ import annotations

from flask import g
from flask_login import current_user

from shop.cart.services import CartOwner
from shop.catalog.availability import Viewer, viewer_for
from shop.db import db


def current_cart_owner() -> CartOwner | None:
    """The signed-in user's cart, or the anonymous visitor's (None before one is known)."""
    if current_user.is_authenticated:
        return CartOwner(user_id=int(current_user.get_id()))
    visitor_id = g.get("visitor_id")
    return CartOwner(visitor_id=visitor_id) if visitor_id else None


def cart_owner() -> CartOwner:
    """The cart owner of a storefront request (every such request has a visitor id)."""
    owner = current_cart_owner()
    if owner is None:
        raise RuntimeError("no visitor id: the visitor hook did not run for this request")
    return owner


def catalogue_viewer() -> Viewer:
    """The catalogue as this request's shopper sees it (early access included)."""
    user_id = int(current_user.get_id()) if current_user.is_authenticated else None
    return viewer_for(db.session, user_id)
