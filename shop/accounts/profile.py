"""Profile self-service: name and phone, and the address book (one default at a time).

Every change records a `profile_changed` event in the same transaction and queues a short
confirmation e-mail. An address is always looked up
together with its owner, so one account can never read or change another's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shop.accounts import change_digest, notices
from shop.accounts.models import Address, User
from shop.mail import outbox

log = logging.getLogger(__name__)

# "Your account was changed" e-mails per account and hour. Each change is a form post (or a
# data download, a GET) away, and the address of an account is not proven when it is
# registered: uncapped, anyone could flood it. Changes past the cap are told together an
# hour later (`change_digest`).
CHANGE_NOTICES_PER_HOUR = 5


class AddressNotFound(LookupError):
    """No such address in this account's book (it may belong to someone else)."""


class DuplicateAddress(ValueError):
    """The address is already in the account's address book."""


@dataclass(frozen=True)
class AddressFields:
    """What a customer types for an address."""

    name: str
    line1: str
    city: str
    postcode: str
    country: str
    line2: str = ""
    phone: str = ""

    def cleaned(self) -> dict[str, str]:
        """The fields trimmed, ready for the model."""
        return {key: (value or "").strip() for key, value in self.__dict__.items()}


def confirm_change(
    session: Session, user: User, summary: str, base_url: str, *, heading: str | None = None
) -> None:
    """Queue the short "your account was changed" e-mail (when the account has an address),
    with `heading` as its subject and heading when given. Past `CHANGE_NOTICES_PER_HOUR` of
    them in the last hour, or while such changes wait to be told, the change joins one
    e-mail that goes out later (`change_digest`)."""
    if not user.email:
        return
    if change_digest.join_waiting(session, user, summary, base_url):
        return
    recent = outbox.recent_count(session, user.id, ("account_profile_changed",), timedelta(hours=1))
    if recent >= CHANGE_NOTICES_PER_HOUR:
        log.info("account %d: change told later, the hourly cap is reached", user.id)
        change_digest.start(session, user, summary, base_url)
        return
    notices.send(
        session,
        "account_profile_changed",
        to=user.email,
        user_id=user.id,
        subject=heading,
        name=user.name,
        summary=summary,
        heading=heading,
        account_url=f"{base_url}/account",
        reset_url=f"{base_url}/account/password/reset",
    )


def update_details(session: Session, user: User, name: str, phone: str, base_url: str) -> bool:
    """Change name and phone; return False (and send nothing) when nothing changed."""
    name, phone = name.strip(), phone.strip()
    changed = [
        field
        for field, old, new in (("name", user.name, name), ("phone", user.phone or "", phone))
        if old != new
    ]
    if not changed:
        return False
    user.name, user.phone = name, phone
    notices.profile_changed(session, user.id, "details", changed)
    confirm_change(session, user, "Your " + " and ".join(changed) + " changed.", base_url)
    session.flush()
    return True


def addresses(session: Session, user_id: int) -> list[Address]:
    """The account's address book, the default first."""
    return list(
        session.scalars(
            select(Address)
            .where(Address.user_id == user_id)
            .order_by(Address.is_default.desc(), Address.id.desc())
        )
    )


def address(session: Session, user_id: int, address_id: int) -> Address:
    """One address of this account; raise AddressNotFound for anyone else's."""
    found = session.scalar(
        select(Address).where(Address.id == address_id, Address.user_id == user_id)
    )
    if found is None:
        raise AddressNotFound("We couldn't find that address in your account.")
    return found


def _make_default(session: Session, user_id: int, address_id: int) -> None:
    session.execute(
        update(Address)
        .where(Address.user_id == user_id, Address.id != address_id, Address.is_default)
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    session.execute(
        update(Address)
        .where(Address.user_id == user_id, Address.id == address_id)
        .values(is_default=True)
        .execution_options(synchronize_session="fetch")
    )


def add_address(
    session: Session, user: User, fields: AddressFields, make_default: bool, base_url: str
) -> Address:
    """Add an address; the first one (or one asked for) becomes the default. The same
    address twice (a double click, a resent form) raises DuplicateAddress."""
    session.refresh(user, with_for_update=True)  # parallel posts of one form wait here
    cleaned = fields.cleaned()
    same = [getattr(Address, key) == value for key, value in cleaned.items()]
    if session.scalar(select(Address.id).where(Address.user_id == user.id, *same).limit(1)):
        raise DuplicateAddress("That address is already in your address book.")
    has_default = session.scalar(
        select(Address.id).where(Address.user_id == user.id, Address.is_default).limit(1)
    )
    added = Address(user_id=user.id, is_default=False, **cleaned)
    session.add(added)
    session.flush()
    summary = "An address was added to your address book."
    if make_default or has_default is None:
        _make_default(session, user.id, added.id)
        summary = f"{summary} It is now your default address: {added.one_line()}."
    notices.profile_changed(session, user.id, "address_added", ["addresses"])
    confirm_change(session, user, summary, base_url)
    session.flush()
    return added


def update_address(
    session: Session,
    user: User,
    address_id: int,
    fields: AddressFields,
    make_default: bool,
    base_url: str,
) -> bool:
    """Change one of the account's addresses; return False (and send nothing) when nothing
    changed. Raise DuplicateAddress when it would become a copy of another address."""
    found = address(session, user.id, address_id)
    cleaned = fields.cleaned()
    becomes_default = make_default and not found.is_default
    if all(getattr(found, key) == value for key, value in cleaned.items()):
        if not becomes_default:
            return False
    else:
        same = [getattr(Address, key) == value for key, value in cleaned.items()]
        copy = select(Address.id).where(Address.user_id == user.id, Address.id != found.id, *same)
        if session.scalar(copy.limit(1)):
            raise DuplicateAddress("That address is already in your address book.")
    for key, value in cleaned.items():
        setattr(found, key, value)
    session.flush()
    summary = "An address in your address book was changed."
    if becomes_default:
        _make_default(session, user.id, found.id)
        summary = f"{summary} It is now your default address: {found.one_line()}."
    notices.profile_changed(session, user.id, "address_changed", ["addresses"])
    confirm_change(session, user, summary, base_url)
    session.flush()
    return True


def delete_address(session: Session, user: User, address_id: int, base_url: str) -> None:
    """Remove one of the account's addresses; the newest other one becomes the default."""
    found = address(session, user.id, address_id)
    was_default = found.is_default
    session.delete(found)
    session.flush()
    summary = "An address was removed from your address book."
    if was_default:
        successor = session.scalar(
            select(Address).where(Address.user_id == user.id).order_by(Address.id.desc()).limit(1)
        )
        if successor is not None:
            _make_default(session, user.id, successor.id)
            summary = f"{summary} Your default address is now {successor.one_line()}."
    notices.profile_changed(session, user.id, "address_deleted", ["addresses"])
    confirm_change(session, user, summary, base_url)
    session.flush()


def set_default_address(session: Session, user: User, address_id: int, base_url: str) -> None:
    """Make one of the account's addresses the default."""
    found = address(session, user.id, address_id)
    if found.is_default:
        return
    _make_default(session, user.id, found.id)
    notices.profile_changed(session, user.id, "default_address", ["addresses"])
    confirm_change(session, user, "Your default address changed.", base_url)
    session.flush()
