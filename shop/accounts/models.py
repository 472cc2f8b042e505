"""Customer accounts. Imported Online Retail customers have no e-mail or password."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow


class User(UserMixin, Base):
    """A customer; `can_login` is false for customers imported from order history."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # When the owner showed they read mail at `email` (a confirmation link opened while
    # signed in, or a password reset); None until then and after the address changes.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120), default="")
    external_ref: Mapped[str | None] = mapped_column(String(40), unique=True)
    country: Mapped[str | None] = mapped_column(String(60))
    tracking_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Raised by "sign out everywhere else": sessions pinned to an older one end.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # text("''"), not "": Alembic cannot compare an empty default string on SQLite.
    phone: Mapped[str] = mapped_column(String(40), default="", server_default=text("''"))
    # Set when the account was deleted: personal data is gone, orders stay for accounting.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    # None for shoppers; "admin" or "merchandiser" for console staff.
    role: Mapped[str | None] = mapped_column(String(20))

    @property
    def is_staff(self) -> bool:
        """Staff may use the console."""
        return self.role in ("admin", "merchandiser")

    @property
    def can_login(self) -> bool:
        """Only accounts with an e-mail and a password can sign in."""
        return bool(self.email and self.password_hash)

    @property
    def is_active(self) -> bool:  # flask-login
        return self.can_login


class Address(Base):
    """A saved shipping address in a customer's address book."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(40), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def one_line(self) -> str:
        """The address on one line, for pickers."""
        parts = [self.name, self.line1, self.line2, self.city, self.postcode, self.country]
        return ", ".join(p for p in parts if p)


class AccountToken(Base):
    """A single-use, time-limited link token (password reset, e-mail change); only its hash
    is stored."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(String(254))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ConsentRecord(Base):
    """A consent given or withdrawn (programme terms, marketing topic, personalization)."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    visitor_id: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    granted: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SignIn(Base):
    """One browser's signed-in session, known to the server: signing out ends it here, so a
    copy of that browser's cookies taken before stops working too. Only the key's hash is
    stored."""

    __tablename__ = "sign_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The last request made with it, written at most hourly (None: none since it was made).
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class ChangeNote(Base):
    """One account change told in a waiting "changes in the last hour" e-mail, kept so the
    e-mail can be written again with every change it holds when another one joins it."""

    __tablename__ = "account_change_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_emails.id", ondelete="CASCADE"), index=True
    )
    summary: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
