"""Imports every model so that the metadata is complete (Alembic and tests use this)."""

from shop.accounts.models import User
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Category, Product
from shop.db import Base
from shop.importer.models import ImportRun
from shop.orders.models import Order, OrderLine
from shop.tracking.models import Event

__all__ = [
    "Base",
    "Cart",
    "CartItem",
    "Category",
    "Event",
    "ImportRun",
    "Order",
    "OrderLine",
    "Product",
    "User",
]
