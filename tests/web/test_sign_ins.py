"""Sign-ins known to the server: signing out ends a browser's session there, so a copy of
its cookies taken before stops working; ending other browsers and password changes end
theirs; the data export lists them and deletion removes them."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import SignIn, User
from shop.db import utcnow
from tests import factories
from tests.helpers import csrf_token, sign_in
from tests.unit.test_browsers import CHROME_WINDOWS, SAFARI_IPHONE

COOKIES = ("session", "remember_token", "remember_pin")


def _copy_of(app: Flask, original: FlaskClient, names: tuple[str, ...] = COOKIES) -> FlaskClient:
    """Another browser holding a copy of the original's cookies."""
    thief = app.test_client()
    for name in names:
        cookie = original.get_cookie(name)
        if cookie is not None:
            thief.set_cookie(name, cookie.value)
    return thief


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/account").status_code == 200


def _sign_out(client: FlaskClient) -> None:
    token = csrf_token(client, "/account")
    assert client.post("/account/logout", data={"csrf_token": token}).status_code == 302


def _remembered(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client, "/account/login")
    data = {
        "csrf_token": token,
        "email": "ann@example.com",
        "password": factories.PASSWORD,
        "remember": "y",
    }
    assert client.post("/account/login", data=data).status_code == 302
    return client


def test_signing_out_ends_a_copied_session_cookie_too(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    browser = app.test_client()
    sign_in(browser, "ann@example.com", factories.PASSWORD)
    copy = _copy_of(app, browser, ("session",))
    assert _signed_in(copy)

    _sign_out(browser)

    assert not _signed_in(browser)
    assert not _signed_in(copy)
    session.rollback()
    (row,) = session.scalars(select(SignIn))
    assert row.ended_at is not None


def test_signing_out_ends_a_copied_remember_me_cookie_too(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    browser = _remembered(app)
    restored = _copy_of(app, browser, ("remember_token", "remember_pin"))
    assert _signed_in(restored)  # no session cookie: signed in from the remember-me cookie

    _sign_out(browser)

    assert not _signed_in(_copy_of(app, browser))
    assert not _signed_in(restored)
    assert not _signed_in(_copy_of(app, restored, ("remember_token", "remember_pin")))


def test_a_made_up_or_other_accounts_sign_in_key_is_signed_out(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    factories.user(session, "bob@example.com", "Bob")
    session.commit()
    ann, bob = app.test_client(), app.test_client()
    sign_in(ann, "ann@example.com", factories.PASSWORD)
    sign_in(bob, "bob@example.com", factories.PASSWORD)
    with bob.session_transaction() as state:
        bobs_key = state["_sk"]
    for key in (bobs_key, "made-up", "x" * 5000, 12):
        with ann.session_transaction() as state:
            state["_sk"] = key
        assert not _signed_in(ann), key
        sign_in(ann, "ann@example.com", factories.PASSWORD)
    assert _signed_in(bob)


def _only_sign_in(session: Session) -> SignIn:
    session.rollback()
    (row,) = session.scalars(select(SignIn))
    return row


def _age(session: Session, *, made: timedelta, seen: timedelta | None) -> None:
    """Move the only sign-in's creation and last use into the past."""
    row = _only_sign_in(session)
    row.created_at = utcnow() - made
    row.last_seen_at = None if seen is None else utcnow() - seen
    session.commit()


def test_a_remembered_browser_unused_for_30_days_is_signed_out(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    browser = _remembered(app)
    _age(session, made=timedelta(days=200), seen=timedelta(days=29))
    assert _signed_in(browser)  # used within 30 days: still signed in
    assert _only_sign_in(session).ended_at is None

    _age(session, made=timedelta(days=200), seen=timedelta(days=31))

    assert not _signed_in(browser)
    assert not _signed_in(_copy_of(app, browser, ("remember_token", "remember_pin")))
    assert _only_sign_in(session).ended_at is not None
    # Never used since it was made counts from the sign-in itself.
    sign_in(browser, "ann@example.com", factories.PASSWORD)
    session.rollback()
    live = session.scalars(select(SignIn).where(SignIn.ended_at.is_(None))).one()
    live.created_at, live.last_seen_at = utcnow() - timedelta(days=31), None
    session.commit()
    assert not _signed_in(browser)


def test_using_a_sign_in_is_recorded_at_most_hourly_and_shown(app: Flask, session: Session) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    browser = app.test_client()
    sign_in(browser, "ann@example.com", factories.PASSWORD)
    assert _only_sign_in(session).last_seen_at is None  # just made: nothing to record yet

    _age(session, made=timedelta(days=3), seen=timedelta(minutes=59))
    recent = _only_sign_in(session).last_seen_at
    assert _signed_in(browser)
    assert _only_sign_in(session).last_seen_at == recent  # less than an hour old: no write

    _age(session, made=timedelta(days=3), seen=timedelta(hours=2))
    idle = SignIn(
        user_id=_only_sign_in(session).user_id,
        key_hash="0" * 64,
        browser="An old tablet",
        created_at=utcnow() - timedelta(days=90),
        last_seen_at=utcnow() - timedelta(days=40),
    )
    session.add(idle)
    session.commit()
    before = utcnow()
    page = browser.get("/account").get_data(as_text=True)
    session.rollback()
    seen = session.scalar(select(SignIn.last_seen_at).where(SignIn.id != idle.id))
    assert seen is not None and seen >= before - timedelta(seconds=1)
    listed = page.split('data-testid="sign-ins"')[1].split("</ul>")[0]
    # The page was read before its own use was written, so it says "now", not that old time.
    assert "(this browser, in use now)" in listed and "last used" not in listed
    assert listed.count("<li>") == 1
    assert "An old tablet" not in listed  # idle for 40 days: it no longer signs anyone in

    other = app.test_client()
    sign_in(other, "ann@example.com", factories.PASSWORD)
    listed = other.get("/account").get_data(as_text=True).split('data-testid="sign-ins"')[1]
    stamp = seen.strftime("%d %b %Y %H:%M")
    assert f"last used {stamp} UTC" in listed.split("</ul>")[0]  # the first browser's use


def test_ending_other_browsers_and_changing_the_password_end_their_sign_ins(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    laptop, phone, tablet = app.test_client(), app.test_client(), app.test_client()
    for client in (laptop, phone, tablet):
        sign_in(client, "ann@example.com", factories.PASSWORD)

    page = laptop.get("/account").get_data(as_text=True)
    listed = page.split('data-testid="sign-ins"')[1].split("</ul>")[0]
    assert listed.count("<li>") == 3 and listed.count("(this browser, in use now)") == 1
    assert 'data-testid="end-other-sessions"' in page
    token = csrf_token(laptop, "/account")
    ended = laptop.post("/account/sessions/end-others", data={"csrf_token": token})
    assert ended.status_code == 302
    assert _signed_in(laptop) and not _signed_in(phone) and not _signed_in(tablet)
    page = laptop.get("/account").get_data(as_text=True)
    assert page.split('data-testid="sign-ins"')[1].split("</ul>")[0].count("<li>") == 1
    assert 'data-testid="end-other-sessions"' not in page
    session.rollback()
    assert len([r for r in session.scalars(select(SignIn)) if r.ended_at is None]) == 1

    sign_in(phone, "ann@example.com", factories.PASSWORD)
    token = csrf_token(laptop, "/account/password")
    changed = laptop.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": factories.PASSWORD,
            "new_password": "a-new-long-password",
            "confirm": "a-new-long-password",
        },
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)[:300]
    session.rollback()
    live = [r for r in session.scalars(select(SignIn)) if r.ended_at is None]
    assert len(live) == 1  # the laptop's; the phone's ended with the old password
    assert _signed_in(laptop) and not _signed_in(phone)


def test_sign_ins_are_listed_by_browser_and_system_not_raw_headers(
    app: Flask, session: Session
) -> None:
    factories.user(session, "ann@example.com")
    session.commit()
    laptop, phone = app.test_client(), app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = CHROME_WINDOWS
    phone.environ_base["HTTP_USER_AGENT"] = SAFARI_IPHONE
    sign_in(laptop, "ann@example.com", factories.PASSWORD)
    sign_in(phone, "ann@example.com", factories.PASSWORD)
    page = phone.get("/account").get_data(as_text=True)
    listed = page.split('data-testid="sign-ins"')[1].split("</ul>")[0]
    assert "Safari on iPhone, since" in listed and "Chrome on Windows, since" in listed
    assert "Mozilla" not in listed and "AppleWebKit" not in listed
    items = {item.split(",")[0].strip(): item for item in listed.split("<li>")[1:]}
    assert "(this browser, in use now)" in items["Safari on iPhone"]
    assert "(this browser" not in items["Chrome on Windows"]


def test_the_export_lists_sign_ins_and_deletion_removes_them(app: Flask, session: Session) -> None:
    ann = factories.user(session, "ann@example.com")
    session.commit()
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = "Firefox/140.0 (test)"
    sign_in(browser, "ann@example.com", factories.PASSWORD)
    exported = browser.get("/account/privacy/export")
    assert exported.status_code == 200
    data = json.loads(exported.get_data(as_text=True))
    assert [row["browser"] for row in data["sign_ins"]] == ["Firefox/140.0 (test)"]
    assert data["sign_ins"][0]["ended_at"] is None
    assert "last_seen_at" in data["sign_ins"][0]

    token = csrf_token(browser, "/account/delete")
    deleted = browser.post(
        "/account/delete",
        data={"csrf_token": token, "password": factories.PASSWORD, "confirm": "y"},
    )
    assert deleted.status_code == 302, deleted.get_data(as_text=True)[:300]
    session.rollback()
    assert session.scalars(select(SignIn).where(SignIn.user_id == ann.id)).all() == []
    assert session.get(User, ann.id).deleted_at is not None  # type: ignore[union-attr]
