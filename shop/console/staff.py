"""Console staff: create staff accounts and change roles (admins only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.accounts.services import AccountError, email_confirmed, normalise_email, register
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
    confirmed_only: bool = False,
) -> User:
    """Give an account a console role, creating the account when a password is given (an
    existing account's password is never changed here).

    With `confirmed_only` (the console's form), an existing account gets access, or admin,
    only once its address is confirmed: registering with an address proves nothing, so an
    account someone registered with a future colleague's address would otherwise get the role.
    """
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
    else:
        if password:
            raise StaffError(
                "That account already exists and keeps its own password; "
                "leave the password empty to change only its role."
            )
        if user.role != role:
            _check_may_lose_role(session, actor, user, "change your own role")
        if confirmed_only and user.email_confirmed_at is None and _raises_access(user.role, role):
            raise StaffError(
                "That account's e-mail address is not confirmed, so anyone could have "
                "registered it. Ask its owner to confirm it from their account page first."
            )
    before = user.role
    user.role = role
    session.flush()
    audit.record(session, actor, "staff.grant", f"user {user.id} {user.email}", before, role)
    return user


def _raises_access(before: str | None, role: str) -> bool:
    """Whether going from role `before` to `role` gives the account more than it had."""
    return before is None or (role == "admin" and before != "admin")


def _check_may_lose_role(session: Session, actor: audit.Actor, user: User, what: str) -> None:
    """Nobody changes their own role, and the last admin stays an admin."""
    if user.id == actor.id:
        raise StaffError(f"You cannot {what}.")
    if user.role == "admin":
        admins = session.scalars(select(User.id).where(User.role == "admin")).all()
        if len(admins) <= 1:
            raise StaffError("The last admin must stay an admin.")


def revoke_role(session: Session, actor: audit.Actor, user_id: int) -> User:
    """Take an account's console role away; the last admin cannot be removed."""
    user = session.get(User, user_id)
    if user is None or user.role is None:
        raise StaffError("That account is not on the staff list.")
    _check_may_lose_role(session, actor, user, "remove your own console access")
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
    """Create the demo admin and merchandiser, their addresses confirmed (idempotent);
    return (email, password, what)."""
    created = []
    for email, role, name, what in DEMO_STAFF:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = register(session, name, email, DEMO_STAFF_PASSWORD)
        if user.email_confirmed_at is None:  # the shop's own address: nobody to prove it to
            email_confirmed(session, user)
        if user.role != role:
            grant_role(session, audit.CLI_ACTOR, email, role)
        created.append((email, DEMO_STAFF_PASSWORD, what))
    return created
