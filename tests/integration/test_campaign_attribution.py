"""Campaign attribution: a ?cmp= visit puts the campaign on the visit's events, and the
console shows exact sends, click-throughs, paid orders and revenue per campaign."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loyalty.campaigns import campaign_stats
from loyalty.models import Campaign, CampaignSend
from shop.catalog.models import Product
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as

KEY = "weekly-2026-W48"
OTHER = "weekly-2026-W47"


def _campaign(session: Session, key: str = KEY, created: datetime | None = None) -> Campaign:
    campaign = Campaign(key=key, kind="weekly_deals", created_at=created or datetime(2026, 11, 23))
    session.add(campaign)
    session.flush()
    return campaign


def _events(session: Session, visitor: FlaskClient | None = None) -> list[tuple[str, str | None]]:
    session.rollback()
    rows = session.execute(select(Event.kind, Event.campaign).order_by(Event.id))
    return [(kind, campaign) for kind, campaign in rows]


def test_a_campaign_visit_marks_its_events(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _campaign(session)
    session.commit()
    heart, jumbo = items["heart"].id, items["jumbo"].id
    visitor = app.test_client()
    assert visitor.get(f"/?cmp={KEY}").status_code == 200
    visitor.get(f"/products/{heart}")
    visitor.get(f"/products/{jumbo}")
    visitor.get("/search?q=bag")
    events = _events(session)
    assert events and all(campaign == KEY for _kind, campaign in events)
    assert {kind for kind, _c in events} >= {"product_view", "search"}
    with visitor.session_transaction() as browser:
        assert browser["campaign"] == KEY


def test_unknown_or_malformed_keys_are_ignored(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _campaign(session)
    session.commit()
    heart = items["heart"].id
    for raw in ("weekly-2030-W01", "x" * 41, "<script>", "", "weekly 2026", KEY + "\n"):
        visitor = app.test_client()
        response = visitor.get(f"/products/{heart}", query_string={"cmp": raw})
        assert response.status_code == 200
        with visitor.session_transaction() as browser:
            assert "campaign" not in browser
    assert {campaign for _kind, campaign in _events(session)} == {None}
    # A visit without a campaign link stays unattributed.
    plain = app.test_client()
    plain.get(f"/products/{heart}")
    assert _events(session)[-1] == ("product_view", None)


def test_a_later_campaign_link_replaces_the_earlier_one(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    _campaign(session)
    _campaign(session, OTHER)
    session.commit()
    visitor = app.test_client()
    visitor.get(f"/products/{items['heart'].id}?cmp={OTHER}")
    visitor.get(f"/products/{items['jumbo'].id}?cmp={KEY}")
    visitor.get(f"/products/{items['lantern'].id}?cmp=unknown-key")  # ignored: keeps KEY
    assert [c for _k, c in _events(session)] == [OTHER, KEY, KEY]


def _order(session: Session, number: str, total: int, status: str, campaign: str | None) -> None:
    placed = factories.order(session, None, number, [])
    placed.total_pence = total
    placed.status = status
    placed.source = "web"
    placed.campaign = campaign


def test_console_shows_exact_numbers(
    app: Flask, session: Session, items: dict[str, Product]
) -> None:
    week48 = _campaign(session, KEY, datetime(2026, 11, 23))
    week47 = _campaign(session, OTHER, datetime(2026, 11, 16))
    _campaign(session, "weekly-2026-W46", datetime(2026, 11, 9))  # nothing happened
    users = [factories.user(session, f"m{n}@example.com", f"M{n}") for n in range(4)]
    for account in users[:3]:
        session.add(CampaignSend(campaign_id=week48.id, user_id=account.id))
    session.add(CampaignSend(campaign_id=week47.id, user_id=users[3].id))
    # Events: 2 distinct visitors for week 48 (one of them with several events), 1 for 47.
    now = datetime(2026, 11, 24, 9, 0)
    for visitor, campaign in (
        ("v1", KEY),
        ("v1", KEY),
        ("v1", KEY),
        ("v2", KEY),
        ("v3", OTHER),
        ("v4", None),
    ):
        session.add(
            Event(kind="product_view", visitor_id=visitor, campaign=campaign, created_at=now)
        )
    # Orders: paid, shipped and partly refunded count; unpaid and cancelled do not.
    _order(session, "HP-1", 1000, "paid", KEY)
    _order(session, "HP-2", 2500, "shipped", KEY)
    _order(session, "HP-3", 700, "partially_refunded", KEY)
    _order(session, "HP-4", 9999, "pending_payment", KEY)
    _order(session, "HP-5", 8888, "cancelled", KEY)
    _order(session, "HP-6", 450, "delivered", OTHER)
    _order(session, "HP-7", 5000, "paid", None)
    session.commit()

    stats = {s.key: s for s in campaign_stats(session)}
    assert [s.key for s in campaign_stats(session)] == [KEY, OTHER, "weekly-2026-W46"]
    assert (stats[KEY].sends, stats[KEY].clicks, stats[KEY].orders) == (3, 2, 3)
    assert stats[KEY].revenue_pence == 4200
    assert (stats[OTHER].sends, stats[OTHER].clicks, stats[OTHER].orders) == (1, 1, 1)
    assert stats[OTHER].revenue_pence == 450
    empty = stats["weekly-2026-W46"]
    assert (empty.sends, empty.clicks, empty.orders, empty.revenue_pence) == (0, 0, 0, 0)

    console = client_as(app, session, "merchandiser")
    response = console.get("/console/campaigns/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    row = page[page.index(f'data-key="{KEY}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-col="sends">3<' in row
    assert 'data-col="clicks">2<' in row
    assert 'data-col="orders">3<' in row
    assert 'data-pence="4200"' in row and "£42.00" in row
    assert 'href="/console/campaigns/"' in page  # in the console's navigation


def test_clicks_count_an_account_once_and_the_click_rate_never_exceeds_all(
    app: Flask, session: Session
) -> None:
    week48 = _campaign(session, KEY, datetime(2026, 11, 23))
    reader, quiet = (factories.user(session, f"r{n}@example.com", f"R{n}") for n in range(2))
    for account in (reader, quiet):
        session.add(CampaignSend(campaign_id=week48.id, user_id=account.id))
    now = datetime(2026, 11, 24, 9, 0)
    clicks = [(reader.id, "phone"), (reader.id, "laptop"), (reader.id, "laptop")]
    clicks += [(None, "forwarded-1"), (None, "forwarded-2"), (None, "forwarded-3")]
    for user_id, visitor in clicks:
        session.add(
            Event(
                kind="product_view",
                user_id=user_id,
                visitor_id=visitor,
                campaign=KEY,
                created_at=now,
            )
        )
    session.commit()

    [stats] = campaign_stats(session)
    # The reader once (two browsers), three people the e-mail was forwarded to.
    assert (stats.sends, stats.clicks, stats.recipients_clicked) == (2, 4, 1)
    assert stats.click_rate == 0.5
    page = client_as(app, session, "merchandiser").get("/console/campaigns/")
    row = page.get_data(as_text=True).split(f'data-key="{KEY}"')[1].split("</tr>")[0]
    assert 'data-col="clicks">4<' in row and 'data-col="click-rate">50.0%<' in row


def test_console_page_is_staff_only(app: Flask, session: Session) -> None:
    for role in ("anonymous", "shopper"):
        session.rollback()
        assert client_as(app, session, role).get("/console/campaigns/").status_code == 404
    session.rollback()
    assert client_as(app, session, "admin").get("/console/campaigns/").status_code == 200


def test_console_page_with_no_campaigns(app: Flask, session: Session) -> None:
    page = client_as(app, session, "merchandiser").get("/console/campaigns/")
    assert page.status_code == 200
    assert "No campaigns yet" in page.get_data(as_text=True)
