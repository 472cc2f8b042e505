"""The console's discount codes: the list and its figures, new, edit, switch off and on,
delete, the audit log and who may use the pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shop.console.models import AuditEntry
from shop.db import utcnow
from shop.form_fields import CONTROL_MESSAGE, DATE_TIME_MESSAGE
from shop.promotions import admin, codes
from shop.promotions.models import AMOUNT, FREE_DELIVERY, PERCENT, PromoCode
from tests import factories
from tests.console_support import client_as, console_token
from tests.web.page_forms import open_form, read_form
from tests.web.test_accessibility import assert_accessible, problems
from tests.web.test_query_counts import counted

NEW = "/console/promotions/new"
LIST = "/console/promotions/"
MINUTE = "%Y-%m-%dT%H:%M"


def at(moment: datetime) -> str:
    """A time as a browser's date-time picker sends it."""
    return moment.strftime(MINUTE)


def in_days(days: float) -> datetime:
    """A whole minute `days` from now (UTC), as the form stores times."""
    return (utcnow() + timedelta(days=days)).replace(second=0, microsecond=0)


def new_form(token: str, **fields: str) -> dict[str, str]:
    """A filled-in "New discount code" form: 10% off with no conditions, unless told."""
    return {
        "csrf_token": token,
        "code": "WELCOME10",
        "kind": PERCENT,
        "percent": "10",
        "amount": "",
        "min_spend": "",
        "starts_at": "",
        "ends_at": "",
        "max_uses": "",
        "description": "",
    } | fields


def find(session: Session, code: str) -> PromoCode | None:
    session.rollback()
    return session.scalar(select(PromoCode).where(PromoCode.code == code))


def promo_count(session: Session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(PromoCode)) or 0


def audit_entries(session: Session, prefix: str = "promotions.") -> list[AuditEntry]:
    session.rollback()
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
        )
    )


def merchandiser(app: Flask, session: Session) -> tuple[FlaskClient, str]:
    client = client_as(app, session, "merchandiser")
    return client, console_token(client, NEW)


def row_cells(html: str, code: str) -> dict[str, str]:
    """The list's cells of one code (by data-col), as text without tags."""
    match = re.search(rf'<tr data-testid="promo-row" data-code="{code}".*?</tr>', html, re.S)
    assert match, f"no row for {code}"
    cells = re.findall(r'<td[^>]*data-col="([\w-]+)"[^>]*>(.*?)</td>', match.group(0), re.S)
    return {name: " ".join(re.sub(r"<[^>]+>", " ", text).split()) for name, text in cells}


# --- creating ---------------------------------------------------------------------------


def test_creating_a_percentage_code_stores_it_and_audits(app: Flask, session: Session) -> None:
    client, token = merchandiser(app, session)
    page = client.get(NEW)
    assert page.status_code == 200 and "New discount code" in page.get_data(as_text=True)
    starts, ends = in_days(1), in_days(30)
    response = client.post(
        NEW,
        data=new_form(
            token,
            code=" welcome 10 ",
            percent="12.5%",
            min_spend="£30",
            starts_at=at(starts),
            ends_at=at(ends),
            max_uses="100",
            once_per_customer="y",
            description="  Autumn flyer  ",
            amount="999",  # another kind's value is not read
        ),
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    saved = find(session, "WELCOME10")
    assert saved is not None
    assert (saved.kind, saved.percent_bp, saved.amount_pence) == (PERCENT, 1250, None)
    assert (saved.min_subtotal_pence, saved.starts_at, saved.ends_at) == (3000, starts, ends)
    assert (saved.max_uses, saved.once_per_customer, saved.uses) == (100, True, 0)
    assert (saved.active, saved.description) == (True, "Autumn flyer")
    assert saved.created_by_email == "merchandiser@example.com"
    [entry] = audit_entries(session)
    assert (entry.action, entry.target, entry.actor_email) == (
        "promotions.create",
        "code WELCOME10",
        "merchandiser@example.com",
    )
    assert entry.before is None and entry.after["code"] == "WELCOME10"
    assert entry.after["percent_bp"] == 1250 and entry.after["ends_at"] == ends.isoformat()
    listing = client.get(LIST).get_data(as_text=True)
    assert f"Created the code WELCOME10: shoppers can use it from {starts:%d %b %Y %H:%M} UTC." in (
        listing
    )
    cells = row_cells(listing, "WELCOME10")
    assert cells["gives"] == "12.5% off"
    assert "Minimum spend £30.00 on goods" in cells["conditions"]
    assert f"From {starts:%d %b %Y %H:%M} UTC" in cells["conditions"]
    assert f"Until {ends:%d %b %Y %H:%M} UTC" in cells["conditions"]
    assert "Once per customer" in cells["conditions"] and "At most 100 uses" in cells["conditions"]
    assert cells["uses"] == "0 of 100" and cells["status"] == "Scheduled"


def test_creating_an_amount_code_and_a_free_delivery_code(app: Flask, session: Session) -> None:
    client, token = merchandiser(app, session)
    response = client.post(
        NEW, data=new_form(token, code="FIVER", kind=AMOUNT, amount="4.50", percent="abc")
    )
    assert response.status_code == 302
    response = client.post(
        NEW, data=new_form(token, code="SHIPFREE", kind=FREE_DELIVERY, min_spend="0")
    )
    assert response.status_code == 302
    fiver, ship = find(session, "FIVER"), find(session, "SHIPFREE")
    assert fiver is not None and ship is not None
    assert (fiver.kind, fiver.amount_pence, fiver.percent_bp) == (AMOUNT, 450, None)
    assert (fiver.min_subtotal_pence, fiver.max_uses, fiver.once_per_customer) == (0, None, False)
    assert (fiver.starts_at, fiver.ends_at, fiver.active) == (None, None, True)
    assert (ship.kind, ship.amount_pence, ship.percent_bp) == (FREE_DELIVERY, None, None)
    assert [e.target for e in audit_entries(session)] == ["code FIVER", "code SHIPFREE"]
    listing = client.get(LIST).get_data(as_text=True)
    assert row_cells(listing, "FIVER")["gives"] == "£4.50 off"
    assert row_cells(listing, "SHIPFREE")["gives"] == "Free standard delivery"
    assert row_cells(listing, "SHIPFREE")["conditions"] == "None"
    assert row_cells(listing, "SHIPFREE")["uses"] == "0 (no limit)"
    assert row_cells(listing, "SHIPFREE")["status"] == "Active"
    # Newest first.
    assert listing.index('data-code="SHIPFREE"') < listing.index('data-code="FIVER"')


def _bad_inputs() -> list[tuple[dict[str, str], str, str]]:
    """(fields, field in error, message) for every kind of bad input."""
    past, later = in_days(-1), in_days(5)
    return [
        ({"code": ""}, "code", "Enter a code."),
        ({"code": "   "}, "code", "Enter a code."),
        ({"code": "AB"}, "code", codes.CODE_RULE),
        ({"code": "SUMMER!"}, "code", codes.CODE_RULE),
        ({"code": "-SUMMER"}, "code", codes.CODE_RULE),
        ({"code": "X" * 33}, "code", codes.CODE_RULE),
        ({"code": "X" * 500}, "code", codes.CODE_RULE),
        ({"code": "ÉTÉ2026"}, "code", codes.CODE_RULE),
        ({"kind": ""}, "kind", "Choose what the code gives."),
        ({"kind": "bogo"}, "kind", "Choose what the code gives."),
        ({"percent": ""}, "percent", "Enter the percentage off, such as 10."),
        ({"percent": "0"}, "percent", admin.PERCENT_MESSAGE),
        ({"percent": "100.01"}, "percent", admin.PERCENT_MESSAGE),
        ({"percent": "12.345"}, "percent", admin.PERCENT_MESSAGE),
        ({"percent": "-5"}, "percent", admin.PERCENT_MESSAGE),
        ({"percent": "ten"}, "percent", admin.PERCENT_MESSAGE),
        ({"kind": AMOUNT, "amount": ""}, "amount", "Enter the amount off in pounds, such as 5."),
        ({"kind": AMOUNT, "amount": "0"}, "amount", admin.AMOUNT_MESSAGE),
        ({"kind": AMOUNT, "amount": "10000.01"}, "amount", admin.AMOUNT_MESSAGE),
        ({"kind": AMOUNT, "amount": "4.555"}, "amount", admin.AMOUNT_MESSAGE),
        ({"kind": AMOUNT, "amount": "five"}, "amount", admin.AMOUNT_MESSAGE),
        ({"min_spend": "-1"}, "min_spend", admin.MIN_SPEND_MESSAGE),
        ({"min_spend": "lots"}, "min_spend", admin.MIN_SPEND_MESSAGE),
        ({"min_spend": "200000"}, "min_spend", "Use a minimum spend of at most £100,000.00."),
        ({"starts_at": "tomorrow"}, "starts_at", DATE_TIME_MESSAGE),
        ({"ends_at": "2026-13-01 10:00"}, "ends_at", DATE_TIME_MESSAGE),
        ({"starts_at": "3100-01-01 10:00"}, "starts_at", "Choose a date from 1 January 1900"),
        (
            {"starts_at": at(later), "ends_at": at(later - timedelta(hours=1))},
            "ends_at",
            "The end must be after the start.",
        ),
        (
            {"starts_at": at(later), "ends_at": at(later)},
            "ends_at",
            "The end must be after the start.",
        ),
        ({"ends_at": at(past)}, "ends_at", "That time has passed: choose a later end"),
        ({"max_uses": "0"}, "max_uses", "Use a whole number from 1 to 10,000,000"),
        ({"max_uses": "-3"}, "max_uses", "Use a whole number from 1 to 10,000,000"),
        ({"max_uses": "99999999999"}, "max_uses", "Use a whole number from 1 to 10,000,000"),
        ({"max_uses": "1.5"}, "max_uses", "Not a valid integer value."),
        ({"description": "x" * 201}, "description", "At most 200 characters."),
        ({"description": "tab\there"}, "description", CONTROL_MESSAGE),
    ]


def test_every_bad_input_is_a_field_error_and_stores_nothing(app: Flask, session: Session) -> None:
    client, token = merchandiser(app, session)
    for fields, name, message in _bad_inputs():
        response = client.post(NEW, data=new_form(token, **fields))
        html = response.get_data(as_text=True)
        assert response.status_code == 400, (fields, response.status_code)
        form = read_form(html)
        assert any(message in error for error in form.errors), (fields, form.errors)
        assert f'id="{name}-error"' in html, fields
        assert 'data-testid="error-summary"' in html and f'href="#{name}"' in html, fields
        assert promo_count(session) == 0, fields
    assert audit_entries(session) == []


def test_a_taken_code_is_a_field_error_in_any_case(app: Flask, session: Session) -> None:
    factories.promo_code(session, "SUMMER10", description="the first")
    client, token = merchandiser(app, session)
    for typed in ("SUMMER10", "summer10", " Summer 10 "):
        response = client.post(NEW, data=new_form(token, code=typed, kind=AMOUNT, amount="5"))
        html = response.get_data(as_text=True)
        assert response.status_code == 400, typed
        assert "There is already a code SUMMER10; choose another." in html
        assert 'data-testid="error-summary"' in html
    assert promo_count(session) == 1
    kept = find(session, "SUMMER10")
    assert kept is not None and (kept.kind, kept.description) == (PERCENT, "the first")
    assert audit_entries(session) == []


def test_a_code_taken_by_a_request_at_the_same_moment_is_a_field_error(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    factories.promo_code(session, "RACE10")
    client, token = merchandiser(app, session)
    # As if the other request committed between this one's check and its insert.
    monkeypatch.setattr(admin, "_code_taken", lambda _session, _code: False)
    response = client.post(NEW, data=new_form(token, code="race10"))
    assert response.status_code == 400
    assert "There is already a code RACE10; choose another." in response.get_data(as_text=True)
    assert promo_count(session) == 1
    assert audit_entries(session) == []


# --- editing ----------------------------------------------------------------------------


def test_editing_saves_every_field_but_the_code_and_kind(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "EDIT10", description="old", max_uses=50)
    client = client_as(app, session, "merchandiser")
    path = f"/console/promotions/{row.id}/edit"
    form = open_form(client, path)
    assert (form["percent"], form["max_uses"], form["description"]) == ("10", "50", "old")
    assert "code" not in form and "kind" not in form and "amount" not in form
    page = client.get(path).get_data(as_text=True)
    assert "Percentage off the goods" in page and "(cannot be changed)" in page
    starts, ends = in_days(-2), in_days(-1)  # an end in the past is fine on an edit
    response = client.post(
        path,
        data=form
        | {
            "code": "OTHER",
            "kind": AMOUNT,
            "amount": "5",
            "percent": "15",
            "min_spend": "25.5",
            "starts_at": at(starts),
            "ends_at": at(ends),
            "max_uses": "",
            "once_per_customer": "y",
            "description": "new note",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(path)
    saved = find(session, "EDIT10")
    assert saved is not None and find(session, "OTHER") is None
    assert (saved.kind, saved.percent_bp, saved.amount_pence) == (PERCENT, 1500, None)
    assert (saved.min_subtotal_pence, saved.starts_at, saved.ends_at) == (2550, starts, ends)
    assert (saved.max_uses, saved.once_per_customer, saved.description) == (None, True, "new note")
    [entry] = audit_entries(session)
    assert (entry.action, entry.target) == ("promotions.update", "code EDIT10")
    assert entry.before == {
        "description": "old",
        "percent_bp": 1000,
        "min_subtotal_pence": 0,
        "starts_at": None,
        "ends_at": None,
        "max_uses": 50,
        "once_per_customer": False,
    }
    assert entry.after["percent_bp"] == 1500 and entry.after["ends_at"] == ends.isoformat()
    page = client.get(path).get_data(as_text=True)
    assert "Saved EDIT10." in page and 'data-status="ended"' in page
    # The same form again changes nothing and writes no entry.
    again = client.post(path, data=open_form(client, path))
    assert again.status_code == 302
    assert "Nothing to save: EDIT10 is unchanged." in client.get(path).get_data(as_text=True)
    assert len(audit_entries(session)) == 1


def test_the_use_limit_cannot_go_below_the_uses_so_far(app: Flask, session: Session) -> None:
    row = factories.promo_code(
        session, "LIMIT", kind=AMOUNT, percent_bp=None, amount_pence=500, max_uses=10
    )
    row.uses = 3
    session.commit()
    client = client_as(app, session, "merchandiser")
    path = f"/console/promotions/{row.id}/edit"
    form = open_form(client, path)
    assert form["amount"] == "5.00" and "percent" not in form
    response = client.post(path, data=form | {"max_uses": "2", "description": "lower"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "3 orders have used this code or hold it now: the limit cannot be lower than 3." in html
    assert 'data-testid="error-summary"' in html and 'href="#max_uses"' in html
    saved = find(session, "LIMIT")
    assert saved is not None and (saved.max_uses, saved.description) == (10, "")
    assert audit_entries(session) == []
    assert client.post(path, data=form | {"max_uses": "3"}).status_code == 302
    saved = find(session, "LIMIT")
    assert saved is not None and saved.max_uses == 3
    listing = client.get(LIST).get_data(as_text=True)
    assert row_cells(listing, "LIMIT")["status"] == "Used up"
    assert row_cells(listing, "LIMIT")["uses"] == "3 of 3"


def test_an_edit_saved_meanwhile_is_not_overwritten(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "BOTH", description="old", max_uses=50)
    path = f"/console/promotions/{row.id}/edit"
    first = client_as(app, session, "merchandiser")
    second = client_as(app, session, "admin")
    theirs, mine = open_form(first, path), open_form(second, path)
    saved = first.post(path, data=theirs | {"min_spend": "30", "max_uses": "80"})
    assert saved.status_code == 302

    # The second form changes the use limit too, and the note.
    response = second.post(path, data=mine | {"max_uses": "60", "description": "mine"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone saved this code after you opened this page, so nothing was saved." in html
    again = read_form(html)
    assert again.values["min_spend"] == "30.00"  # left alone here: the saved value shown
    assert again.values["max_uses"] == "60" and again.values["description"] == "mine"
    assert "Changed meanwhile: the form shows it now." in again.errors
    assert "Changed meanwhile to 80; yours is kept: save to use it." in again.errors
    assert 'href="#min_spend"' in html and 'href="#max_uses"' in html
    current = find(session, "BOTH")
    assert current is not None
    assert (current.min_subtotal_pence, current.max_uses, current.description) == (3000, 80, "old")
    assert len(audit_entries(session)) == 1

    # Saving the corrected form keeps both people's changes.
    assert second.post(path, data=again.values).status_code == 302
    current = find(session, "BOTH")
    assert current is not None
    assert (current.min_subtotal_pence, current.max_uses, current.description) == (3000, 60, "mine")
    # A form that does not say what it showed changes nothing it would overwrite.
    blind = second.post(path, data=open_form(second, path) | {"opened": "x", "max_uses": "70"})
    assert blind.status_code == 409
    assert read_form(blind.get_data(as_text=True)).errors == [
        "Changed meanwhile to 60; yours is kept: save to use it."
    ]
    assert len(audit_entries(session)) == 2


def test_edit_errors_are_field_errors_and_save_nothing(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "EDITBAD", kind=AMOUNT, percent_bp=None, amount_pence=500)
    client = client_as(app, session, "merchandiser")
    path = f"/console/promotions/{row.id}/edit"
    form = open_form(client, path)
    later = in_days(3)
    for fields, message in (
        ({"amount": ""}, "Enter the amount off in pounds, such as 5."),
        ({"amount": "20000"}, admin.AMOUNT_MESSAGE),
        ({"starts_at": at(later), "ends_at": at(later)}, "The end must be after the start."),
        ({"max_uses": "0"}, "Use a whole number from 1 to 10,000,000"),
        ({"min_spend": "abc"}, admin.MIN_SPEND_MESSAGE),
    ):
        response = client.post(path, data=form | fields)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, fields
        assert any(message in error for error in read_form(html).errors), fields
        assert 'data-testid="error-summary"' in html, fields
    saved = find(session, "EDITBAD")
    assert saved is not None and (saved.amount_pence, saved.ends_at) == (500, None)
    assert audit_entries(session) == []


# --- switching off and on, deleting -------------------------------------------------------


def test_a_switched_off_code_stops_applying_at_once(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "OFFON")
    client, token = merchandiser(app, session)
    path = f"/console/promotions/{row.id}"

    def applied() -> codes.PromoOffer:
        session.rollback()
        found = codes.offer(session, "offon", 5000, now=utcnow())
        assert found is not None
        return found

    assert applied().applies and applied().discount_pence == 500
    response = client.post(f"{path}/switch-off", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}/edit")
    off = applied()
    assert not off.applies and off.discount_pence == 0
    assert off.problem == "The code OFFON is no longer available."
    page = client.get(f"{path}/edit").get_data(as_text=True)
    assert "Switched OFFON off: it no longer applies to any cart." in page
    assert 'data-status="off"' in page and 'data-testid="switch-on"' in page
    # A second click changes nothing and is not audited again.
    client.post(f"{path}/switch-off", data={"csrf_token": token})
    assert "was already switched off" in client.get(f"{path}/edit").get_data(as_text=True)
    # From the list, the button comes back to the list.
    response = client.post(f"{path}/switch-on", data={"csrf_token": token, "back": "list"})
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    assert "Switched OFFON on: it applies again." in client.get(LIST).get_data(as_text=True)
    assert applied().discount_pence == 500
    entries = audit_entries(session)
    assert [(e.action, e.target, e.before, e.after) for e in entries] == [
        ("promotions.switch_off", "code OFFON", {"active": True}, {"active": False}),
        ("promotions.switch_on", "code OFFON", {"active": False}, {"active": True}),
    ]


def test_switching_on_an_ended_code_says_it_has_ended(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "GONE", active=False, ends_at=in_days(-1))
    client, token = merchandiser(app, session)
    client.post(f"/console/promotions/{row.id}/switch-on", data={"csrf_token": token})
    page = client.get(f"/console/promotions/{row.id}/edit").get_data(as_text=True)
    assert "Switched GONE on, but it has ended" in page
    saved = find(session, "GONE")
    assert saved is not None and saved.active


def test_a_code_no_order_used_can_be_deleted(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "TYPO10")
    client, token = merchandiser(app, session)
    page = client.get(f"/console/promotions/{row.id}/edit").get_data(as_text=True)
    assert 'data-testid="delete-promo"' in page
    response = client.post(f"/console/promotions/{row.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    assert find(session, "TYPO10") is None
    [entry] = audit_entries(session)
    assert (entry.action, entry.target, entry.after) == ("promotions.delete", "code TYPO10", None)
    assert entry.before["code"] == "TYPO10" and entry.before["percent_bp"] == 1000
    assert "Deleted the code TYPO10." in client.get(LIST).get_data(as_text=True)


def test_a_code_orders_used_cannot_be_deleted(app: Flask, session: Session) -> None:
    held = factories.promo_code(session, "HELD")
    held.uses = 1  # an unpaid order holds it
    released = factories.promo_code(
        session, "RELEASED"
    )  # its order was cancelled and gave the use back
    factories.bare_order(
        session, "PR-1", utcnow(), 900, status="cancelled", promo_code_id=released.id
    )
    session.commit()
    client, token = merchandiser(app, session)
    for row in (held, released):
        path = f"/console/promotions/{row.id}"
        assert 'data-testid="delete-promo"' not in client.get(f"{path}/edit").get_data(as_text=True)
        response = client.post(f"{path}/delete", data={"csrf_token": token})
        assert response.status_code == 302 and response.headers["Location"].endswith(f"{path}/edit")
        page = client.get(f"{path}/edit").get_data(as_text=True)
        assert f"The code {row.code} has been used on orders" in page
        assert "Switch it off instead" in page
    assert promo_count(session) == 2
    assert audit_entries(session) == []


# --- the list -------------------------------------------------------------------------------


def test_the_list_shows_each_codes_paid_orders(app: Flask, session: Session) -> None:
    now = utcnow()
    a = factories.promo_code(session, "AAA", created_at=now - timedelta(days=3))
    b = factories.promo_code(session, "BBB", kind=AMOUNT, percent_bp=None, amount_pence=500)
    b.created_at = now - timedelta(days=2)
    factories.promo_code(session, "CCC", kind=FREE_DELIVERY, percent_bp=None, created_at=now)
    placed = now - timedelta(hours=1)
    for number, status, total, off, refunded in (
        ("A-1", "paid", 4000, 400, 0),
        ("A-2", "shipped", 3000, 300, 1000),
        ("A-3", "refunded", 2000, 200, 2000),
        ("A-4", "partially_refunded", 1000, 100, 250),
        ("A-5", "pending_payment", 5000, 500, 0),  # not paid yet
        ("A-6", "cancelled", 6000, 600, 0),  # never paid
    ):
        factories.bare_order(
            session,
            number,
            placed,
            total,
            status=status,
            promo_code_id=a.id,
            promo_code=a.code,
            promo_discount_pence=off,
            refunded_pence=refunded,
        )
    factories.bare_order(
        session,
        "B-1",
        placed,
        2500,
        status="delivered",
        promo_code_id=b.id,
        promo_discount_pence=500,
    )
    factories.bare_order(session, "N-1", placed, 7000, status="paid")  # without a code
    session.commit()
    client = client_as(app, session, "merchandiser")
    with counted() as small:
        html = client.get(LIST).get_data(as_text=True)
    cells = row_cells(html, "AAA")
    assert (cells["orders"], cells["discount"], cells["paid"]) == ("4", "£10.00", "£67.50")
    cells = row_cells(html, "BBB")
    assert (cells["orders"], cells["discount"], cells["paid"]) == ("1", "£5.00", "£25.00")
    cells = row_cells(html, "CCC")
    assert (cells["orders"], cells["discount"], cells["paid"]) == ("0", "£0.00", "£0.00")
    assert (
        html.index('data-code="CCC"')
        < html.index('data-code="BBB"')
        < html.index('data-code="AAA"')
    )
    # One query for the codes and their figures, however many codes there are.
    for n in range(5):
        factories.promo_code(session, f"MORE{n}")
        factories.bare_order(session, f"M-{n}", placed, 100, status="paid", promo_code_id=a.id)
    session.commit()
    with counted() as large:
        assert client.get(LIST).status_code == 200
    assert len(large) == len(small)


def test_the_list_shows_each_status(app: Flask, session: Session) -> None:
    factories.promo_code(session, "LIVE", max_uses=5, uses=4)
    factories.promo_code(session, "SOON", starts_at=in_days(2))
    factories.promo_code(session, "PAST", ends_at=in_days(-2))
    factories.promo_code(session, "FULL", max_uses=5, uses=5)
    factories.promo_code(session, "OFF", active=False, ends_at=in_days(-2))
    client = client_as(app, session, "merchandiser")
    html = client.get(LIST).get_data(as_text=True)
    assert {code: row_cells(html, code)["status"] for code in admin_codes(session)} == {
        "LIVE": "Active",
        "SOON": "Scheduled",
        "PAST": "Ended",
        "FULL": "Used up",
        "OFF": "Switched off",
    }
    assert row_cells(html, "LIVE")["uses"] == "4 of 5"


def admin_codes(session: Session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(PromoCode.code)))


def test_the_empty_list_says_what_codes_are_for(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    response = client.get(LIST)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="no-promos"' in html and "No discount codes yet." in html
    assert "a word shoppers type into their cart" in html
    assert f'href="{LIST}"' in html and ">Discount codes</a>" in html  # the menu entry
    assert client.get("/console/promotions").status_code in (301, 308)


def test_the_pages_meet_the_accessibility_basics(app: Flask, session: Session) -> None:
    used = factories.promo_code(
        session, "USED", uses=2, min_subtotal_pence=2000, description="flyer"
    )
    fresh = factories.promo_code(
        session, "FRESH", kind=FREE_DELIVERY, percent_bp=None, active=False
    )
    client, token = merchandiser(app, session)
    assert assert_accessible(client, LIST).tables
    for row in (used, fresh):
        assert_accessible(client, f"/console/promotions/{row.id}/edit")
    bad = client.post(NEW, data=new_form(token, code="!", kind="", max_uses="0"))
    assert bad.status_code == 400 and problems(bad.get_data(as_text=True)) == []


# --- who may use the pages ---------------------------------------------------------------


def _routes(promo_id: int) -> list[tuple[str, str]]:
    base = f"/console/promotions/{promo_id}"
    return [
        ("GET", LIST),
        ("GET", NEW),
        ("POST", NEW),
        ("GET", f"{base}/edit"),
        ("POST", f"{base}/edit"),
        ("POST", f"{base}/switch-off"),
        ("POST", f"{base}/switch-on"),
        ("POST", f"{base}/delete"),
    ]


@pytest.mark.parametrize("role", ["anonymous", "shopper"])
def test_visitors_and_shoppers_get_404(app: Flask, session: Session, role: str) -> None:
    row = factories.promo_code(session, "STAFFONLY")
    client = client_as(app, session, role)
    token = console_token(client, "/")
    for method, path in _routes(row.id):
        response = client.open(path, method=method, data=new_form(token, code="SNEAKY"))
        assert response.status_code == 404, (role, method, path)
        assert "console-nav" not in response.get_data(as_text=True)
    saved = find(session, "STAFFONLY")
    assert saved is not None and saved.active
    assert promo_count(session) == 1 and audit_entries(session) == []


def test_admins_manage_codes_too(app: Flask, session: Session) -> None:
    client = client_as(app, session, "admin")
    token = console_token(client, NEW)
    assert client.post(NEW, data=new_form(token, code="ADMIN5")).status_code == 302
    [entry] = audit_entries(session)
    assert entry.actor_email == "admin@example.com"
    # Merchandisers see the admin's change in the audit log.
    merch = client_as(app, session, "merchandiser")
    log = merch.get("/console/audit?action=promotions.").get_data(as_text=True)
    assert "promotions.create" in log and "code ADMIN5" in log


def test_unknown_codes_are_404(app: Flask, session: Session) -> None:
    client, token = merchandiser(app, session)
    for method, path in _routes(999_999)[3:]:
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 404, (method, path)
    assert client.get("/console/promotions/99999999999999999999/edit").status_code == 404


def test_changes_without_a_csrf_token_are_refused(app: Flask, session: Session) -> None:
    row = factories.promo_code(session, "TOKEN")
    client, token = merchandiser(app, session)
    for method, path in _routes(row.id):
        if method != "POST":
            continue
        data = new_form(token, code="NOTOKEN")
        data.pop("csrf_token")
        response = client.post(path, data=data)
        assert response.status_code == 400, path
    saved = find(session, "TOKEN")
    assert saved is not None and saved.active
    assert promo_count(session) == 1 and audit_entries(session) == []
