"""The console's metrics pages: online (impressions, CTR, conversion, revenue) and offline
(model versions' evaluations), their charts' data, and bad input."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from recommender import ModelStore
from shop.db import utcnow
from shop.personalization import service
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as, confirmed, console_token
from tests.unit.test_analytics_offline import LARGER, SMALL, evaluated_version, plain_version

ONLINE = "/console/metrics/online"
OFFLINE = "/console/metrics/offline"
NOV = "?start=2026-11-01&end=2026-11-03"


def _impression(n: int, placement: str, at: datetime) -> dict:
    return {
        "rec_id": f"{n:032x}",
        "placement": placement,
        "model_version": "v1",
        "strategy": "personal",
        "variant": None,
        "visitor_id": f"visitor-{n}",
        "user_id": None,
        "product_ids": [1, 2],
        "created_at": at,
    }


def _event(kind: str, at: datetime, rec: int | None, **extra: object) -> dict:
    row = {
        "kind": kind,
        "visitor_id": "v",
        "user_id": None,
        "product_id": None,
        "order_id": None,
        "quantity": None,
        "rec_id": f"{rec:032x}" if rec is not None else None,
        "created_at": at,
    }
    row.update(extra)
    return row


def _add(session: Session, impressions: list[dict], events: list[dict]) -> None:
    session.execute(insert(Impression), impressions)
    if events:
        session.execute(insert(Event), events)
    session.commit()


@pytest.fixture
def shown(session: Session) -> None:
    """3 home lists and 1 cart list on 1 Nov, 1 home list on 2 Nov; clicks, a cart add and
    two paid lines: one of 2 x 295p, one of 3 x 250p."""
    items = factories.small_catalogue(session)
    heart, jumbo = items["heart"], items["jumbo"]
    first = factories.order(session, None, "HP-1", [(heart, 2)])
    second = factories.order(session, None, "HP-2", [(jumbo, 3)])
    second.lines[0].unit_price_pence, second.lines[0].line_total_pence = 250, 750
    second.subtotal_pence = second.total_pence = 750
    session.commit()
    day1, day2 = datetime(2026, 11, 1, 10), datetime(2026, 11, 2, 10)
    _add(
        session,
        [
            _impression(1, "home", day1),
            _impression(2, "home", day1),
            _impression(3, "home", day1),
            _impression(4, "cart", day1),
            _impression(5, "home", day2),
        ],
        [
            _event("rec_click", day1, 1, product_id=heart.id),
            _event("rec_click", day1, 2, product_id=heart.id),
            _event("cart_add", day1, 1, product_id=heart.id, quantity=2),
            _event("purchase", day1, 1, product_id=heart.id, order_id=first.id, quantity=2),
            _event("rec_click", day1, 4, product_id=jumbo.id),
            _event("rec_click", day2, 5, product_id=jumbo.id),
            _event("purchase", day2, 5, product_id=jumbo.id, order_id=second.id, quantity=3),
            _event("product_view", day1, 1, product_id=heart.id),  # not a click
        ],
    )


@pytest.fixture
def merch(app: Flask, session: Session) -> FlaskClient:
    return client_as(app, session, "merchandiser")


def _text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def _metric(page: str, name: str) -> str:
    match = re.search(rf'data-metric="{name}">(.*?)</dd>', page, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _row(page: str, attribute: str, value: str) -> list[str]:
    match = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', page, re.S)
    assert match, (attribute, value)
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(1), re.S)
    ]


def _chart(page: str, chart_id: str) -> dict:
    match = re.search(
        rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', page, re.S
    )
    assert match, chart_id
    return json.loads(match.group(1))


# --- online ---------------------------------------------------------------------------------


def test_online_totals_tables_and_charts(merch: FlaskClient, shown: None) -> None:
    page = _text(merch, ONLINE + NOV)
    assert _metric(page, "impressions") == "5"
    assert _metric(page, "clicks") == "4"
    assert _metric(page, "ctr") == "80.00%"
    assert _metric(page, "add_to_cart_rate") == "20.00%"
    assert _metric(page, "conversion") == "40.00%"
    assert _metric(page, "purchases_per_click") == "50.00%"
    assert _metric(page, "revenue") == "£13.40"  # 2 x 295p + 3 x 250p
    assert _row(page, "data-placement", "home") == [
        "home", "4", "3", "75.00%", "1", "25.00%", "2", "50.00%", "£13.40",
    ]  # fmt: skip
    assert _row(page, "data-placement", "cart") == [
        "cart", "1", "1", "100.00%", "0", "0.00%", "0", "0.00%", "£0.00",
    ]  # fmt: skip
    assert _row(page, "data-day", "2026-11-03")[1:4] == ["0", "0", "—"]
    assert _row(page, "data-cell", "2026-11-02/home")[2:] == [
        "1", "1", "100.00%", "0", "0.00%", "1", "100.00%", "£7.50",
    ]  # fmt: skip
    ctr = _chart(page, "ctr")
    assert ctr["labels"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert ctr["datasets"] == [
        {"label": "cart", "data": [1.0, None, None]},
        {"label": "home", "data": [pytest.approx(2 / 3, abs=1e-6), 1.0, None]},
    ]
    assert _chart(page, "revenue")["datasets"][1]["data"] == [590, 750, 0]
    assert "Conversion</dt>" in page and "÷ lists shown" in page  # the definitions


def test_online_placement_filter(merch: FlaskClient, shown: None) -> None:
    page = _text(merch, ONLINE + NOV + "&placement=cart")
    assert _metric(page, "impressions") == "1"
    assert _metric(page, "revenue") == "£0.00"
    assert 'data-placement="home"' not in page
    assert '<option value="cart" selected>' in page


def test_online_defaults_to_the_last_30_days(merch: FlaskClient, session: Session) -> None:
    now = utcnow()
    _add(
        session,
        [
            _impression(100, "product", now - timedelta(minutes=5)),
            _impression(101, "product", now - timedelta(days=29)),
            _impression(102, "product", now - timedelta(days=31)),
        ],
        [_event("rec_click", now - timedelta(minutes=4), 100)],
    )
    page = _text(merch, ONLINE)
    assert _metric(page, "impressions") == "2"
    assert _metric(page, "ctr") == "50.00%"
    assert "An A/B test's results count conversion per visitor instead" in page
    assert len(_chart(page, "impressions")["labels"]) == 30
    assert f'value="{now.date().isoformat()}"' in page


def test_online_with_no_data_is_a_page_not_an_error(merch: FlaskClient) -> None:
    page = _text(merch, ONLINE)
    assert "No recommendation lists were shown in this period" in page
    assert _metric(page, "ctr") == "—"
    assert _chart(page, "ctr")["datasets"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?start=yesterday", "The start date &#39;yesterday&#39; is not a date like 2026-11-23."),
        ("?end=2026-13-40", "The end date &#39;2026-13-40&#39; is not a date"),
        ("?start=2026-11-03&end=2026-11-01", "The end date 2026-11-01 is before the start date"),
        ("?start=2025-01-01&end=2026-11-01", "choose at most 365 days"),
        ("?end=9999-12-31", "Choose a date from 1 January 1900 to 31 December 2999."),
        ("?end=0001-01-05", "Choose a date from 1 January 1900 to 31 December 2999."),
        ("?placement=attic", "Unknown placement &#39;attic&#39;; choose one of buy_again, cart"),
        ("?placement=%3Cscript%3E", "Unknown placement &#39;&lt;script&gt;&#39;"),
    ],
)
def test_online_bad_input_is_a_400_with_a_message(
    merch: FlaskClient, query: str, message: str
) -> None:
    page = _text(merch, ONLINE + query, 400)
    assert 'role="alert"' in page and message in page
    assert "<script>" not in page
    assert 'data-testid="metrics-totals"' not in page
    assert '<form method="get" class="filters"' in page  # the form stays to fix the input


def test_a_start_in_the_future_without_an_end_is_named_as_the_problem(
    merch: FlaskClient,
) -> None:
    today = utcnow().date()
    start = today + timedelta(days=7)
    page = _text(merch, f"{ONLINE}?start={start.isoformat()}", 400)
    assert 'role="alert"' in page
    assert (
        f"The start date {start} is in the future: nothing can have happened yet. "
        f"Choose a start date up to {today}."
    ) in page
    assert "is before the start date" not in page
    assert 'data-testid="metrics-totals"' not in page
    # With an end date typed as well, a period in the future is just an empty one.
    end = start + timedelta(days=2)
    page = _text(merch, f"{ONLINE}?start={start.isoformat()}&end={end.isoformat()}")
    assert "No recommendation lists were shown in this period" in page


def test_only_staff_see_the_metrics(app: Flask, session: Session) -> None:
    shopper = client_as(app, session, "shopper")
    assert shopper.get(ONLINE).status_code == 404
    assert shopper.get(OFFLINE).status_code == 404
    assert app.test_client().get(ONLINE).status_code == 404


def test_charts_come_from_the_app_not_a_cdn(merch: FlaskClient, shown: None) -> None:
    page = _text(merch, ONLINE + NOV)
    sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page)
    assert "/static/vendor/chart.umd.min.js" in sources
    assert "/static/js/console-charts.js" in sources
    assert all(src.startswith("/static/") for src in sources)
    inline = re.findall(r"<script(?![^>]*\ssrc=)([^>]*)>", page)
    assert inline and all('type="application/json"' in attrs for attrs in inline)  # data only
    library = merch.get("/static/vendor/chart.umd.min.js")
    assert library.status_code == 200 and b"Chart.js v4" in library.data[:200]
    library.close()
    charts = merch.get("/static/js/console-charts.js")
    assert charts.status_code == 200 and b"application/json" in charts.data
    charts.close()


# --- offline --------------------------------------------------------------------------------


@pytest.fixture
def store(app: Flask) -> ModelStore:
    with app.app_context():
        return service().store


@pytest.fixture
def versions(store: ModelStore) -> dict:
    small, small_report = evaluated_version(store, SMALL)
    larger, larger_report = evaluated_version(store, LARGER)
    plain = plain_version(store)
    store.activate(larger)
    return {
        "small": small,
        "larger": larger,
        "plain": plain,
        "small_report": small_report,
        "larger_report": larger_report,
    }


def test_offline_with_no_versions(merch: FlaskClient) -> None:
    page = _text(merch, OFFLINE)
    assert "No model versions yet" in page
    assert "chart.umd.min.js" not in page


def test_offline_shows_the_active_versions_report(merch: FlaskClient, versions: dict) -> None:
    page = _text(merch, OFFLINE)
    report = versions["larger_report"]
    assert _row(page, "data-version", versions["plain"])[3].startswith("not evaluated")
    assert _row(page, "data-version", versions["larger"])[2] == "active"
    assert f"Version <code>{versions['larger']}</code>" in page
    model = _row(page, "data-model", "model")  # the first such row: view "new"
    assert model[0] == "This version"
    assert model[2] == f"{report.metric('new', 'model', 'precision'):.4f}"
    assert model[3] == f"{report.metric('new', 'model', 'recall'):.4f}"
    assert model[-1] == f"{report.lift('new'):.2f}x"
    popularity = _row(page, "data-model", "popularity")
    assert popularity[-1] == "1.00x"
    low, high = report.intervals["new"]
    assert (
        'data-testid="interval-new">95% interval of the version\'s precision vs popularity' in page
    )
    assert f"{low:.2f}x to {high:.2f}x." in page
    chart = _chart(page, "offline-all")
    assert [d["label"] for d in chart["datasets"]][-1] == "Buy again only"
    assert chart["datasets"][0]["data"][0] == pytest.approx(
        report.metric("all", "model", "precision")
    )
    assert "/static/vendor/chart.umd.min.js" in page
    chosen = re.findall(r'<option value="([^"]+)" selected>', page)
    assert sorted(chosen) == sorted([versions["small"], versions["larger"]])  # evaluated ones


def test_offline_shows_a_chosen_version(merch: FlaskClient, versions: dict) -> None:
    page = _text(merch, f"{OFFLINE}?version={versions['small']}")
    report = versions["small_report"]
    assert f"Version <code>{versions['small']}</code>" in page
    assert _row(page, "data-model", "model")[2] == f"{report.metric('new', 'model'):.4f}"
    page = _text(merch, f"{OFFLINE}?version={versions['plain']}")
    assert "This version is not evaluated." in page


def test_offline_compares_two_versions(merch: FlaskClient, versions: dict) -> None:
    a, b = versions["small"], versions["larger"]
    page = _text(merch, f"{OFFLINE}?a={a}&b={b}")
    assert f"B <code>{b}</code> against A <code>{a}</code>" in page
    ra, rb = versions["small_report"], versions["larger_report"]
    for view, model, metric in [("new", "model", "precision"), ("all", "model", "ndcg")]:
        cells = _row(page, "data-delta", f"{view}/{model}/{metric}")
        va, vb = ra.metric(view, model, metric), rb.metric(view, model, metric)
        assert cells[3:6] == [f"{va:.4f}", f"{vb:.4f}", f"{vb - va:+.4f}"]
    assert _row(page, "data-delta", "new/popularity/precision")[5] == "+0.0000"
    chart = _chart(page, "compare")
    assert chart["datasets"][1]["label"] == f"B: {b}"
    page = _text(merch, f"{OFFLINE}?a={a}&b={versions['plain']}")
    assert "is not evaluated, so there is nothing to compare" in page


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?version=no-such-version", 404, "There is no model version &#39;no-such-version&#39;."),
        ("?a=no-such&b={small}", 404, "There is no model version &#39;no-such&#39;."),
        ("?a={small}", 400, "Pick two versions to compare"),
        ("?b={small}", 400, "Pick two versions to compare"),
        ("?version=" + "x" * 5000, 404, "There is no model version"),
    ],
)
def test_offline_bad_input(
    merch: FlaskClient, versions: dict, query: str, status: int, message: str
) -> None:
    page = _text(merch, OFFLINE + query.format(small=versions["small"]), status)
    assert 'role="alert"' in page and message in page
    assert "x" * 101 not in page


def test_an_unreadable_active_pointer_is_flagged_and_activating_repairs_it(
    merch: FlaskClient, store: ModelStore, versions: dict
) -> None:
    (store.directory / "ACTIVE").write_text("{garbage")
    page = _text(merch, "/console/recommendations/versions")
    assert 'data-testid="pointer-error"' in page
    assert "unreadable pointer file ACTIVE" in page
    assert "badge ok" not in page  # no version is shown as active
    offline = _text(merch, OFFLINE)
    assert versions["larger"] in offline
    token = console_token(merch, "/console/recommendations/versions")
    response = confirmed(
        merch,
        f"/console/recommendations/versions/{versions['small']}/activate",
        {"csrf_token": token},
    )
    assert response.status_code == 302
    assert store.active() == versions["small"]
    assert 'data-testid="pointer-error"' not in _text(merch, "/console/recommendations/versions")
