"""Password change, e-mail change by confirmed link, password reset: wrong passwords,
expired and reused links, no account-existence leak, and tokens that belong to one account."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash
from werkzeug.test import TestResponse

from shop.accounts import tokens
from shop.accounts.models import AccountToken, User
from shop.db import utcnow
from shop.events.models import DomainEvent
from shop.mail.models import OutboxEmail
from tests import factories
from tests.helpers import csrf_token, sign_in

NEW_PASSWORD = "a brand new passphrase"
LINK_RE = re.compile(
    r"(https?://\S+/account/(?:email/confirm|email/undo|password/reset)/[A-Za-z0-9_\-]+)"
)


def _member(app: Flask, session: Session, email: str = "ann@example.com") -> FlaskClient:
    if session.scalar(select(User.id).where(User.email == email)) is None:
        factories.user(session, email, email.split("@")[0].capitalize())
        session.commit()
    client = app.test_client()
    sign_in(client, email, factories.PASSWORD)
    session.rollback()
    return client


def _user(session: Session, user_id: int) -> User:
    session.rollback()
    user = session.get(User, user_id)
    assert user is not None
    session.refresh(user)
    return user


def _id(session: Session, email: str) -> int:
    session.rollback()
    found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


def _outbox(session: Session, kind: str | None = None) -> list[OutboxEmail]:
    session.rollback()
    query = select(OutboxEmail).order_by(OutboxEmail.id)
    if kind:
        query = query.where(OutboxEmail.kind == kind)
    return list(session.scalars(query))


def _link(mail: OutboxEmail) -> str:
    """The path of the link in an e-mail (text and HTML carry the same one)."""
    match = LINK_RE.search(mail.text_body)
    assert match, mail.text_body
    assert match.group(1) in mail.html_body
    return urlsplit(match.group(1)).path


def _changes(session: Session) -> list[str]:
    session.rollback()
    rows = session.scalars(
        select(DomainEvent).where(DomainEvent.name == "profile_changed").order_by(DomainEvent.id)
    )
    return [str(row.payload["change"]) for row in rows]


def _can_sign_in(app: Flask, email: str, password: str) -> bool:
    client = app.test_client()
    token = csrf_token(client, "/account/login")
    response = client.post(
        "/account/login", data={"csrf_token": token, "email": email, "password": password}
    )
    return response.status_code == 302


def _change_password(client: FlaskClient, current: str, new: str = NEW_PASSWORD) -> TestResponse:
    token = csrf_token(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm": new,
        },
    )


def _request_email_change(client: FlaskClient, new_email: str, password: str) -> TestResponse:
    token = csrf_token(client, "/account/email")
    return client.post(
        "/account/email",
        data={"csrf_token": token, "new_email": new_email, "current_password": password},
    )


def _request_reset(client: FlaskClient, email: str) -> TestResponse:
    token = csrf_token(client, "/account/password/reset")
    return client.post(
        "/account/password/reset", data={"csrf_token": token, "email": email}, follow_redirects=True
    )


def _reset(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> TestResponse:
    token = csrf_token(client, "/account/password/reset")
    return client.post(path, data={"csrf_token": token, "password": password, "confirm": password})


# ----------------------------------------------------------------------- password change


def test_wrong_current_password_changes_nothing(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    before = _user(session, user_id).password_hash
    response = _change_password(client, "not my password")
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    assert _user(session, user_id).password_hash == before
    assert _outbox(session) == [] and _changes(session) == []


def test_the_current_password_as_the_new_one_changes_nothing(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    before = _user(session, user_id).password_hash
    response = _change_password(client, factories.PASSWORD, factories.PASSWORD)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose a password that is different from your current one." in page
    assert _user(session, user_id).password_hash == before
    assert _outbox(session) == [] and _changes(session) == []


def test_password_change_keeps_this_session_and_ends_the_others(
    app: Flask, session: Session
) -> None:
    other_browser = _member(app, session)
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    assert other_browser.get("/account").status_code == 200

    response = _change_password(client, factories.PASSWORD)
    assert response.status_code == 302
    user = _user(session, user_id)
    assert check_password_hash(user.password_hash or "", NEW_PASSWORD)
    assert client.get("/account").status_code == 200  # still signed in here
    gone = other_browser.get("/account")
    assert gone.status_code == 302 and "/account/login" in gone.headers["Location"]

    (mail,) = _outbox(session, "account_password_changed")
    assert mail.to_address == "ann@example.com" and mail.user_id == user_id
    assert _changes(session) == ["password"]
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)
    assert not _can_sign_in(app, "ann@example.com", factories.PASSWORD)


def test_password_change_form_errors(app: Flask, session: Session) -> None:
    client = _member(app, session)
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": factories.PASSWORD,
            "new_password": "short",
            "confirm": "other",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "at least 10 characters" in html and "don&#39;t match" in html
    assert _outbox(session) == []


# -------------------------------------------------------------------------- e-mail change


def test_email_change_takes_effect_only_through_the_link(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    response = _request_email_change(client, "Ann.New@Example.com", factories.PASSWORD)
    assert response.status_code == 302
    assert _user(session, user_id).email == "ann@example.com"  # not yet

    (notice,) = _outbox(session, "account_email_change_requested")
    assert notice.to_address == "ann@example.com"
    assert "ann.new@example.com" in notice.text_body
    (confirm,) = _outbox(session, "account_email_confirm")
    assert confirm.to_address == "ann.new@example.com"
    path = _link(confirm)

    # Only the hash of the token is stored.
    raw = path.rsplit("/", 1)[1]
    session.rollback()
    row = session.scalar(select(AccountToken).where(AccountToken.user_id == user_id))
    assert row is not None and row.purpose == "email_change"
    assert row.token_hash == tokens.hash_token(raw) and raw not in row.token_hash
    assert row.new_email == "ann.new@example.com"

    # Opening the link shows a button; a GET alone (a mail scanner) changes nothing.
    page = client.get(path)
    assert page.status_code == 200 and "ann.new@example.com" in page.get_data(as_text=True)
    assert _user(session, user_id).email == "ann@example.com"
    token = csrf_token(client, "/")
    assert client.post(path, data={"csrf_token": token}).status_code == 302
    assert _user(session, user_id).email == "ann.new@example.com"
    assert _changes(session) == ["email"]
    (after,) = _outbox(session, "account_email_changed")
    assert after.to_address == "ann@example.com"  # the old address hears about it
    assert "/account/email/undo/" in _link(after)  # and can undo it

    # The link works once.
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert client.get(path).status_code == 410
    assert _can_sign_in(app, "ann.new@example.com", factories.PASSWORD)
    assert not _can_sign_in(app, "ann@example.com", factories.PASSWORD)


def test_the_old_address_can_undo_an_email_change_and_lock_out_whoever_made_it(
    app: Flask, session: Session
) -> None:
    intruder = _member(app, session)  # knows Ann's password
    user_id = _id(session, "ann@example.com")
    _request_email_change(intruder, "mallory@example.net", factories.PASSWORD)
    token = csrf_token(intruder, "/")
    confirm_path = _link(_outbox(session, "account_email_confirm")[-1])
    assert intruder.post(confirm_path, data={"csrf_token": token}).status_code == 302
    (changed,) = _outbox(session, "account_email_changed")
    assert changed.to_address == "ann@example.com"
    assert "mallory@example.net" in changed.text_body and "14 days" in changed.text_body
    undo = _link(changed)
    # Changing the password too does not take the undo link away from Ann.
    changed_password = intruder.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(intruder, "/account/password"),
            "current_password": factories.PASSWORD,
            "new_password": "mallorys-own-password",
            "confirm": "mallorys-own-password",
        },
    )
    assert changed_password.status_code == 302

    ann = app.test_client()
    page = ann.get(undo)
    assert page.status_code == 200 and "ann@example.com" in page.get_data(as_text=True)
    assert _user(session, user_id).email == "mallory@example.net"  # a GET changes nothing
    done = ann.post(undo, data={"csrf_token": csrf_token(ann, "/")}, follow_redirects=True)
    assert done.status_code == 200
    assert "is ann@example.com again" in done.get_data(as_text=True)

    assert _user(session, user_id).email == "ann@example.com"
    assert intruder.get("/account").status_code == 302  # signed out
    assert not _can_sign_in(app, "ann@example.com", "mallorys-own-password")
    assert not _can_sign_in(app, "ann@example.com", factories.PASSWORD)
    reset = _outbox(session, "account_password_reset")[-1]
    assert reset.to_address == "ann@example.com"
    reset_path = _link(reset)
    chosen = ann.post(
        reset_path,
        data={
            "csrf_token": csrf_token(ann, reset_path),
            "password": "anns-new-password",
            "confirm": "anns-new-password",
        },
    )
    assert chosen.status_code == 302
    assert _can_sign_in(app, "ann@example.com", "anns-new-password")
    assert ann.post(undo, data={"csrf_token": csrf_token(ann, "/")}).status_code == 410


def test_the_reset_link_sent_after_an_undo_says_the_account_is_locked(
    app: Flask, session: Session
) -> None:
    """The undo leaves nobody knowing the password: the reset e-mail must not tell Ann
    that ignoring it keeps her password, or that "someone" asked for it."""
    intruder = _member(app, session)
    _request_email_change(intruder, "mallory@example.net", factories.PASSWORD)
    confirm_path = _link(_outbox(session, "account_email_confirm")[-1])
    intruder.post(confirm_path, data={"csrf_token": csrf_token(intruder, "/")})
    undo = _link(_outbox(session, "account_email_changed")[-1])
    ann = app.test_client()
    ann.post(undo, data={"csrf_token": csrf_token(ann, "/")})

    reset = _outbox(session, "account_password_reset")[-1]
    for body in (reset.text_body, reset.html_body):
        assert "your password stays as it is" not in body
        assert "Someone asked" not in body
        assert "locked" in body
        assert "/account/password/reset" in body  # a new link once this one has expired

    # An ordinary reset request still says that ignoring it changes nothing.
    ann.post(
        "/account/password/reset",
        data={"csrf_token": csrf_token(ann, "/account/password/reset"), "email": "ann@example.com"},
    )
    ordinary = _outbox(session, "account_password_reset")[-1]
    assert ordinary.id != reset.id
    assert "your password stays as it is" in ordinary.text_body


def test_an_undo_link_cannot_take_an_address_another_account_has_since(
    app: Flask, session: Session
) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "ann.new@example.com", factories.PASSWORD)
    confirm_path = _link(_outbox(session, "account_email_confirm")[-1])
    assert (
        client.post(confirm_path, data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    )
    undo = _link(_outbox(session, "account_email_changed")[-1])
    factories.user(session, "ann@example.com", "Another Ann")
    session.commit()

    stranger = app.test_client()
    taken = stranger.post(undo, data={"csrf_token": csrf_token(stranger, "/")})
    assert taken.status_code == 409
    assert "now belongs to another account" in taken.get_data(as_text=True)
    assert _user(session, user_id).email == "ann.new@example.com"
    assert _can_sign_in(app, "ann.new@example.com", factories.PASSWORD)


def test_email_change_needs_the_current_password(app: Flask, session: Session) -> None:
    client = _member(app, session)
    response = _request_email_change(client, "other@example.com", "wrong password")
    assert response.status_code == 400
    assert "Your current password is not correct." in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(AccountToken)) is None
    assert _outbox(session) == []


def test_email_change_to_a_taken_address_is_refused(app: Flask, session: Session) -> None:
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    client = _member(app, session)
    response = _request_email_change(client, "BOB@example.com", factories.PASSWORD)
    assert response.status_code == 400
    assert "already used by another account" in response.get_data(as_text=True)
    assert _outbox(session) == []
    same = _request_email_change(client, "ann@example.com", factories.PASSWORD)
    assert "already your e-mail address" in same.get_data(as_text=True)


def test_address_taken_before_the_link_is_opened(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "new@example.com", factories.PASSWORD)
    path = _link(_outbox(session, "account_email_confirm")[0])
    factories.user(session, "new@example.com", "Someone else")
    session.commit()
    response = client.post(path, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 409
    assert "already used by another account" in response.get_data(as_text=True)
    assert _user(session, user_id).email == "ann@example.com"


def test_expired_email_link_changes_nothing(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "new@example.com", factories.PASSWORD)
    path = _link(_outbox(session, "account_email_confirm")[0])
    session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    page = client.get(path)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 410
    assert _user(session, user_id).email == "ann@example.com"


def test_only_the_newest_email_change_link_works(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "first@example.com", factories.PASSWORD)
    _request_email_change(client, "second@example.com", factories.PASSWORD)
    first, second = _outbox(session, "account_email_confirm")
    token = csrf_token(client, "/")
    assert client.post(_link(first), data={"csrf_token": token}).status_code == 410
    assert client.post(_link(second), data={"csrf_token": token}).status_code == 302
    assert _user(session, user_id).email == "second@example.com"


def test_a_password_reset_cancels_a_pending_email_change(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "thief@example.com", factories.PASSWORD)
    (notice,) = _outbox(session, "account_email_change_requested")
    assert "reset" in notice.text_body.lower()
    (confirm,) = _outbox(session, "account_email_confirm")
    # The owner follows the notice's advice and resets the password.
    _request_reset(app.test_client(), "ann@example.com")
    (reset_mail,) = _outbox(session, "account_password_reset")
    assert _reset(app.test_client(), _link(reset_mail)).status_code == 302
    stranger = app.test_client()
    response = stranger.post(_link(confirm), data={"csrf_token": csrf_token(stranger, "/")})
    assert response.status_code == 410
    assert "a password change makes older links void" in response.get_data(as_text=True)
    assert _user(session, user_id).email == "ann@example.com"
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)


def test_a_password_change_cancels_a_pending_email_change(app: Flask, session: Session) -> None:
    client = _member(app, session)
    user_id = _id(session, "ann@example.com")
    _request_email_change(client, "new@example.com", factories.PASSWORD)
    (confirm,) = _outbox(session, "account_email_confirm")
    assert _change_password(client, factories.PASSWORD).status_code == 302
    token = csrf_token(client, "/")
    used = client.post(_link(confirm), data={"csrf_token": token})
    assert used.status_code == 410
    assert _user(session, user_id).email == "ann@example.com"
    # The page offers what fits an e-mail change, not a password reset.
    page = used.get_data(as_text=True)
    assert "Change your e-mail address again" in page
    assert "password-reset link" not in page
    signed_out = app.test_client().get(_link(confirm)).get_data(as_text=True)
    assert "Sign in</a> to change your e-mail address again" in signed_out
    assert "password-reset link" not in signed_out
    reset_page = app.test_client().get("/account/password/reset/" + "A" * 43)
    assert "Ask for a new password-reset link" in reset_page.get_data(as_text=True)


def test_a_link_belongs_to_the_account_it_was_sent_for(app: Flask, session: Session) -> None:
    bob = _member(app, session, "bob@example.com")
    bob_id = _id(session, "bob@example.com")
    _request_email_change(bob, "bob.new@example.com", factories.PASSWORD)
    bob_link = _link(_outbox(session, "account_email_confirm")[0])

    ann = _member(app, session, "ann@example.com")
    ann_id = _id(session, "ann@example.com")
    token = csrf_token(ann, "/")
    # An e-mail-change token is not a password-reset token.
    reset_path = bob_link.replace("/account/email/confirm/", "/account/password/reset/")
    assert ann.get(reset_path).status_code == 400
    assert (
        ann.post(
            reset_path,
            data={"csrf_token": token, "password": "kettle mango", "confirm": "kettle mango"},
        ).status_code
        == 400
    )
    # Guessed and forged tokens are refused without a 500.
    for forged in (
        "/account/email/confirm/1",
        "/account/email/confirm/" + "A" * 43,
        "/account/email/confirm/" + "x" * 500,
    ):
        assert ann.get(forged).status_code == 400
    # Whoever opens Bob's link can only ever change Bob's address, never theirs.
    assert ann.post(bob_link, data={"csrf_token": token}).status_code == 302
    assert _user(session, ann_id).email == "ann@example.com"
    assert _user(session, bob_id).email == "bob.new@example.com"
    assert check_password_hash(_user(session, bob_id).password_hash or "", factories.PASSWORD)


# ------------------------------------------------------------------------- password reset


def test_reset_request_does_not_reveal_whether_an_account_exists(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    started = time.monotonic()
    known = _request_reset(app.test_client(), "ann@example.com")
    middle = time.monotonic()
    unknown = _request_reset(app.test_client(), "nobody@example.com")
    # Both answers take at least the same floor, whichever path the request took.
    assert middle - started >= 0.15 and time.monotonic() - middle >= 0.15
    assert known.status_code == unknown.status_code == 200
    for response in (known, unknown):
        html = response.get_data(as_text=True)
        assert "If an account exists for that address, we have sent a link" in html
    strip = re.compile(r'(name="csrf[-_]token"[^>]*value|content)="[^"]+"')
    assert strip.sub("", known.get_data(as_text=True)) == strip.sub(
        "", unknown.get_data(as_text=True)
    )
    mails = _outbox(session, "account_password_reset")
    assert [m.to_address for m in mails] == ["ann@example.com"]


def test_reset_flow_then_the_link_is_spent(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    signed_in = _member(app, session)
    client = app.test_client()
    _request_reset(client, "ANN@example.com ")
    (mail,) = _outbox(session, "account_password_reset")
    path = _link(mail)
    assert "60 minutes" in mail.text_body

    assert client.get(path).status_code == 200
    response = _reset(client, path)
    assert response.status_code == 302
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)
    assert not _can_sign_in(app, "ann@example.com", factories.PASSWORD)
    assert _outbox(session, "account_password_changed")[0].to_address == "ann@example.com"
    assert _changes(session) == ["password_reset"]
    # Browsers signed in with the old password are signed out.
    assert signed_in.get("/account").status_code == 302

    reused = _reset(client, path, "yet another password")
    assert reused.status_code == 410
    assert "already been used" in reused.get_data(as_text=True)
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)


def test_expired_reset_link_changes_nothing(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    _request_reset(client, "ann@example.com")
    path = _link(_outbox(session, "account_password_reset")[0])
    session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    page = client.get(path)
    assert page.status_code == 410 and "This link has expired." in page.get_data(as_text=True)
    assert _reset(client, path).status_code == 410
    assert _can_sign_in(app, "ann@example.com", factories.PASSWORD)


def test_a_reset_voids_older_reset_links(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    _request_reset(client, "ann@example.com")
    _request_reset(client, "ann@example.com")
    older, newer = (_link(m) for m in _outbox(session, "account_password_reset"))
    assert _reset(client, newer).status_code == 302
    response = _reset(client, older, "the older link's password")
    assert response.status_code == 410
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)


def test_a_password_change_voids_reset_links(app: Flask, session: Session) -> None:
    client = _member(app, session)
    _request_reset(app.test_client(), "ann@example.com")
    path = _link(_outbox(session, "account_password_reset")[0])
    _change_password(client, factories.PASSWORD)
    assert _reset(app.test_client(), path, "an attacker's password").status_code == 410
    assert _can_sign_in(app, "ann@example.com", NEW_PASSWORD)


def test_reset_form_errors_keep_the_link_usable(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    _request_reset(client, "ann@example.com")
    path = _link(_outbox(session, "account_password_reset")[0])
    token = csrf_token(client, "/")
    bad = client.post(path, data={"csrf_token": token, "password": "short", "confirm": "short"})
    assert bad.status_code == 400 and "at least 10 characters" in bad.get_data(as_text=True)
    assert _reset(client, path).status_code == 302


def test_reset_emails_are_throttled_per_account(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    client = app.test_client()
    for _ in range(5):
        html = _request_reset(client, "ann@example.com").get_data(as_text=True)
        assert "If an account exists for that address" in html
    assert len(_outbox(session, "account_password_reset")) == 3


def test_reset_request_form_errors(client: FlaskClient) -> None:
    token = csrf_token(client, "/account/password/reset")
    response = client.post("/account/password/reset", data={"csrf_token": token, "email": "nope"})
    assert response.status_code == 400
    assert "look like an e-mail address" in response.get_data(as_text=True)
    login = client.get("/account/login").get_data(as_text=True)
    assert 'href="/account/password/reset"' in login


def _remembered(app: Flask, email: str = "ann@example.com") -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client, "/account/login")
    response = client.post(
        "/account/login",
        data={
            "csrf_token": token,
            "email": email,
            "password": factories.PASSWORD,
            "remember": "y",
        },
    )
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is not None
    assert client.get_cookie("remember_pin") is not None
    return client


def _restart_browser(client: FlaskClient) -> None:
    """Drop the session cookie, keep the long-lived ones (as a browser restart does)."""
    client.delete_cookie("session")


def test_remember_me_survives_a_restart_until_the_password_changes(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    remembered = _remembered(app)
    _restart_browser(remembered)
    assert remembered.get("/account").status_code == 200

    client = _member(app, session)
    _change_password(client, factories.PASSWORD)
    _restart_browser(remembered)
    gone = remembered.get("/account")
    assert gone.status_code == 302 and "/account/login" in gone.headers["Location"]
    assert remembered.get_cookie("remember_pin") is None


def test_remember_me_cookie_without_its_pin_is_not_enough(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    remembered = _remembered(app)
    remembered.delete_cookie("remember_pin")
    _restart_browser(remembered)
    assert remembered.get("/account").status_code == 302
    forged = _remembered(app)
    forged.set_cookie("remember_pin", "f\u00e4lschung")
    _restart_browser(forged)
    assert forged.get("/account").status_code == 302


def test_changing_the_password_renews_this_browsers_remember_me(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    remembered = _remembered(app)
    assert _change_password(remembered, factories.PASSWORD).status_code == 302
    _restart_browser(remembered)
    assert remembered.get("/account").status_code == 200


def test_signing_out_every_other_browser_keeps_this_one(app: Flask, session: Session) -> None:
    other_browser = _member(app, session)
    copied = app.test_client()  # a copy of that browser's cookies, say on another machine
    for cookie in ("session",):
        copied.set_cookie(cookie, other_browser.get_cookie(cookie).value)  # type: ignore[union-attr]
    remembered = _remembered(app)
    client = _member(app, session)
    assert copied.get("/account").status_code == 200
    page = client.get("/account").get_data(as_text=True)
    assert "Sign out of every other browser" in page

    token = csrf_token(client, "/account")
    assert client.post("/account/sessions/end-others").status_code == 400  # no token
    response = client.post("/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/account").status_code == 200  # still signed in here
    for gone in (other_browser, copied):
        ended = gone.get("/account")
        assert ended.status_code == 302 and "/account/login" in ended.headers["Location"]
    _restart_browser(remembered)
    assert remembered.get("/account").status_code == 302
    assert _changes(session) == ["sessions"]
    assert _can_sign_in(app, "ann@example.com", factories.PASSWORD)  # the password still works


def _can_sign_in_again(client: FlaskClient, email: str = "ann@example.com") -> bool:
    token = csrf_token(client, "/account/login")
    data = {"csrf_token": token, "email": email, "password": factories.PASSWORD}
    return client.post("/account/login", data=data).status_code == 302


def test_signing_out_deletes_the_remember_me_cookie_and_the_browser_works_on(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    remembered = _remembered(app)
    token = csrf_token(remembered, "/account")
    assert remembered.post("/account/logout", data={"csrf_token": token}).status_code == 302
    assert remembered.get_cookie("remember_token") is None
    assert remembered.get_cookie("remember_pin") is None
    assert remembered.get("/account").status_code == 302  # signed out, and stays so
    assert _can_sign_in_again(remembered)  # forms work: the CSRF token is not lost each time


def test_a_remembered_browser_signed_out_from_elsewhere_is_not_locked_out(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    remembered = _remembered(app)
    client = _member(app, session)
    token = csrf_token(client, "/account")
    client.post("/account/sessions/end-others", data={"csrf_token": token})
    assert remembered.get("/account").status_code == 302
    assert remembered.get_cookie("remember_token") is None
    assert _can_sign_in_again(remembered)


def test_another_account_signing_in_keeps_nothing_of_the_first(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    browser = _remembered(app)
    browser.get("/account")  # a page with a form: the session gets its CSRF token
    with browser.session_transaction() as state:
        state["checkout"] = {"name": "Ann Secret", "line1": "7 Private Road"}
        before = state.get("csrf_token")
    assert before
    assert _can_sign_in_again(browser, "bob@example.com")
    with browser.session_transaction() as state:
        assert "checkout" not in state
        assert state.get("csrf_token") != before
    assert browser.get_cookie("remember_token") is None  # Ann's, and Bob did not ask
    page = browser.get("/account").get_data(as_text=True)
    assert "bob@example.com" in page and "ann@example.com" not in page


def test_a_password_too_long_is_refused_as_too_long(app: Flask, session: Session) -> None:
    ann = _member(app, session)
    long_password = "x" * 201
    changed = ann.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(ann, "/account/password"),
            "current_password": factories.PASSWORD,
            "new_password": long_password,
            "confirm": long_password,
        },
    )
    assert changed.status_code == 400
    page = changed.get_data(as_text=True)
    assert "Use at most 200 characters." in page
    assert "Use at least" not in page

    visitor = app.test_client()
    registered = visitor.post(
        "/account/register",
        data={
            "csrf_token": csrf_token(visitor, "/account/register"),
            "name": "Long",
            "email": "long@example.com",
            "password": long_password,
            "confirm": long_password,
        },
    )
    assert registered.status_code == 400
    assert "Use at most 200 characters." in registered.get_data(as_text=True)


def _order_addresses(session: Session) -> dict[str, str | None]:
    from shop.orders.models import Order

    session.rollback()
    return {number: email for number, email in session.execute(select(Order.number, Order.email))}


def test_orders_follow_an_email_change_and_its_undoing_but_not_other_addresses(
    app: Flask, session: Session
) -> None:
    from shop.orders.models import Order

    client = _member(app, session)
    ann = _user(session, _id(session, "ann@example.com"))
    item = factories.product(session, None, sku="85123A", name="Heart Holder")
    for number, address in (("W1", " Ann@Example.com"), ("W2", "gifts@example.org")):
        factories.order(session, ann, number, [(item, 1)]).email = address
    stranger = factories.order(session, None, "W3", [(item, 1)])  # a guest with her address
    stranger.email = "ann@example.com"
    session.flush()
    orders = {order.number: order.id for order in session.scalars(select(Order))}
    waiting = {
        "shipped": factories.outbox_email(session, "pending", order_id=orders["W1"]),
        "failed": factories.outbox_email(session, "failed", order_id=orders["W1"]),
        "sent": factories.outbox_email(session, "sent", order_id=orders["W1"]),
        "gift": factories.outbox_email(
            session, "pending", order_id=orders["W2"], to_address="gifts@example.org"
        ),
        "guest": factories.outbox_email(session, "pending", order_id=orders["W3"]),
        "notice": factories.outbox_email(session, "pending", kind="loyalty_welcome"),
    }
    session.commit()
    email_ids = {name: email.id for name, email in waiting.items()}

    def addressed() -> dict[str, str]:
        session.rollback()
        return {name: session.get(OutboxEmail, i).to_address for name, i in email_ids.items()}

    _request_email_change(client, "ann.new@example.com", factories.PASSWORD)
    confirm = _link(_outbox(session, "account_email_confirm")[-1])
    assert client.post(confirm, data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    # Her own order's e-mails now reach her; one sent elsewhere at checkout stays so.
    assert _order_addresses(session) == {
        "W1": "ann.new@example.com",
        "W2": "gifts@example.org",
        "W3": "ann@example.com",
    }
    # So do her order's e-mails still waiting to go out or to be retried.
    assert addressed() == {
        "shipped": "ann.new@example.com",
        "failed": "ann.new@example.com",
        "sent": "ann@example.com",
        "gift": "gifts@example.org",
        "guest": "ann@example.com",
        "notice": "ann@example.com",
    }
    order = session.scalar(select(Order).where(Order.number == "W1"))
    assert order is not None
    from shop.checkout.pricing import CheckoutSettings
    from shop.orders.notifications import queue_order_email

    with app.app_context():
        mail = queue_order_email(
            session, order, "order_shipped", CheckoutSettings.from_config(app.config)
        )
    assert mail is not None and mail.to_address == "ann.new@example.com"
    session.rollback()

    undo = _link(_outbox(session, "account_email_changed")[-1])
    owner = app.test_client()
    assert owner.post(undo, data={"csrf_token": csrf_token(owner, "/")}).status_code == 302
    assert _order_addresses(session)["W1"] == "ann@example.com"
    assert addressed()["shipped"] == addressed()["failed"] == "ann@example.com"
