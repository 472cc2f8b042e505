"""Console customer analytics: RFM segments, value, cohorts and the shopping funnel."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.models import CommunicationPreference, Membership
from shop.accounts.models import User
from shop.analytics import customers, shopping_funnel
from shop.analytics.online import Period
from shop.console.models import AuditEntry
from shop.db import db, utcnow
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as
from tests.helpers import sqlite_plans


def _days_ago(days: int) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days), time(12))


def _shop(session: Session) -> dict[str, int]:
    """Ten customers with different histories, plus orders analytics must leave out."""
    ids: dict[str, int] = {}
    # The best customer: 6 recent orders. Then customers ever further from it.
    best = factories.member(session, "best@example.com", tier="Gold")
    ids["best"] = best.id
    for n in range(6):
        factories.bare_order(session, f"B{n}", _days_ago(2 + 30 * n), 10_000, user_id=best.id)
    session.add(
        CommunicationPreference(
            user_id=best.id, topic="weekly_deals", status="on", updated_at=utcnow()
        )
    )
    for i in range(8):
        account = factories.user(session, f"c{i}@example.com", f"C{i}")
        ids[f"c{i}"] = account.id
        for n in range(1 + i % 3):
            placed = _days_ago(20 + 40 * i + n)
            factories.bare_order(session, f"C{i}-{n}", placed, 1000 * (i + 1), user_id=account.id)
    imported = User(external_ref="12748", name="")
    session.add(imported)
    session.flush()
    ids["imported"] = imported.id
    factories.bare_order(session, "I1", _days_ago(400), 500, user_id=imported.id, source="import")
    factories.bare_order(
        session, "R1", _days_ago(390), -200, user_id=imported.id, kind="return", status="refunded"
    )
    # A guest with two orders under one address, written differently.
    factories.bare_order(session, "G1", _days_ago(5), 2500, email="Guest@Example.com")
    factories.bare_order(session, "G2", _days_ago(1), 2500, email="guest@example.com")
    # Left out: no customer to tell apart, not paid, wholly refunded, a staff test order.
    factories.bare_order(session, "N1", _days_ago(3), 900, source="import")
    factories.bare_order(session, "P1", _days_ago(1), 900, status="pending_payment", email="x@y.z")
    factories.bare_order(session, "F1", _days_ago(1), 900, status="refunded", email="r@y.z")
    staff = factories.staff(session, "admin", "boss@example.com")
    factories.bare_order(session, "S1", _days_ago(1), 99_999, user_id=staff.id)
    session.commit()
    return ids


def _metric(html: str, name: str) -> str:
    return html.split(f'data-metric="{name}">')[1].split("<")[0]


def _segment_row(html: str, slug: str) -> str:
    return html.split(f'data-segment="{slug}"')[1].split("</tr>")[0]


def test_an_empty_shop_says_so(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    page = client.get("/console/customers/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<a href="/console/customers/" aria-current="page">Customers</a>' in html
    # The other analytics pages are in the same area of the menu.
    funnel = client.get("/console/customers/funnel").get_data(as_text=True)
    assert '<a href="/console/customers/" aria-current="true">Customers</a>' in funnel
    assert "No customer has a paid order yet." in html
    assert "Nobody changed segment in the last 30 days." in html
    assert _metric(_segment_row(html, "champions"), "customers") == "0"
    assert 'href="/console/customers/"' in html  # in the console's menu


def test_the_overview_counts_customers_value_and_segments(app: Flask, session: Session) -> None:
    _shop(session)
    client = client_as(app, session, "merchandiser")
    html = client.get("/console/customers/").get_data(as_text=True)
    totals = html.split('data-testid="customer-totals"')[1].split("</dl>")[0]
    # 1 best + 8 accounts + 1 imported + 1 guest; not the unpaid, refunded or staff orders.
    assert _metric(totals, "customers") == "11"
    # best, c1, c2, c4, c5, c7 (2 or 3 orders) and the guest: 7 of 11
    assert _metric(totals, "repeat_share") == "63.6%"
    assert "1 paid order with neither an account nor an e-mail address" in html
    champions = _segment_row(html, "champions")
    assert _metric(champions, "customers") == "1"
    assert 'href="/console/customers/segments/champions"' in champions
    counts = [int(_metric(_segment_row(html, s), "customers")) for s in _slugs()]
    assert sum(counts) == 11
    # Who moved in 30 days: c0 and the guest had no order then.
    moves = html.split('data-testid="moves-table"')[1].split("</table>")[0]
    new = [part.split("</tr>")[0] for part in moves.split('data-move="new-')[1:]]
    assert sum(int(_metric(row, "customers")) for row in new) == 2
    assert "No order yet" in moves
    # A segment nobody is in is not a link.
    empty = next(s for s, n in zip(_slugs(), counts, strict=True) if n == 0)
    assert "href" not in _segment_row(html, empty).split("</th>")[0]


def _slugs() -> list[str]:
    from shop.analytics.rfm import SEGMENT_LIST

    return [s.slug for s in SEGMENT_LIST]


def _segment_of(client: FlaskClient, label: str) -> str:
    html = client.get("/console/customers/").get_data(as_text=True)
    for slug in _slugs():
        if _metric(_segment_row(html, slug), "customers") != "0":
            page = client.get(f"/console/customers/segments/{slug}").get_data(as_text=True)
            if f'data-customer="{label}"' in page:
                return slug
    raise AssertionError(f"{label} is in no segment")


def test_a_segment_lists_its_customers_with_tier_consent_and_a_link_to_their_orders(
    app: Flask, session: Session
) -> None:
    ids = _shop(session)
    client = client_as(app, session, "merchandiser")
    page = client.get("/console/customers/segments/champions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = html.split('data-customer="best@example.com"')[1].split("</tr>")[0]
    assert "Gold" in row and "Weekly deals" in row and "£600.00" in row
    assert f'href="/console/customers/account/{ids["best"]}"' in row
    assert "Reward them" in html
    # The guest is one customer, by address; the imported customer goes by their number.
    assert _segment_of(client, "guest@example.com")
    assert _segment_of(client, "Customer 12748")
    orders = client.get(f"/console/orders/?customer=account+{ids['best']}")
    assert orders.get_data(as_text=True).count('href="/console/orders/') >= 6


def test_a_segment_download_is_csv_escaped_and_audited(app: Flask, session: Session) -> None:
    _shop(session)
    factories.bare_order(session, "E1", _days_ago(1), 70_000, email="=HYPERLINK@example.com")
    session.commit()
    client = client_as(app, session, "merchandiser")
    slug = _segment_of(client, "=hyperlink@example.com")
    response = client.get(f"/console/customers/segments/{slug}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f'filename="customers-{slug}-' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    guest = next(r for r in rows if r["email"].endswith("hyperlink@example.com"))
    assert guest["email"] == "'=hyperlink@example.com"  # never a formula in a spreadsheet
    assert (guest["orders"], guest["spent"], guest["account_id"]) == ("1", "700.00", "")
    session.rollback()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "customers.export"))
    assert entry is not None
    assert entry.target == f"segment {slug}" and entry.after == {"customers": len(rows)}


def test_a_segment_download_while_shoppers_write_is_served_and_audited(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(session)
    session.commit()
    client = client_as(app, session, "merchandiser")
    people = customers._people

    def a_shopper_writes_meanwhile(reading: Session, keys: object) -> object:
        with db.transaction() as tx:  # another request's write, committed mid-download
            tx.add(Event(kind="view", visitor_id="meanwhile", created_at=utcnow()))
        return people(reading, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(customers, "_people", a_shopper_writes_meanwhile)
    response = client.get("/console/customers/segments/champions.csv")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    session.rollback()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "customers.export"))
    assert entry is not None and entry.after == {"customers": len(rows)}
    assert session.scalar(select(Event).where(Event.visitor_id == "meanwhile")) is not None


def test_bad_segment_pages_get_clear_errors(app: Flask, session: Session) -> None:
    _shop(session)
    client = client_as(app, session, "merchandiser")
    unknown = client.get("/console/customers/segments/whales")
    assert unknown.status_code == 404
    assert "There is no segment &#39;whales&#39;; they are Champions" in unknown.get_data(
        as_text=True
    )
    assert client.get("/console/customers/segments/whales.csv").status_code == 404
    past = client.get("/console/customers/segments/champions?page=2")
    assert past.status_code == 404 and "only one page" in past.get_data(as_text=True)
    assert client.get("/console/customers/segments/champions?page=x").status_code == 400


def test_cohorts_show_retention_and_value_by_first_month(app: Flask, session: Session) -> None:
    today = utcnow().date()
    first = datetime.combine(today.replace(day=1), time(9))
    month_before = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    last_month = datetime.combine(month_before, time(9))
    a = factories.user(session, "a@example.com")
    b = factories.user(session, "b@example.com", "B")
    factories.bare_order(session, "A1", last_month, 1000, user_id=a.id)
    factories.bare_order(session, "B1", last_month, 3000, user_id=b.id)
    factories.bare_order(session, "A2", first, 500, user_id=a.id)
    session.commit()
    client = client_as(app, session, "merchandiser")
    html = client.get("/console/customers/cohorts?months=2").get_data(as_text=True)
    retention = html.split('data-testid="retention-table"')[1].split("</table>")[0]
    row = retention.split(f'data-cohort="{last_month:%Y-%m}"')[1].split("</tr>")[0]
    assert ">2</td>" in row and "100%" in row and "50%" in row
    value = html.split('data-testid="value-table"')[1].split("</table>")[0]
    row = value.split(f'data-cohort="{last_month:%Y-%m}"')[1].split("</tr>")[0]
    assert "£20.00" in row and "£22.50" in row
    assert "The first month of the shop's records" in html


def test_bad_cohort_months_get_a_clear_error(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    for raw in ("0", "37", "abc", "1e3", "0001000"):
        page = client.get(f"/console/customers/cohorts?months={raw}")
        assert page.status_code == 400
        assert "Months must be a whole number from 1 to 36" in page.get_data(as_text=True)
    empty = client.get("/console/customers/cohorts")
    assert empty.status_code == 200
    assert "No customer placed a paid order in the last 12 months." in empty.get_data(as_text=True)


def _event(session: Session, kind: str, visitor: str, when: datetime) -> None:
    session.add(Event(kind=kind, visitor_id=visitor, created_at=when))


def test_the_funnel_counts_each_visitor_at_the_furthest_step(app: Flask, session: Session) -> None:
    now = _days_ago(1)
    _event(session, "category_view", "v-browse", now)
    _event(session, "product_view", "v-look", now)
    _event(session, "cart_add", "v-cart", now)  # from a list, without opening the product
    _event(session, "product_view", "v-order", now)
    factories.bare_order(session, "O1", now, 900, status="pending_payment", visitor_id="v-order")
    # Tracking switched off: no events, but the paid order counts all the way.
    factories.bare_order(session, "O2", now, 900, status="shipped", visitor_id="v-paid")
    _event(session, "purchase", "import", now)  # imported history: left out
    _event(session, "product_view", "v-old", _days_ago(40))  # the period before
    session.commit()
    client = client_as(app, session, "merchandiser")
    page = client.get("/console/customers/funnel")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    figures = {}
    for key in ("visited", "viewed", "carted", "ordered", "paid"):
        row = html.split(f'data-step="{key}"')[1].split("</tr>")[0]
        figures[key] = (_metric(row, "visitors"), _metric(row, "previous_visitors"))
    assert figures == {
        "visited": ("5", "1"),
        "viewed": ("4", "1"),
        "carted": ("3", "0"),
        "ordered": ("2", "0"),
        "paid": ("1", "0"),
    }
    carted = html.split('data-step="carted"')[1].split("</tr>")[0]
    assert _metric(carted, "of_previous") == "75.0%"


def test_the_funnel_refuses_bad_dates(app: Flask, session: Session) -> None:
    client = client_as(app, session, "merchandiser")
    page = client.get("/console/customers/funnel?start=2026-13-01")
    assert page.status_code == 400
    assert 'data-testid="funnel-error"' in page.get_data(as_text=True)
    backwards = client.get("/console/customers/funnel?start=2026-05-02&end=2026-05-01")
    assert backwards.status_code == 400
    assert "is before the start date" in backwards.get_data(as_text=True)


def test_only_staff_see_customer_analytics(app: Flask, session: Session) -> None:
    for role in ("anonymous", "shopper"):
        client = client_as(app, session, role)
        assert client.get("/console/customers/").status_code == 404
        assert client.get("/console/customers/segments/champions.csv").status_code == 404
    admin = client_as(app, session, "admin")
    assert admin.get("/console/customers/segments/lost.csv").status_code == 200


def test_a_customer_page_brings_value_orders_loyalty_consent_and_activity_together(
    app: Flask, session: Session
) -> None:
    ids = _shop(session)
    session.add(Event(kind="search", visitor_id="v-best", user_id=ids["best"], query="lamp"))
    session.add(Event(kind="product_view", visitor_id="v-best", user_id=ids["best"]))
    session.add(Event(kind="product_view", visitor_id="v-best", user_id=ids["best"]))
    session.commit()
    client = client_as(app, session, "merchandiser")
    page = client.get(f"/console/customers/account/{ids['best']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>best@example.com</h1>" in html
    value = html.split('data-testid="customer-value"')[1].split("</dl>")[0]
    assert 'href="/console/customers/segments/champions">Champions</a>' in value
    assert _metric(value, "orders") == "6" and _metric(value, "spent") == "£600.00"
    assert html.count('href="/console/orders/') >= 5  # the five latest orders, linked
    assert "All 6 orders" in html
    assert "Member M" in html and "Gold" in html.split('data-testid="customer-loyalty"')[1]
    assert "Confirmed: Weekly deals." in html
    activity = html.split('data-testid="customer-activity"')[1].split("</p>")[0]
    assert "2 product views" in activity and "1 searches" in activity
    assert f"shopper=account+{ids['best']}" in html  # the recommendation preview
    # Only admins get the link to manage the membership.
    assert "/console/loyalty/members/" not in html
    member_id = session.scalar(select(Membership.id).where(Membership.user_id == ids["best"]))
    admin = client_as(app, session, "admin").get(f"/console/customers/account/{ids['best']}")
    assert f'href="/console/loyalty/members/{member_id}"' in admin.get_data(as_text=True)


def test_a_customer_without_paid_orders_and_unknown_or_staff_accounts(
    app: Flask, session: Session
) -> None:
    quiet = factories.user(session, "quiet@example.com", "Quiet")
    staff = factories.staff(session, "merchandiser", "colleague@example.com")
    session.commit()
    client = client_as(app, session, "merchandiser")
    html = client.get(f"/console/customers/account/{quiet.id}").get_data(as_text=True)
    assert "No paid order yet, so no segment." in html
    session.rollback()
    refunded = factories.user(session, "refunded@example.com", "Refunded")
    factories.bare_order(session, "F1", _days_ago(9), 900, status="refunded", user_id=refunded.id)
    session.commit()
    page = client.get(f"/console/customers/account/{refunded.id}").get_data(as_text=True)
    assert "Every paid order was refunded, so no value kept and no segment." in page
    assert "Not a member." in html and "None confirmed: do not send them marketing." in html
    assert "Nothing recorded in the last 30 days." in html
    for missing in (staff.id, 999_999):
        page = client.get(f"/console/customers/account/{missing}")
        assert page.status_code == 404
        assert f"There is no customer account {missing}." in page.get_data(as_text=True)


def test_a_big_segment_is_named_in_chunks_with_nothing_lost(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop(session)
    client = client_as(app, session, "merchandiser")
    whole = {s: client.get(f"/console/customers/segments/{s}.csv").data for s in _slugs()}
    monkeypatch.setattr(customers, "LOOKUP_CHUNK", 1)
    chunked = {s: client.get(f"/console/customers/segments/{s}.csv").data for s in _slugs()}
    assert chunked == whole
    lines = b"".join(chunked.values()).decode().splitlines()
    best = next(line for line in lines if line.startswith("best@example.com,"))
    assert ",best@example.com,Gold,Weekly deals,6," in best


def test_the_funnel_counts_visitors_from_the_index_alone(app: Flask, session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    _event(session, "product_view", "v-look", _days_ago(1))
    session.commit()
    period = Period(utcnow().date(), utcnow().date())
    (plan,) = sqlite_plans(session, lambda: shopping_funnel._furthest_counts(session, period))
    assert "COVERING INDEX ix_events_kind_time_visitor" in plan
