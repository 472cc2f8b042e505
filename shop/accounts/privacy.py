"""Privacy self-service: the personalization switch (with a consent record), "Download my
data" (everything held about an account as JSON) and "Delete my account" (anonymization:
orders stay for accounting, without personal data)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from shop.accounts import notices
from shop.accounts.models import AccountToken, Address, ChangeNote, ConsentRecord, SignIn, User
from shop.accounts.profile import confirm_change
from shop.accounts.security import verify_password
from shop.accounts.services import AccountError
from shop.cart.models import Cart, CartItem
from shop.catalog.models import Category, GuestStockAlert, Product, StockAlert
from shop.console import audit
from shop.db import Transaction, utcnow
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from shop.mail.outbox import forgotten_values
from shop.orders import states
from shop.orders.fulfilment import cancel_unpaid_order
from shop.orders.models import Order, OrderLine, OrderStatusChange
from shop.payments import cards
from shop.payments.gateway import GatewayError, PaymentGateway
from shop.payments.models import PaymentAttempt, Refund, SavedCard
from shop.recommendation_models import Impression
from shop.returns import rules as return_rules
from shop.returns.models import ReturnRequest
from shop.tracking.models import Event
from shop.tracking.services import anonymous_visitor_id

PERSONALIZATION = "personalization"
DELETED_DOMAIN = "deleted.invalid"  # RFC 2606: can never be delivered
NOT_SENT = "Not sent: the account was deleted."
ADJUSTMENT_NOTE_REMOVED = "Note removed: the account was deleted."
FORMAT_VERSION = 1


class PaymentProviderUnavailable(AccountError):
    """Saved cards could not be removed at the payment provider; nothing was deleted."""


# ---------------------------------------------------------------------------- consent


def set_personalization(
    session: Session, user: User | None, visitor_id: str | None, enabled: bool, source: str
) -> ConsentRecord:
    """Switch tracking-based personalization for an account or a visitor; keep a record."""
    if user is not None:
        user.tracking_enabled = enabled
    record = ConsentRecord(
        user_id=user.id if user is not None else None,
        visitor_id=visitor_id,
        kind=PERSONALIZATION,
        granted=enabled,
        detail=source[:200],
    )
    session.add(record)
    session.flush()
    return record


def switch_personalization(
    session: Session, user: User | None, visitor_id: str | None, enabled: bool, base_url: str
) -> None:
    """The switch on the account and privacy pages: record it and, when an account's
    setting changes, confirm it by e-mail."""
    changed = user is not None and user.tracking_enabled != enabled
    set_personalization(session, user, visitor_id, enabled, "account" if user else "visitor")
    if user is not None and changed and user.email:
        summary = (
            "Personalization is now on: we record what you browse to recommend products."
            if enabled
            else "Personalization is now off: we no longer record what you browse."
        )
        confirm_change(session, user, summary, base_url)


def personalization_refused(session: Session, user_id: int | None, visitor_id: str | None) -> bool:
    """True when the account, or the visitor's latest choice, switched personalization off.

    For code that stores events outside a request (the purchase events of a paid order):
    inside a request `g.tracking_on` already says this.
    """
    if user_id is not None:
        enabled = session.scalar(select(User.tracking_enabled).where(User.id == user_id))
        if enabled is False:
            return True
    if visitor_id:
        latest = session.scalar(
            select(ConsentRecord.granted)
            .where(ConsentRecord.visitor_id == visitor_id, ConsentRecord.kind == PERSONALIZATION)
            .order_by(ConsentRecord.id.desc())
            .limit(1)
        )
        if latest is False:
            return True
    return False


# ----------------------------------------------------------------------------- export


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(objects: Iterable[Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{name: _iso(getattr(obj, name)) for name in fields} for obj in objects]


def _loyalty(session: Session, user_id: int) -> dict[str, Any]:
    # Read the loyalty tables directly; the programme may not be running or may be empty.
    from loyalty.models import (
        CommunicationPreference,
        FavouriteCategory,
        Membership,
        OwedPoints,
        PointsEntry,
        Tier,
        TierChange,
    )

    tiers = {tier.id: tier.name for tier in session.scalars(select(Tier))}
    membership = session.scalar(select(Membership).where(Membership.user_id == user_id))
    section: dict[str, Any] = {
        "membership": None,
        "points_ledger": [],
        "tier_history": [],
        "communication_preferences": _rows(
            session.scalars(
                select(CommunicationPreference)
                .where(CommunicationPreference.user_id == user_id)
                .order_by(CommunicationPreference.topic)
            ),
            ("topic", "status", "requested_at", "confirmed_at", "updated_at"),
        ),
        "favourite_categories": [
            {"id": category_id, "name": name}
            for category_id, name in session.execute(
                select(Category.id, Category.name)
                .join(FavouriteCategory, FavouriteCategory.category_id == Category.id)
                .where(FavouriteCategory.user_id == user_id)
                .order_by(Category.name)
            )
        ],
    }
    if membership is None:
        return section
    section["membership"] = {
        "number": membership.number,
        "tier": tiers.get(membership.tier_id),
        "status": membership.status,
        "points_balance": membership.points_balance,
        "terms_version": membership.terms_version,
        "joined_at": _iso(membership.joined_at),
        "tier_since": _iso(membership.tier_since),
        "below_tier_since": _iso(membership.below_tier_since),
    }
    section["points_ledger"] = _rows(
        session.scalars(
            select(PointsEntry)
            .where(PointsEntry.membership_id == membership.id)
            .order_by(PointsEntry.id)
        ),
        ("points", "reason", "reference", "description", "expires_at", "created_at"),
    )
    section["points_owed_to_refunds"] = _rows(
        session.scalars(
            select(OwedPoints)
            .where(OwedPoints.membership_id == membership.id, OwedPoints.points > 0)
            .order_by(OwedPoints.id)
        ),
        ("points", "order_number", "created_at"),
    )
    section["tier_history"] = [
        {
            "from": tiers.get(change.from_tier_id) if change.from_tier_id else None,
            "to": tiers.get(change.to_tier_id),
            "reason": change.reason,
            "created_at": _iso(change.created_at),
        }
        for change in session.scalars(
            select(TierChange)
            .where(TierChange.membership_id == membership.id)
            .order_by(TierChange.id)
        )
    ]
    return section


def _per_order(session: Session, model: Any, user_id: int) -> dict[int, list[Any]]:
    """Rows of a per-order table (lines, status changes, payments, refunds), by order."""
    grouped: dict[int, list[Any]] = {}
    for row in session.scalars(
        select(model)
        .join(Order, Order.id == model.order_id)
        .where(Order.user_id == user_id)
        .order_by(model.id)
    ):
        grouped.setdefault(row.order_id, []).append(row)
    return grouped


def _orders(session: Session, user_id: int) -> list[dict[str, Any]]:
    orders = list(
        session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.placed_at))
    )
    lines = _per_order(session, OrderLine, user_id)
    fields = (
        "number",
        "kind",
        "status",
        "placed_at",
        "email",
        "ship_name",
        "ship_line1",
        "ship_line2",
        "ship_city",
        "ship_postcode",
        "country",
        "phone",
        "shipping_method",
        "currency",
        "subtotal_pence",
        "shipping_pence",
        "discount_pence",
        "promo_code",
        "promo_discount_pence",
        "tier_discount_pence",
        "tier_discount_label",
        "points_discount_pence",
        "points_redeemed",
        "total_pence",
        "refunded_pence",
        "source",
        "campaign",
    )
    line_fields = ("sku", "name", "quantity", "unit_price_pence", "line_total_pence", "rec_id")
    refunds = _per_order(session, Refund, user_id)
    refund_fields = ("amount_pence", "currency", "status", "reason", "restock", "created_at")
    timeline = _per_order(session, OrderStatusChange, user_id)
    timeline_fields = ("from_status", "to_status", "note", "staff_note", "created_at")
    payments = _per_order(session, PaymentAttempt, user_id)
    payment_fields = ("attempt", "status", "amount_pence", "currency", "error", "created_at")
    returns = _per_order(session, ReturnRequest, user_id)
    exported = []
    for order in orders:
        row = {name: _iso(getattr(order, name)) for name in fields}
        row["lines"] = _rows(lines.get(order.id, []), line_fields)
        row["status_history"] = _rows(timeline.get(order.id, []), timeline_fields)
        row["payment_attempts"] = _rows(payments.get(order.id, []), payment_fields)
        row["refunds"] = _rows(refunds.get(order.id, []), refund_fields)
        row["returns"] = [_return_row(ret) for ret in returns.get(order.id, [])]
        exported.append(row)
    return exported


RETURN_FIELDS = (
    "number",
    "status",
    "reason",
    "comment",
    "expected_pence",
    "refunded_pence",
    "decision_note",
    "created_at",
    "closed_at",
)


def _return_row(ret: ReturnRequest) -> dict[str, Any]:
    row = {name: _iso(getattr(ret, name)) for name in RETURN_FIELDS}
    row["items"] = [{"sku": line.order_line.sku, "quantity": line.quantity} for line in ret.lines]
    return row


def export_data(session: Session, user_id: int) -> dict[str, Any]:
    """Everything held about the account, as JSON-ready data."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("Unknown account.")
    cart_items = session.execute(
        select(Product.id, Product.name, CartItem.quantity)
        .join(CartItem, CartItem.product_id == Product.id)
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.user_id == user_id)
        .order_by(CartItem.id)
    )
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": _iso(utcnow()),
        "profile": {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "phone": user.phone,
            "country": user.country,
            "customer_number": user.external_ref,
            "created_at": _iso(user.created_at),
            "personalization": user.tracking_enabled,
        },
        "addresses": _rows(
            session.scalars(select(Address).where(Address.user_id == user_id).order_by(Address.id)),
            (
                "name",
                "line1",
                "line2",
                "city",
                "postcode",
                "country",
                "phone",
                "is_default",
                "created_at",
            ),
        ),
        "sign_ins": _rows(
            session.scalars(select(SignIn).where(SignIn.user_id == user_id).order_by(SignIn.id)),
            ("browser", "created_at", "last_seen_at", "ended_at"),
        ),
        "saved_cards": _rows(
            cards.saved_cards(session, user_id),
            ("brand", "last4", "exp_month", "exp_year", "created_at"),
        ),
        "account_links": _rows(
            session.scalars(
                select(AccountToken)
                .where(AccountToken.user_id == user_id)
                .order_by(AccountToken.id)
            ),
            ("purpose", "new_email", "created_at", "expires_at", "used_at"),
        ),
        "cart": [
            {"product_id": pid, "name": name, "quantity": qty} for pid, name, qty in cart_items
        ],
        "stock_alerts": [
            {"product_id": pid, "name": name, "created_at": _iso(since)}
            for pid, name, since in session.execute(
                select(Product.id, Product.name, StockAlert.created_at)
                .join(StockAlert, StockAlert.product_id == Product.id)
                .where(StockAlert.user_id == user_id)
                .order_by(StockAlert.id)
            )
        ],
        "stock_alerts_by_email": _guest_alerts(session, user),
        "orders": _orders(session, user_id),
        "events": _rows(
            session.scalars(select(Event).where(Event.user_id == user_id).order_by(Event.id)),
            (
                "kind",
                "created_at",
                "product_id",
                "category_id",
                "order_id",
                "query",
                "quantity",
                "campaign",
                "rec_id",
                "result_count",
            ),
        ),
        "recommendations_shown": _rows(
            session.scalars(
                select(Impression).where(Impression.user_id == user_id).order_by(Impression.id)
            ),
            ("placement", "strategy", "product_ids", "created_at"),
        ),
        "loyalty": _loyalty(session, user_id),
        "consents": _rows(
            session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.user_id == user_id)
                .order_by(ConsentRecord.id)
            ),
            ("kind", "granted", "detail", "created_at"),
        ),
        "emails": _rows(
            session.scalars(
                select(OutboxEmail).where(OutboxEmail.user_id == user_id).order_by(OutboxEmail.id)
            ),
            ("kind", "to_address", "subject", "status", "created_at", "sent_at"),
        ),
        "campaigns_sent": _campaigns_sent(session, user_id),
    }


def _own_guest_alerts(user: User) -> ColumnElement[bool] | None:
    """SQL: the alerts asked for, signed out, with the account's address, once the account
    has proved it reads mail there (so registering an address shows nobody its alerts)."""
    if not user.email or user.email_confirmed_at is None:
        return None
    return GuestStockAlert.email == user.email


def _guest_alerts(session: Session, user: User) -> list[dict[str, Any]]:
    mine = _own_guest_alerts(user)
    if mine is None:
        return []
    rows = session.execute(
        select(Product.id, Product.name, GuestStockAlert.created_at, GuestStockAlert.confirmed_at)
        .join(GuestStockAlert, GuestStockAlert.product_id == Product.id)
        .where(mine)
        .order_by(GuestStockAlert.id)
    )
    return [
        {
            "product_id": pid,
            "name": name,
            "created_at": _iso(since),
            "confirmed_at": _iso(confirmed),
        }
        for pid, name, since, confirmed in rows
    ]


def _campaigns_sent(session: Session, user_id: int) -> list[dict[str, Any]]:
    from loyalty.models import Campaign, CampaignSend

    query = (
        select(Campaign.key, Campaign.kind, CampaignSend.created_at)
        .join(CampaignSend, CampaignSend.campaign_id == Campaign.id)
        .where(CampaignSend.user_id == user_id)
        .order_by(CampaignSend.id)
    )
    return [
        {"campaign": key, "kind": kind, "created_at": _iso(created_at)}
        for key, kind, created_at in session.execute(query)
    ]


def download_data(
    read: Session, transaction: Transaction, user_id: int, base_url: str
) -> dict[str, Any]:
    """Export the account's data for a download, and tell the account's address: a download
    nobody asked for means someone else is signed in.

    The data is read in `read` (a GET's deferred transaction) and the e-mail is queued in a
    transaction of its own: on SQLite a reading transaction cannot start writing once
    another connection has written since it began."""
    data = export_data(read, user_id)
    with transaction() as session:
        user = session.get(User, user_id)
        if user is not None and user.email:
            summary = "A copy of your data was downloaded from your account."
            heading = "A copy of your account data was downloaded"
            confirm_change(session, user, summary, base_url, heading=heading)
    return data


# ----------------------------------------------------------------------------- delete


def deleted_email(user_id: int) -> str:
    """The placeholder address of a deleted account: unique and never deliverable."""
    return f"deleted-{user_id}@{DELETED_DOMAIN}"


class DeletionRefused(AccountError):
    """The account cannot be deleted yet; the message says why and what to do."""


class LastAdminError(DeletionRefused):
    """The shop's only admin tried to delete their account."""


class OrdersToDeliver(DeletionRefused):
    """Paid orders not shipped yet still need the delivery address deletion would erase."""


class ReturnsToRefund(DeletionRefused):
    """Returns still on their way back: their refund and its e-mail need the account."""


def _open_returns(session: Session, user_id: int) -> list[str]:
    """Numbers of the account's returns still waiting for their parcel."""
    return list(
        session.scalars(
            select(ReturnRequest.number)
            .join(Order, Order.id == ReturnRequest.order_id)
            .where(Order.user_id == user_id, ReturnRequest.status == return_rules.REQUESTED)
            .order_by(ReturnRequest.id)
        )
    )


def _to_deliver(session: Session, user_id: int) -> list[str]:
    """Numbers of the account's paid orders that have not been shipped yet."""
    orders = session.scalars(
        select(Order).where(
            Order.user_id == user_id,
            Order.kind == "sale",
            Order.status.in_((states.PAID, states.PARTIALLY_REFUNDED)),
        )
    ).all()
    return [order.number for order in orders if states.can_ship(order)]


def deletion_refusal(session: Session, user: User) -> DeletionRefused | None:
    """Why the account cannot be deleted now (the shop's only admin, or paid orders still
    to ship), or None: shown before the customer types their password, and checked again."""
    if user.role == "admin":
        admins = session.scalar(
            select(func.count()).where(User.role == "admin", User.deleted_at.is_(None))
        )
        if (admins or 0) <= 1:
            return LastAdminError(
                "You are the shop's only admin, so this account can't be deleted. "
                "Make someone else an admin in the console first."
            )
    waiting = _to_deliver(session, user.id)
    if waiting:
        return OrdersToDeliver(
            f"Your order{'s' if len(waiting) > 1 else ''} {', '.join(waiting)} "
            f"{'are' if len(waiting) > 1 else 'is'} paid and not shipped yet, and we need "
            "the delivery address to send it. You can delete your account once it has "
            "shipped, or cancel it first on its order page (we refund all of it)."
        )
    open_returns = _open_returns(session, user.id)
    if open_returns:
        many = len(open_returns) > 1
        return ReturnsToRefund(
            f"Your return{'s' if many else ''} {', '.join(open_returns)} "
            f"{'are' if many else 'is'} on {'their' if many else 'its'} way back to us, and "
            "we need your account to refund and tell you. You can delete your account once "
            f"{'they have' if many else 'it has'} been refunded, or withdraw "
            f"{'them' if many else 'it'} first on the order page."
        )
    return None


def delete_account(
    transaction: Transaction,
    gateway: Callable[[], PaymentGateway],
    user_id: int,
    password: str,
) -> list[int]:
    """Check the password, remove saved cards and the customer record at the provider, then
    cancel the account's unpaid orders (their stock goes back) and anonymize it. Returns
    the cancelled orders' ids: their open payments are to be cancelled once this commits.

    Raise WrongPassword (nothing changes) or PaymentProviderUnavailable (only what was already
    removed at the provider is gone).
    """
    with transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.deleted_at is not None:
            raise AccountError("Unknown account.")
        verify_password(user, password)
        refused = deletion_refusal(session, user)
        if refused is not None:
            raise refused
        card_ids = [card.id for card in cards.saved_cards(session, user_id)]
        customer = user.stripe_customer_id
    if card_ids or customer:
        try:
            provider = gateway()
            for card_id in card_ids:
                cards.remove_card(transaction, provider, user_id, card_id)
            if customer:
                provider.delete_customer(customer)
        except (GatewayError, RuntimeError) as exc:
            raise PaymentProviderUnavailable(
                "We could not remove your saved cards and payment details at our payment "
                "provider, so your account was not deleted. Please try again later."
            ) from exc
    with transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        unpaid = session.scalars(
            select(Order)
            .where(Order.user_id == user_id, Order.status == states.PENDING_PAYMENT)
            .with_for_update()
        ).all()
        for order in unpaid:
            cancel_unpaid_order(session, order, "the customer deleted their account")
        anonymize(session, user)
        return [order.id for order in unpaid]


def _forget_emails(session: Session, user_id: int, now: datetime) -> None:
    """Sent, failed and withdrawn e-mails lose their address and text; pending ones are
    withdrawn (never sent, and no failure for staff to look into); one being sent right
    now is forgotten once the sender records it."""
    mine = OutboxEmail.user_id == user_id
    done = OutboxEmail.status.in_(("sent", "failed", "withdrawn"))
    session.execute(
        update(OutboxEmail)
        .where(mine, done, OutboxEmail.forgotten_at.is_(None))
        .values(**forgotten_values(now))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxEmail)
        .where(mine, OutboxEmail.status == "pending")
        .values({**forgotten_values(now), "status": "withdrawn", "last_error": NOT_SENT})
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxEmail)
        .where(mine, OutboxEmail.status == "sending")
        .values(forget_after_send=True)
        .execution_options(synchronize_session=False)
    )


def anonymize(session: Session, user: User, now: datetime | None = None) -> None:
    """Remove the account's personal data in the caller's transaction; orders stay."""
    from loyalty.models import CommunicationPreference, FavouriteCategory, Membership, PointsEntry
    from loyalty.owed_points import points_to_come

    now = now or utcnow()
    uid = user.id
    goodbye_to = user.email or ""
    if goodbye_to.endswith("@" + DELETED_DOMAIN):
        goodbye_to = ""
    goodbye_name = user.name
    own_guest_alerts = _own_guest_alerts(user)
    if own_guest_alerts is not None:
        session.execute(delete(GuestStockAlert).where(own_guest_alerts))
    if user.role:  # a staff member deleting their account loses console access: audited
        target = f"user {uid} {user.email}"
        audit.record(session, audit.Actor.of(user), "staff.revoke", target, user.role, None)
    user.name = ""
    user.email = deleted_email(uid)
    user.phone = ""
    user.password_hash = None
    user.country = None
    user.stripe_customer_id = None
    user.tracking_enabled = False
    user.role = None
    user.deleted_at = now
    session.execute(delete(Address).where(Address.user_id == uid))
    session.execute(delete(ChangeNote).where(ChangeNote.user_id == uid))
    session.execute(delete(AccountToken).where(AccountToken.user_id == uid))
    session.execute(delete(SignIn).where(SignIn.user_id == uid))
    session.execute(delete(SavedCard).where(SavedCard.user_id == uid))
    session.execute(delete(StockAlert).where(StockAlert.user_id == uid))
    session.execute(delete(Cart).where(Cart.user_id == uid))
    own_orders = select(Order.id).where(Order.user_id == uid)
    session.execute(
        update(ReturnRequest)
        .where(ReturnRequest.order_id.in_(own_orders))
        .values(comment="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Order)
        .where(Order.user_id == uid)
        .values(
            email=None,
            ship_name=None,
            ship_line1=None,
            ship_line2=None,
            ship_city=None,
            ship_postcode=None,
            phone=None,
            visitor_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    # Events stay for popularity counts, but neither the account nor the browser's visitor
    # id can be found from them any more.
    anonymous = anonymous_visitor_id()
    for model in (Event, Impression):
        session.execute(
            update(model)
            .where(model.user_id == uid)
            .values(user_id=None, visitor_id=anonymous)
            .execution_options(synchronize_session=False)
        )
    _forget_emails(session, uid, now)
    membership = session.scalar(
        select(Membership).where(Membership.user_id == uid, Membership.status == "active")
    )
    if goodbye_to:
        notices.send(
            session,
            "account_deleted",
            to=goodbye_to,
            user_id=uid,
            forget_after_send=True,
            name=goodbye_name,
            was_member=membership is not None,
            points_lost=points_to_come(session, membership) if membership is not None else 0,
        )
    for event in session.scalars(
        select(DomainEvent).where(DomainEvent.payload["user_id"].as_integer() == uid)
    ):
        if event.payload.get("email"):
            event.payload = {**event.payload, "email": None}
    session.execute(
        update(Membership)
        .where(Membership.user_id == uid)
        .values(status="closed")
        .execution_options(synchronize_session=False)
    )
    # The ledger's amounts stay; only staff's free-text notes could name the person.
    session.execute(
        update(PointsEntry)
        .where(
            PointsEntry.reason == "adjust",
            PointsEntry.membership_id.in_(select(Membership.id).where(Membership.user_id == uid)),
        )
        .values(description=ADJUSTMENT_NOTE_REMOVED)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(CommunicationPreference)
        .where(CommunicationPreference.user_id == uid)
        .values(status="off", token_hash=None, replaced_token_hash=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(FavouriteCategory).where(FavouriteCategory.user_id == uid))
    session.add(
        ConsentRecord(user_id=uid, kind=PERSONALIZATION, granted=False, detail="account deleted")
    )
    notices.profile_changed(session, uid, "deleted", ["account"])
    session.flush()
