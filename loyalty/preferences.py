"""Communication preferences: double opt-in for marketing topics, one-click unsubscribe
tokens, and favourite categories.

Order and account messages are transactional and always sent; only the marketing topics
below can be switched. Switching one on makes it "pending" and e-mails a single-use link;
nothing marketing is sent until that link is followed. Switching off is immediate.
Services take a session and plain values; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from loyalty.models import CommunicationPreference, FavouriteCategory
from shop.accounts.models import ConsentRecord, User
from shop.accounts.profile import confirm_change
from shop.catalog.models import Category
from shop.db import utcnow
from shop.mail import outbox
from shop.mail.outbox import enqueue_email

MARKETING_TOPICS = ("weekly_deals", "recommendations", "tier_news")
# The outbox kinds each topic's e-mails go out as.
TOPIC_MAIL_KINDS = {
    "weekly_deals": ("weekly_deals",),
    "recommendations": ("personal_picks",),
    "tier_news": ("tier_news", "early_access"),
}
# Sent only to loyalty members (the weekly deals, and news about their tier).
MEMBERS_ONLY_TOPICS = frozenset({"weekly_deals", "tier_news"})
TOPIC_LABELS = {
    "weekly_deals": "Weekly deals",
    "recommendations": "Personal recommendations",
    "tier_news": "Tier news and member offers",
}
TOPIC_DESCRIPTIONS = {
    "weekly_deals": "One e-mail a week with picks for you and your member perks.",
    "recommendations": (
        "Once a month at most, products picked for you from what you browse and buy"
        " (only while personalization is switched on)."
    ),
    "tier_news": (
        "News about your tier, new perks and member-only offers, and new products as their"
        " early access opens, if your tier has it."
    ),
}
# Shown on the page as always on; they are not marketing and cannot be switched off.
TRANSACTIONAL = (
    ("Orders", "Confirmations, dispatch and refund notices for your orders."),
    ("Account and security", "Password, e-mail address and membership changes."),
)
OPT_IN_VALID = timedelta(days=7)
# A second "send the link again" this soon after a link went out is a double click.
RESEND_AFTER = timedelta(minutes=1)
# Opt-in e-mails one account may have sent per hour (every topic ticked twice). An address
# is not proven when an account is registered with it, so without a cap ticking and
# unticking would send its owner an unlimited stream of e-mails.
OPT_IN_EMAILS_PER_HOUR = 6
UNSUBSCRIBE_SALT = "marketing-unsubscribe"
UNSUBSCRIBE_PATH = "/preferences/unsubscribe/"
CONFIRM_PATH = "/preferences/confirm/"


class PreferenceError(ValueError):
    """A preference change that cannot be made as asked."""


class LinkError(PreferenceError):
    """A confirmation link that is unknown (400), already used or expired (410)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MailLinks:
    """What links in marketing e-mails are built from: the shop's base URL and secret."""

    base_url: str
    secret: str
    shop_name: str = ""

    def unsubscribe_url(self, user_id: int, topic: str) -> str:
        """The one-click unsubscribe link for one member and topic (on the base URL)."""
        return self.base_url + UNSUBSCRIBE_PATH + unsubscribe_token(self.secret, user_id, topic)

    def headers(self, user_id: int, topic: str) -> dict[str, str]:
        """RFC 2369 / RFC 8058 headers: List-Unsubscribe with one-click POST, on the base URL
        (production requires an https one, which one-click needs; a dev server's is http)."""
        return {
            "List-Unsubscribe": f"<{self.unsubscribe_url(user_id, topic)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def preferences_url(self) -> str:
        """The member's preferences page."""
        return f"{self.base_url}/account/preferences"


def links_from_config(config: Mapping[str, Any]) -> MailLinks:
    """Mail links from a Flask config (SHOP_BASE_URL, SECRET_KEY, SHOP_NAME)."""
    return MailLinks(
        base_url=str(config["SHOP_BASE_URL"]).rstrip("/"),
        secret=str(config["SECRET_KEY"]),
        shop_name=str(config.get("SHOP_NAME", "")),
    )


@dataclass(frozen=True)
class TopicState:
    """One marketing topic as the preferences page shows it."""

    topic: str
    label: str
    description: str
    status: str  # off | pending | on
    link_expired: bool = False  # pending, but its confirmation link no longer works


@dataclass(frozen=True)
class Changes:
    """What a preferences update did."""

    requested: tuple[str, ...] = ()  # opt-in e-mails sent
    stopped: tuple[str, ...] = ()  # switched off


def hash_token(token: str) -> str:
    """The sha256 hex digest stored instead of a link token."""
    return hashlib.sha256(token.encode()).hexdigest()


def unsubscribe_token(secret: str, user_id: int, topic: str) -> str:
    """A signed token naming a member and a topic (it does not expire)."""
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps([int(user_id), topic])


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    """The (user id, topic) inside a token, or None when it is malformed or tampered with."""
    if not token or len(token) > 200:
        return None
    try:
        value = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except (BadData, UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or value[1] not in MARKETING_TOPICS
    ):
        return None
    return value[0], value[1]


def _row(session: Session, user_id: int, topic: str) -> CommunicationPreference | None:
    return session.scalar(
        select(CommunicationPreference).where(
            CommunicationPreference.user_id == user_id, CommunicationPreference.topic == topic
        )
    )


def _check_topic(topic: str) -> None:
    if topic not in MARKETING_TOPICS:
        raise PreferenceError(f"unknown topic {topic!r}; use one of {', '.join(MARKETING_TOPICS)}")


def preferences(session: Session, user_id: int) -> list[TopicState]:
    """Every marketing topic with the member's status (off when never set)."""
    rows = {
        row.topic: row
        for row in session.scalars(
            select(CommunicationPreference).where(CommunicationPreference.user_id == user_id)
        )
    }
    now = utcnow()
    states = []
    for topic in MARKETING_TOPICS:
        row = rows.get(topic)
        status = row.status if row is not None else "off"
        expired = row is not None and status == "pending" and not _link_works(row, now)
        states.append(
            TopicState(topic, TOPIC_LABELS[topic], TOPIC_DESCRIPTIONS[topic], status, expired)
        )
    return states


def topic_status(session: Session, user_id: int, topic: str) -> str:
    """The member's status for one topic: off, pending or on."""
    _check_topic(topic)
    row = _row(session, user_id, topic)
    return row.status if row is not None else "off"


def request_opt_in(session: Session, user: User, topic: str, links: MailLinks) -> bool:
    """Make a topic pending and e-mail a single-use confirmation link.

    Returns False (and sends nothing) when the topic is already on, or pending with a link
    that still works; a pending topic whose link has expired gets a new one.
    """
    _check_topic(topic)
    if not user.email:
        raise PreferenceError("this account has no e-mail address")
    row = _row(session, user.id, topic)
    now = utcnow()
    if row is not None and (
        row.status == "on" or (row.status == "pending" and _link_works(row, now))
    ):
        return False
    if row is None:
        row = CommunicationPreference(user_id=user.id, topic=topic)
        session.add(row)
    _send_opt_in(session, user, row, now, links)
    return True


def resend_opt_in(session: Session, user: User, topic: str, links: MailLinks) -> bool:
    """E-mail a pending topic's confirmation link again (a new link: the one sent before
    stops working). Returns False when the topic is not waiting for confirmation; raises
    PreferenceError when a link went out less than `RESEND_AFTER` ago (a double click)."""
    _check_topic(topic)
    if not user.email:
        raise PreferenceError("this account has no e-mail address")
    session.refresh(user, with_for_update=True)  # parallel clicks wait here, then see the first
    row = _row(session, user.id, topic)
    if row is None or row.status != "pending":
        return False
    now = utcnow()
    if row.requested_at is not None and now - row.requested_at < RESEND_AFTER:
        raise PreferenceError(
            f"We sent the link for {TOPIC_LABELS[topic].lower()} less than a minute ago. "
            "Please check your inbox, and your spam folder, before asking again."
        )
    _send_opt_in(session, user, row, now, links)
    return True


def _send_opt_in(
    session: Session, user: User, row: CommunicationPreference, now: datetime, links: MailLinks
) -> None:
    """Make the topic pending with a new single-use link and queue the e-mail that has it;
    raise PreferenceError when the account had `OPT_IN_EMAILS_PER_HOUR` sent this hour."""
    topic = row.topic
    if (
        outbox.recent_count(session, user.id, ("marketing_optin",), timedelta(hours=1), now)
        >= OPT_IN_EMAILS_PER_HOUR
    ):
        raise PreferenceError(
            "We have sent you several confirmation e-mails in the last hour. Please open "
            "the link in one of them, or try again later."
        )
    token = secrets.token_urlsafe(32)
    row.status = "pending"
    row.replaced_token_hash = row.token_hash
    row.token_hash = hash_token(token)
    row.requested_at = now
    row.confirmed_at = None
    row.updated_at = now
    session.flush()
    enqueue_email(
        session,
        kind="marketing_optin",
        to=user.email,
        subject=f"Please confirm: {TOPIC_LABELS[topic].lower()} e-mails",
        template="marketing_optin",
        context={
            "name": user.name,
            "topic_label": TOPIC_LABELS[topic],
            "topic_description": TOPIC_DESCRIPTIONS[topic],
            "confirm_url": links.base_url + CONFIRM_PATH + token,
            "valid_days": OPT_IN_VALID.days,
        },
        user_id=user.id,
    )


def _link_works(row: CommunicationPreference, now: datetime) -> bool:
    return row.requested_at is not None and now - row.requested_at <= OPT_IN_VALID


def opt_out(session: Session, user_id: int, topic: str, detail: str) -> bool:
    """Switch a topic off at once and record the withdrawal; False if it was already off."""
    _check_topic(topic)
    row = _row(session, user_id, topic)
    if row is None or row.status == "off":
        return False
    was_on = row.status == "on"
    row.status = "off"
    row.updated_at = utcnow()
    # An e-mail of the topic still queued (a mailing draining, the relay down) must not go.
    outbox.withdraw_pending(
        session, TOPIC_MAIL_KINDS[topic], "the member unsubscribed", user_id=user_id
    )
    if was_on:
        session.add(
            ConsentRecord(
                user_id=user_id, kind=f"marketing:{topic}", granted=False, detail=detail[:200]
            )
        )
    session.flush()
    return True


def update_preferences(
    session: Session, user: User, wanted: Iterable[str], links: MailLinks
) -> Changes:
    """Apply the ticked topics: opt-in e-mails for new ones, immediate stop for unticked."""
    chosen = set(wanted)
    for topic in chosen:
        _check_topic(topic)
    requested = []
    stopped = []
    ended = []  # stopped topics that were on (not just waiting for confirmation)
    for topic in MARKETING_TOPICS:
        row = _row(session, user.id, topic)
        was_on = row is not None and row.status == "on"
        if topic in chosen:
            if request_opt_in(session, user, topic, links):
                requested.append(topic)
        elif opt_out(session, user.id, topic, "preferences page"):
            stopped.append(topic)
            if was_on:
                ended.append(topic)
    if ended:  # (a one-click unsubscribe is confirmed on its page, not by more e-mail)
        confirm_change(session, user, _stopped_in_words(ended), links.base_url)
    return Changes(tuple(requested), tuple(stopped))


def _stopped_in_words(topics: list[str]) -> str:
    """The confirmation of topics switched off; several are quoted, since a label may
    contain "and" itself ("Tier news and member offers")."""
    if len(topics) == 1:
        return f"You will no longer get {TOPIC_LABELS[topics[0]].lower()} e-mails."
    quoted = [f'"{TOPIC_LABELS[topic]}"' for topic in topics]
    return f"You will no longer get these e-mails: {', '.join(quoted[:-1])} and {quoted[-1]}."


def withdraw_pending(session: Session, user_id: int) -> int:
    """Void the account's unconfirmed opt-in links (its e-mail address changed: a link in
    the old mailbox must not give consent for the new one); returns how many. Each such
    topic is off again, to be ticked again from the new address."""
    rows = session.scalars(
        select(CommunicationPreference).where(
            CommunicationPreference.user_id == user_id,
            CommunicationPreference.status == "pending",
        )
    ).all()
    now = utcnow()
    for row in rows:  # the link's hash stays, so opening it says why it no longer works
        row.status, row.updated_at = "off", now
    session.flush()
    return len(rows)


def pending_opt_in(session: Session, token: str) -> CommunicationPreference:
    """The preference an opt-in link confirms; raises LinkError for an unknown, used or
    expired link. Reading it changes nothing (the confirm page asks before confirming)."""
    unknown = LinkError(
        "This confirmation link is not valid. Please check that you copied all of it.", 400
    )
    if not token or len(token) > 100:
        raise unknown
    row = session.scalar(
        select(CommunicationPreference).where(
            CommunicationPreference.token_hash == hash_token(token)
        )
    )
    if row is None:
        if session.scalar(
            select(CommunicationPreference.id).where(
                CommunicationPreference.replaced_token_hash == hash_token(token)
            )
        ):
            raise LinkError(
                "This confirmation link was replaced by a newer one we sent you. Please "
                "open the link in the latest e-mail, or tick the topic again on your "
                "preferences page for a new one.",
                410,
            )
        raise unknown
    if row.status == "off" and row.confirmed_at is None:
        raise LinkError(
            "This confirmation link no longer works: the topic was unticked, or the "
            "account's e-mail address changed, before it was confirmed. You can tick it "
            "again on your preferences page.",
            410,
        )
    if row.status != "pending":
        raise LinkError(
            "This confirmation link has already been used. "
            "You can check your choices on your preferences page.",
            410,
        )
    if not _link_works(row, utcnow()):
        raise LinkError(
            "This confirmation link has expired. On your preferences page, save your "
            "choices with it ticked and we will send a new one.",
            410,
        )
    return row


def confirm_opt_in(session: Session, token: str, links: MailLinks) -> str:
    """Confirm an opt-in link: the topic goes on, consent is recorded, a confirmation
    e-mail is queued. Returns the topic; raises LinkError for an unknown, used or expired link.
    """
    row = pending_opt_in(session, token)
    now = utcnow()
    row.status = "on"
    row.confirmed_at = now
    row.updated_at = now
    session.add(
        ConsentRecord(
            user_id=row.user_id,
            kind=f"marketing:{row.topic}",
            granted=True,
            detail="confirmed by e-mail link",
        )
    )
    user = session.get(User, row.user_id)
    if user is not None and user.email:
        enqueue_email(
            session,
            kind="marketing_subscribed",
            to=user.email,
            subject=f"You're subscribed to {TOPIC_LABELS[row.topic].lower()}",
            template="marketing_subscribed",
            context={
                "name": user.name,
                "topic_label": TOPIC_LABELS[row.topic],
                "topic_description": TOPIC_DESCRIPTIONS[row.topic],
                "preferences_url": links.preferences_url(),
                "unsubscribe_url": links.unsubscribe_url(user.id, row.topic),
            },
            user_id=user.id,
            headers=links.headers(user.id, row.topic),
        )
    session.flush()
    return row.topic


def unsubscribe(session: Session, secret: str, token: str) -> str | None:
    """One-click unsubscribe: switch the token's topic off. Returns the topic, or None for
    an invalid token. A valid token for an account that no longer exists, or a topic that is
    already off, returns the topic too, so the answer never tells whether an account exists.
    """
    found = read_unsubscribe_token(secret, token)
    if found is None:
        return None
    user_id, topic = found
    opt_out(session, user_id, topic, "one-click unsubscribe link")
    return topic


def unsubscribe_topic(secret: str, token: str) -> str | None:
    """The topic a valid unsubscribe token is for (for the confirm page), else None."""
    found = read_unsubscribe_token(secret, token)
    return found[1] if found else None


# --- favourite categories ---------------------------------------------------------------------


def categories(session: Session) -> list[Category]:
    """Every category, in shop order, to choose favourites from."""
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def favourite_ids(session: Session, user_id: int) -> set[int]:
    """The ids of the member's favourite categories."""
    return set(
        session.scalars(
            select(FavouriteCategory.category_id).where(FavouriteCategory.user_id == user_id)
        )
    )


def set_favourites(
    session: Session, user: User, category_ids: Iterable[int], base_url: str
) -> set[int]:
    """Replace the member's favourite categories, confirming a change by e-mail; raise
    PreferenceError for unknown ids."""
    user_id = user.id
    wanted = {int(i) for i in category_ids}
    if wanted:
        known = set(session.scalars(select(Category.id).where(Category.id.in_(wanted))))
        if known != wanted:
            raise PreferenceError("Please choose categories from the list.")
    current = favourite_ids(session, user_id)
    gone = current - wanted
    if gone:
        session.execute(
            delete(FavouriteCategory).where(
                FavouriteCategory.user_id == user_id, FavouriteCategory.category_id.in_(gone)
            )
        )
    for category_id in sorted(wanted - current):
        session.add(FavouriteCategory(user_id=user_id, category_id=category_id))
    if wanted != current:
        confirm_change(session, user, "Your favourite categories changed.", base_url)
    session.flush()
    return wanted


def is_subscribed(session: Session, user_id: int, topic: str) -> bool:
    """True only when the member confirmed the topic (pending does not count)."""
    return topic_status(session, user_id, topic) == "on"


def marketing_topics(session: Session, user_ids: Iterable[int]) -> dict[int, list[str]]:
    """The marketing topics each user confirmed (labels, in `MARKETING_TOPICS` order), in one
    query; users who confirmed none are left out."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(CommunicationPreference.user_id, CommunicationPreference.topic).where(
            CommunicationPreference.user_id.in_(ids), CommunicationPreference.status == "on"
        )
    )
    confirmed: dict[int, set[str]] = {}
    for user_id, topic in rows:
        confirmed.setdefault(user_id, set()).add(topic)
    return {
        user_id: [TOPIC_LABELS[t] for t in MARKETING_TOPICS if t in topics]
        for user_id, topics in confirmed.items()
    }
