"""Members' saved cards: a Stripe Customer with attached cards; display details kept here."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.accounts.profile import confirm_change
from shop.db import Transaction
from shop.payments.gateway import (
    CardDetails,
    GatewayError,
    GatewayNotFound,
    GatewayUnavailable,
    Intent,
    PaymentGateway,
)
from shop.payments.models import SavedCard
from shop.payments.services import PaymentError

log = logging.getLogger(__name__)


def saved_cards(session: Session, user_id: int) -> list[SavedCard]:
    """A member's saved cards, newest first."""
    return list(
        session.scalars(
            select(SavedCard).where(SavedCard.user_id == user_id).order_by(SavedCard.id.desc())
        )
    )


def ensure_customer(transaction: Transaction, gateway: PaymentGateway, user_id: int) -> str:
    """The member's Stripe customer id, created on first use."""
    with transaction() as session:
        user = session.get(User, user_id)
        if user is None:
            raise PaymentError("Unknown account.")
        if user.stripe_customer_id:
            return user.stripe_customer_id
        email, name = user.email or "", user.name
    customer = gateway.create_customer(email=email, name=name)
    with transaction() as session:
        user = session.get(User, user_id)
        assert user is not None
        if user.stripe_customer_id:  # a concurrent request won; use its customer
            return user.stripe_customer_id
        user.stripe_customer_id = customer
        now = (user.email or "", user.name)
    if now != (email, name):
        # Changed while the customer was being made: that change's `profile_changed`
        # found no customer id to update, so update the new record here.
        try:
            gateway.update_customer(customer, email=now[0], name=now[1])
        except GatewayError:  # the card can still be saved; the next change updates it
            log.exception("could not update the new customer %s of user %d", customer, user_id)
    return customer


def same_card(saved: SavedCard, card: CardDetails) -> bool:
    """True when a saved card and a gateway card are the same real card: by the gateway's
    fingerprint when both have one, otherwise by brand, last four digits and expiry."""
    if saved.fingerprint and card.fingerprint:
        return saved.fingerprint == card.fingerprint
    return (saved.brand, saved.last4, saved.exp_month, saved.exp_year) == (
        card.brand,
        card.last4,
        card.exp_month,
        card.exp_year,
    )


def save_card_after_payment(
    transaction: Transaction,
    gateway: PaymentGateway,
    user_id: int,
    intent: Intent,
    base_url: str,
) -> SavedCard | None:
    """Keep the card that paid `intent` for next time; a failure here never fails the order.

    A member keeps one saved card per real card (`same_card`): saving a card they have
    already saved points their entry at the new payment method (the newest card details,
    such as a new expiry, win) and detaches the older payment methods at the gateway, as
    removing a card does.
    """
    if not intent.payment_method:
        return None
    try:
        customer = ensure_customer(transaction, gateway, user_id)
        card = gateway.card(intent.payment_method)
        if card.customer is None:
            gateway.attach(card.payment_method, customer)
    except GatewayError:
        log.exception("could not save the card of intent %s", intent.id)
        return None
    try:
        saved, replaced = _keep_card(transaction, user_id, card, base_url)
    except IntegrityError:  # the constraint's backstop; the member lock makes this rare
        log.exception("could not save the card of intent %s", intent.id)
        return None
    for payment_method in replaced:
        try:
            gateway.detach(payment_method)
        except GatewayError:
            log.exception("could not detach the replaced card %s", payment_method)
    return saved


def _keep_card(
    transaction: Transaction, user_id: int, card: CardDetails, base_url: str
) -> tuple[SavedCard, list[str]]:
    """Store `card` as the member's entry for that real card; the payment methods replaced.
    The member is told by e-mail when a card is new to their account."""
    with transaction() as session:
        # Two payments saving the same card at once must not both see "not saved yet":
        # the member's row is the lock they queue on.
        user = session.get(User, user_id, with_for_update=True)
        existing = session.scalar(
            select(SavedCard).where(SavedCard.payment_method_id == card.payment_method)
        )
        if existing is not None:
            return existing, []
        same = [saved for saved in saved_cards(session, user_id) if same_card(saved, card)]
        replaced = [saved.payment_method_id for saved in same]
        for duplicate in same[1:]:
            session.delete(duplicate)
        session.flush()
        saved = same[0] if same else SavedCard(user_id=user_id)
        if not same and user is not None:
            summary = f"{_card_text(card)} was saved to your account."
            confirm_change(session, user, summary, base_url)
        saved.payment_method_id = card.payment_method
        saved.brand = card.brand
        saved.last4 = card.last4
        saved.exp_month = card.exp_month
        saved.exp_year = card.exp_year
        saved.fingerprint = card.fingerprint
        session.add(saved)
    return saved, replaced


def remove_card(
    transaction: Transaction,
    gateway: PaymentGateway,
    user_id: int,
    card_id: int,
    base_url: str | None = None,
) -> bool:
    """Detach a member's card at Stripe and forget it; False when it is not theirs.

    With `base_url` the member is told by e-mail (not when the account itself is being
    deleted: its goodbye e-mail says it all).
    """
    with transaction() as session:
        card = session.get(SavedCard, card_id)
        if card is None or card.user_id != user_id:
            return False
        payment_method = card.payment_method_id
    _detach(gateway, payment_method)
    with transaction() as session:
        card = session.get(SavedCard, card_id)
        user = session.get(User, user_id)
        if card is not None:
            session.delete(card)
            if user is not None and base_url is not None:
                summary = f"{_card_text(card)} was removed from your account."
                confirm_change(session, user, summary, base_url)
    return True


def _detach(gateway: PaymentGateway, payment_method: str) -> None:
    """Detach a card at the gateway; a card no longer there, or no longer attached to any
    customer (removed from the gateway's dashboard, say), is as good as detached, so the
    member can still remove it here (and delete their account)."""
    try:
        gateway.detach(payment_method)
    except GatewayNotFound:
        log.info("saved card %s is no longer at the gateway", payment_method)
    except GatewayUnavailable:
        raise
    except GatewayError:
        try:
            attached = gateway.card(payment_method).customer is not None
        except GatewayNotFound:
            attached = False
        if attached:
            raise
        log.info("saved card %s was already detached at the gateway", payment_method)


def _card_text(card: SavedCard | CardDetails) -> str:
    brand = (card.brand or "card").capitalize()
    return f"A {brand} card ending {card.last4}"
