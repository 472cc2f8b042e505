"""Imports every model so that the metadata is complete (Alembic and tests use this)."""

from loyalty.models import (
    Campaign,
    CampaignSend,
    CommunicationPreference,
    FavouriteCategory,
    LaunchAnnouncement,
    LoyaltyNotice,
    LoyaltySettings,
    Membership,
    PointsEntry,
    Tier,
    TierChange,
)
from shop.accounts.models import AccountToken, Address, ConsentRecord, SignIn, User
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Category, Product, StockAlert
from shop.console.models import AuditEntry, TrainingJob
from shop.db import Base
from shop.events.models import DomainEvent
from shop.importer.models import ImportRun
from shop.mail.models import OutboxEmail
from shop.merchandising.models import Experiment, MerchRevision
from shop.orders.models import Order, OrderLine, OrderStatusChange
from shop.payments.models import PaymentAttempt, Refund, SavedCard, WebhookEvent
from shop.promotions.models import PromoCode
from shop.recommendation_models import Impression
from shop.returns.models import ReturnLine, ReturnRequest
from shop.tracking.models import Event

__all__ = [
    "AccountToken",
    "Address",
    "AuditEntry",
    "Base",
    "Campaign",
    "CampaignSend",
    "Cart",
    "CartItem",
    "Category",
    "CommunicationPreference",
    "ConsentRecord",
    "DomainEvent",
    "Event",
    "Experiment",
    "FavouriteCategory",
    "ImportRun",
    "Impression",
    "LaunchAnnouncement",
    "LoyaltyNotice",
    "LoyaltySettings",
    "Membership",
    "MerchRevision",
    "Order",
    "OrderLine",
    "OrderStatusChange",
    "OutboxEmail",
    "PaymentAttempt",
    "PointsEntry",
    "Product",
    "PromoCode",
    "Refund",
    "ReturnLine",
    "ReturnRequest",
    "SavedCard",
    "SignIn",
    "StockAlert",
    "Tier",
    "TierChange",
    "TrainingJob",
    "User",
    "WebhookEvent",
]
