"""Where delivery is priced to, on the cart page and during checkout."""

from __future__ import annotations

from flask import session
from sqlalchemy.orm import Session

from shop.accounts import profile
from shop.checkout.pricing import HOME_COUNTRY
from shop.checkout.services import ContactAddress

STATE = "checkout"  # the session key holding the checkout's progress


def entered_contact() -> ContactAddress | None:
    """The contact details and address entered at checkout in this browser, if any."""
    state = session.get(STATE)
    return ContactAddress.from_dict(state.get("contact") if isinstance(state, dict) else None)


def delivery_country(db_session: Session, user_id: int | None) -> str:
    """The country entered at checkout, else the member's first saved address's (the one
    checkout offers first), else the UK."""
    contact = entered_contact()
    if contact is not None and contact.country:
        return contact.country
    if user_id is not None:
        addresses = profile.addresses(db_session, user_id)
        if addresses and addresses[0].country:
            return addresses[0].country
    return HOME_COUNTRY
