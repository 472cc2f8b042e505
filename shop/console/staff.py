"""Console staff: create staff accounts and change roles (admins only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from shop.accounts.models import User
from shop.accounts.services import AccountError, normalise_email, register
from shop.console import audit
from shop.console.models import ROLES


class StaffError(ValueError):
    """A staff change that is not allowed; the message is safe to show."""


def staff_members(session: Session) -> list[User]:
    """Every account with a console role, admins first."""
    return list(
        session.scalars(select(User).where(User.role.in_(ROLES)).order_by(User.role, User.email))
    )


def grant_role(
    session: Session,
    actor: audit.Actor,
    email: str,
    role: str,
    *,
    name: str = "",
    password: str | None = None,
) -> User:
    """Give an account a console role, creating the account when a password is given."""
    if role not in ROLES:
        raise StaffError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        if not password:
            raise StaffError("There is no account with that e-mail; give a password to create one.")
        try:
            user = register(session, name or email.split("@")[0], email, password)
        except AccountError as exc:
            raise StaffError(str(exc)) from exc
    elif password:
        user.password_hash = generate_password_hash(password)
    before = user.role
    user.role = role
    session.flush()
    audit.record(session, actor, "staff.grant", f"user {user.id} {user.email}", before, role)
    return user


def revoke_role(session: Session, actor: audit.Actor, user_id: int) -> User:
    """Take an account's console role away; the last admin cannot be removed."""
    user = session.get(User, user_id)
    if user is None or user.role is None:
        raise StaffError("That account is not on the staff list.")
    if user.id == actor.id:
        raise StaffError("You cannot remove your own console access.")
    if user.role == "admin":
        admins = session.scalars(select(User.id).where(User.role == "admin")).all()
        if len(admins) <= 1:
            raise StaffError("The last admin cannot be removed.")
    before = user.role
    user.role = None
    session.flush()
    audit.record(session, actor, "staff.revoke", f"user {user.id} {user.email}", before, None)
    return user


DEMO_STAFF_PASSWORD = "demo-staff-2026"
DEMO_STAFF = (
    ("admin@demo.shop", "admin", "Demo Admin", "console admin: staff, tiers, everything"),
    ("merchandiser@demo.shop", "merchandiser", "Demo Merchandiser", "console merchandiser"),
)


def create_demo_staff(session: Session) -> list[tuple[str, str, str]]:
    """Create the demo admin and merchandiser (idempotent); return (email, password, what)."""
    created = []
    for email, role, name, what in DEMO_STAFF:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = register(session, name, email, DEMO_STAFF_PASSWORD)
        if user.role != role:
            grant_role(session, audit.CLI_ACTOR, email, role)
        created.append((email, DEMO_STAFF_PASSWORD, what))
    return created
