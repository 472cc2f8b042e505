"""Access control on every /console route, for every kind of visitor."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.console import audit
from shop.console.models import AuditEntry
from tests import factories
from tests.console_support import client_as, concrete, console_rules, console_token
from tests.helpers import unsigned


def test_the_console_has_routes_for_each_area(app: Flask) -> None:
    endpoints = {endpoint for _r, endpoint, _m, _a in console_rules(app)}
    assert {"console.index", "console.audit_log", "console.staff_list"} <= endpoints


@pytest.mark.parametrize("role", ["anonymous", "shopper"])
def test_non_staff_get_404_on_every_console_route(app: Flask, session: Session, role: str) -> None:
    client = client_as(app, session, role)
    token = console_token(client, "/")
    for rule, _endpoint, methods, _admin in console_rules(app):
        url = concrete(rule)
        for method in methods:
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code == 404, (role, method, url, response.status_code)
            assert "console-nav" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["anonymous", "shopper"])
def test_non_staff_cannot_tell_console_routes_from_missing_ones(
    app: Flask, session: Session, role: str
) -> None:
    client = client_as(app, session, role)
    methods = ("GET", "POST", "PUT", "DELETE", "PATCH")
    for rule, _endpoint, _methods, _admin in console_rules(app):
        for method in methods:  # no CSRF token, and methods the route doesn't take
            response = client.open(concrete(rule), method=method)
            assert response.status_code == 404, (role, method, rule, response.status_code)
    assert client.post("/console").status_code == 404
    assert client.get("/console/no-such-page").status_code == 404
    # The same page as any missing one, from a fresh browser too (footer, visitor cookie).
    for browser in (client, app.test_client()):
        console, missing = browser.get("/console/products/"), browser.get("/no-such-page")
        page = console.get_data(as_text=True).replace("/console/products/", "/no-such-page")
        assert unsigned(page) == unsigned(missing.get_data(as_text=True))
    fresh, other = app.test_client(), app.test_client()
    console, missing = fresh.get("/console/products/"), other.get("/no-such-page")
    assert ("Set-Cookie" in console.headers) == ("Set-Cookie" in missing.headers)


@pytest.mark.parametrize("role", ["merchandiser", "admin"])
def test_staff_open_every_console_page_without_parameters(
    app: Flask, session: Session, role: str
) -> None:
    client = client_as(app, session, role)
    for rule, endpoint, methods, admin_only in console_rules(app):
        if "GET" not in methods or "<" in rule or endpoint.endswith("_json"):
            continue
        response = client.get(rule)
        expected = 404 if admin_only and role == "merchandiser" else 200
        assert response.status_code == expected, (role, rule, response.status_code)


def test_merchandisers_get_404_on_admin_routes_even_when_posting(
    app: Flask, session: Session
) -> None:
    client = client_as(app, session, "merchandiser")
    token = console_token(client)
    admin_rules = [(r, m) for r, _e, m, admin in console_rules(app) if admin]
    assert admin_rules
    for rule, methods in admin_rules:
        for method in methods:
            response = client.open(concrete(rule), method=method, data={"csrf_token": token})
            assert response.status_code == 404, (method, rule)
        for method in ("GET", "POST", "PUT", "DELETE"):  # no token; methods it doesn't take
            response = client.open(concrete(rule), method=method)
            assert response.status_code == 404, (method, rule, response.status_code)
    # Pages merchandisers may use still answer them as before.
    assert client.post("/console/products/new").status_code == 400  # no CSRF token
    assert client.delete("/console/").status_code == 405


def test_only_admins_manage_staff_and_every_change_is_audited(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    token = console_token(admin, "/console/staff")
    response = admin.post(
        "/console/staff",
        data={
            "csrf_token": token,
            "email": " newmerch@example.com ",  # pasted with spaces around it
            "role": "merchandiser",
            "name": "New Merch",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 302
    session.rollback()
    created = session.scalar(select(User).where(User.email == "newmerch@example.com"))
    assert created is not None and created.role == "merchandiser"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.grant"))
    assert entry is not None
    assert entry.actor_email == "admin@example.com"
    assert entry.before is None and entry.after == "merchandiser"
    page = admin.get("/console/audit").get_data(as_text=True)
    assert "staff.grant" in page and "newmerch@example.com" in page

    response = admin.post(f"/console/staff/{created.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    session.rollback()
    assert session.get(User, created.id).role is None


def test_staff_form_errors_are_shown_not_raised(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    token = console_token(admin, "/console/staff")
    response = admin.post(
        "/console/staff",
        data={"csrf_token": token, "email": "nobody@example.com", "role": "merchandiser"},
    )
    assert response.status_code == 400
    assert "give a password to create one" in response.get_data(as_text=True)
    response = admin.post(
        "/console/staff", data={"csrf_token": token, "email": "x@example.com", "role": "owner"}
    )
    assert response.status_code == 400
    session.rollback()
    assert session.scalar(select(User).where(User.email == "x@example.com")) is None


@pytest.mark.parametrize("password", ["1234567890", "password123", "newstaff@example.com"])
def test_new_staff_accounts_get_the_password_rules_of_a_sign_up(
    app: Flask, session: Session, password: str
) -> None:
    admin = client_as(app, session, "admin")
    token = console_token(admin, "/console/staff")
    response = admin.post(
        "/console/staff",
        data={
            "csrf_token": token,
            "email": "newstaff@example.com",
            "role": "admin",
            "password": password,
        },
    )
    assert response.status_code == 400
    assert "too easy to guess" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(User).where(User.email == "newstaff@example.com")) is None


def test_the_last_admin_cannot_lose_access(app: Flask, session: Session) -> None:
    admin = client_as(app, session, "admin")
    other = factories.staff(session, "admin", "second@example.com")
    session.commit()
    token = console_token(admin, "/console/staff")
    assert (
        admin.post(f"/console/staff/{other.id}/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    session.rollback()
    my_id = session.scalar(select(User.id).where(User.email == "admin@example.com"))
    session.rollback()
    response = admin.post(f"/console/staff/{my_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 302
    session.rollback()
    assert session.get(User, my_id).role == "admin"


def test_the_staff_form_never_changes_a_password_or_the_admins_own_role(
    app: Flask, session: Session
) -> None:
    admin = client_as(app, session, "admin")
    shopper = factories.user(session, "shopper@example.com", "Sam")
    session.commit()
    old_hash = shopper.password_hash
    token = console_token(admin, "/console/staff")
    response = admin.post(
        "/console/staff",
        data={
            "csrf_token": token,
            "email": "shopper@example.com",
            "role": "merchandiser",
            "password": "a new password for someone else",
        },
    )
    assert response.status_code == 400
    assert "keeps its own password" in response.get_data(as_text=True)
    session.rollback()
    unchanged = session.get(User, shopper.id)
    assert unchanged is not None and unchanged.password_hash == old_hash and unchanged.role is None

    response = admin.post(
        "/console/staff",
        data={"csrf_token": token, "email": "admin@example.com", "role": "merchandiser"},
    )
    assert response.status_code == 400
    assert "You cannot change your own role." in response.get_data(as_text=True)
    session.rollback()
    me = session.scalar(select(User).where(User.email == "admin@example.com"))
    assert me is not None and me.role == "admin"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.grant")) is None


def test_the_last_admin_cannot_be_demoted_through_the_form(app: Flask, session: Session) -> None:
    from shop.console import audit, staff

    lone = factories.staff(session, "admin", "lone@example.com")
    session.commit()
    other = audit.Actor(None, "someone else")
    with pytest.raises(staff.StaffError, match="The last admin must stay an admin"):
        staff.grant_role(session, other, "lone@example.com", "merchandiser")
    session.rollback()
    assert session.get(User, lone.id).role == "admin"  # type: ignore[union-attr]


def test_audit_filters_match_text_literally_and_read_offsets_as_utc(
    app: Flask, session: Session
) -> None:
    from datetime import datetime

    from shop.console import audit

    admin = client_as(app, session, "admin")
    entry = audit.record(session, audit.CLI_ACTOR, "merch.publish", "revision 1")
    entry.created_at = datetime(2026, 11, 24, 12, 0)
    session.commit()

    def rows(query: str) -> int:
        page = admin.get(f"/console/audit?{query}")
        assert page.status_code == 200, query
        return page.get_data(as_text=True).count("revision 1")

    assert rows("action=merch.pub") == 1
    assert rows("action=%25publish") == 0 and rows("action=%25") == 0 and rows("action=_") == 0
    assert rows("since=2026-11-24T11:30") == 1 and rows("since=2026-11-24T12:30") == 0
    # 13:30 at +02:00 is 11:30 UTC, before the entry; 08:30 at -05:00 is 13:30 UTC, after it.
    assert rows("since=2026-11-24T13:30%2B02:00") == 1
    assert rows("since=2026-11-24T08:30-05:00") == 0
    past_the_end = admin.get("/console/audit?page=99")
    assert past_the_end.status_code == 404
    assert "There is no page 99" in past_the_end.get_data(as_text=True)
    for bad, message in (
        ("0001-01-01T00:00:00%2B14:00", "from 1 January 1900"),
        ("9999-12-31T23:59:59-14:00", "from 1 January 1900"),
        ("yesterday", "must look like 2026-11-23"),
    ):
        page = admin.get(f"/console/audit?since={bad}")
        assert page.status_code == 400 and message in page.get_data(as_text=True), bad


def test_a_long_audit_value_is_cut_on_the_log_and_whole_in_its_entry(
    app: Flask, session: Session
) -> None:
    from shop.console import audit

    merchandiser = client_as(app, session, "merchandiser")
    changes = {f"SKU-{i:05d}": {"price_pence": i} for i in range(2_000)}
    big = audit.record(session, audit.CLI_ACTOR, "product.import", "CSV import", None, changes)
    small = audit.record(session, audit.CLI_ACTOR, "merch.publish", "revision 2", None, {"a": 1})
    session.commit()
    page = merchandiser.get("/console/audit").get_data(as_text=True)
    assert len(page) < 20_000
    assert "SKU-00000" in page and "SKU-01999" not in page
    assert f'href="/console/audit/{big.id}.json"' in page
    assert f'href="/console/audit/{small.id}.json"' not in page
    whole = merchandiser.get(f"/console/audit/{big.id}.json")
    assert whole.status_code == 200 and whole.get_json()["after"] == changes
    missing = merchandiser.get("/console/audit/999999999.json")
    assert missing.status_code == 404 and "error" in missing.get_json()
    assert merchandiser.get(f"/console/audit/{2**70}.json").status_code == 404


def test_merchandisers_see_no_audit_entries_of_the_admin_only_areas(
    app: Flask, session: Session
) -> None:
    actor = audit.Actor(None, "cli")
    audit.record(session, actor, "staff.grant", "user 9 jane@example.com", None, "admin")
    audit.record(session, actor, "loyalty.points_adjust", "member M1", None, "Sorry Zelda")
    audit.record(session, actor, "product.update", "product 85123A", None, "new name")
    session.commit()
    hidden = [e.id for e in session.scalars(select(AuditEntry)) if e.action != "product.update"]

    merch = client_as(app, session, "merchandiser")
    page = merch.get("/console/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "product.update" in text
    assert "staff.grant" not in text and "Sorry Zelda" not in text
    assert merch.get("/console/audit?action=loyalty").status_code == 200
    assert "Sorry Zelda" not in merch.get("/console/audit?action=loyalty").get_data(as_text=True)
    for entry_id in hidden:
        response = merch.get(f"/console/audit/{entry_id}.json")
        assert response.status_code == 404 and "error" in response.get_json()

    admin = client_as(app, session, "admin")
    text = admin.get("/console/audit").get_data(as_text=True)
    assert "staff.grant" in text and "Sorry Zelda" in text
    assert admin.get(f"/console/audit/{hidden[0]}.json").status_code == 200
