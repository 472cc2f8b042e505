"""The console's A/B test pages: list, create (with errors as 400s), results, stop, roll out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from recommender import ModelStore
from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console import audit
from shop.console.models import AuditEntry
from shop.db import db, utcnow
from shop.merchandising import experiments, revisions
from shop.merchandising.models import Experiment
from shop.personalization import service
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories
from tests.console_support import client_as, confirmed, console_token, review_lines
from tests.web.page_forms import read_form


@pytest.fixture
def store(app: Flask, session: Session, items: dict[str, Product]) -> Iterator[ModelStore]:
    """The app's model store with two trained versions; the first is active."""
    buyer = factories.user(session, "buyer@example.com", "Buyer")
    session.commit()
    start = utcnow() - timedelta(days=5)
    baskets = [["heart", "lantern"], ["jumbo", "lunch"], ["heart", "jumbo"]] * 2
    session.execute(
        insert(Event),
        [
            {
                "kind": "purchase",
                "visitor_id": "import",
                "user_id": buyer.id,
                "product_id": items[name].id,
                "quantity": 1,
                "created_at": start + timedelta(hours=n),
            }
            for n, basket in enumerate(baskets)
            for name in basket
        ],
    )
    session.commit()
    with app.app_context():
        recs = service()
        recs.train(db.session)
        recs.train(db.session, activate=False)
        yield recs.store


def newest(store: ModelStore) -> str:
    """The version that is not active (trained second)."""
    return next(v.id for v in store.versions() if not v.active)


@pytest.fixture
def merch(app: Flask, session: Session) -> FlaskClient:
    return client_as(app, session, "merchandiser")


def form_data(client: FlaskClient, store: ModelStore, **changes: Any) -> dict[str, Any]:
    """A valid create form: popularity control vs the newest model, 50/50, on home."""
    data: dict[str, Any] = {
        "csrf_token": console_token(client, "/console/experiments/new"),
        "name": "Home model test",
        "placements": ["home"],
        "variants-0-key": "control",
        "variants-0-label": "Best sellers",
        "variants-0-kind": "popularity",
        "variants-0-weight": "50",
        "variants-1-key": "model",
        "variants-1-label": "New model",
        "variants-1-kind": "model",
        "variants-1-model_version": newest(store),
        "variants-1-weight": "50",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def create(client: FlaskClient, store: ModelStore, **changes: Any) -> int:
    response = client.post("/console/experiments/new", data=form_data(client, store, **changes))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    match = re.search(r"/console/experiments/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def test_the_list_and_the_form_open_for_staff(merch: FlaskClient, store: ModelStore) -> None:
    page = merch.get("/console/experiments/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No experiments yet" in html
    assert 'href="/console/experiments/"' in html  # the console nav links here
    form = merch.get("/console/experiments/new").get_data(as_text=True)
    assert 'name="placements" type="checkbox" value="home"' in form
    assert f'<option value="{newest(store)}">{newest(store)}</option>' in form
    assert f"{store.active()} (active)</option>" in form
    assert form.count('name="variants-3-key"') == 1


def test_creating_an_experiment_starts_it_and_audits_it(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    experiment_id = create(merch, store)
    session.rollback()
    experiment = session.get(Experiment, experiment_id)
    assert experiment is not None
    assert (experiment.key, experiment.status, experiment.placements) == (
        "home-model-test",
        "running",
        ["home"],
    )
    assert [v["key"] for v in experiment.variants] == ["control", "model"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "experiment.create"))
    assert entry is not None and entry.actor_email == "merchandiser@example.com"
    listing = merch.get("/console/experiments/").get_data(as_text=True)
    assert "Home model test" in listing and "running" in listing
    found = experiments.assignment_for(session, "someone", "home")
    assert found is not None and found.experiment_key == "home-model-test"
    fresh = merch.get(f"/console/experiments/{experiment_id}").get_data(as_text=True)
    assert "(0.0% to 100.0%)" not in fresh and 'title="No lists shown yet">—' in fresh


def test_two_arms_serving_the_same_lists_are_started_as_an_a_a_test_and_said_so(
    merch: FlaskClient, store: ModelStore
) -> None:
    same = {"variants-1-kind": "popularity", "variants-1-model_version": None}
    response = merch.post(
        "/console/experiments/new", data=form_data(merch, store, **same), follow_redirects=True
    )
    assert response.status_code == 200
    note = (
        "Variants &#39;control&#39; and &#39;model&#39; serve the same lists (an A/A test): "
        "any difference between them is chance."
    )
    assert response.get_data(as_text=True).count(note) == 2  # the flash and the page's note
    experiment_id = create(merch, store, name="Different arms", placements=["product"])
    different = merch.get(f"/console/experiments/{experiment_id}").get_data(as_text=True)
    assert "A/A test" not in different


def test_identical_arms_are_grouped_by_what_they_serve() -> None:
    def arm(key: str, kind: str, version: str | None = None, revision: int | None = None):
        return experiments.VariantSpec(key, key, kind, 25, version, revision).as_json()

    arms = [arm("a", "model", "v1"), arm("b", "model", "v2"), arm("c", "model", "v1")]
    arms += [arm("d", "rules", revision=3), arm("e", "popularity"), arm("f", "rules", revision=3)]
    assert experiments.identical_arms(arms) == (
        "Variants 'a' and 'c'; 'd' and 'f' serve the same lists (an A/A test): "
        "any difference between them is chance."
    )
    assert experiments.identical_arms(arms[:2] + arms[3:5]) is None
    three = [arm(k, "popularity") for k in "xyz"]
    assert experiments.identical_arms(three) == (
        "Variants 'x', 'y' and 'z' serve the same lists (an A/A test): any difference "
        "between them is chance."
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants-1-weight": "60"}, "add up to 110%"),
        (
            {"variants-0-weight": "100", "variants-1-weight": "0"},
            "Variant &#39;model&#39; would get no traffic",
        ),
        ({"variants-1-model_version": "not-a-version"}, "unknown model version"),
        ({"variants-1-model_version": ""}, "Variant &#39;model&#39;: choose a model version."),
        ({"variants-1-key": "control"}, "repeated: control"),
        (
            {
                "variants-1-key": "",
                "variants-1-label": "",
                "variants-1-kind": "",
                "variants-1-weight": "",
                "variants-0-weight": "100",
            },
            "at least two variants",
        ),
        ({"placements": None}, "Choose at least one placement"),
        ({"placements": ["nowhere"]}, "&#39;nowhere&#39; is not a valid choice"),
        ({"variants-1-weight": "half"}, "Traffic %: Not a valid integer value.</li>\n"),
        ({"variants-1-kind": "magic"}, "Not a valid choice"),
        ({"variants-1-weight": "150"}, "From 0 to 100"),
        ({"name": ""}, "Give the experiment a name"),
        ({"variants-2-label": "forgotten"}, "Variant row 3: give the variant a key"),
        ({"variants-1-kind": ""}, "Variant &#39;model&#39;: choose what it serves"),
        ({"variants-1-kind": "rules"}, "Variant &#39;model&#39;: choose a published revision."),
        ({"variants-1-kind": "rules", "variants-1-revision_id": "x"}, "choose a published"),
        (
            {"variants-1-kind": "rules", "variants-1-revision_id": "99999999999999999999999"},
            "choose a published",
        ),
        ({"variants-0-key": "Bad Key!"}, "Variant key &#39;bad key!&#39;"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(
    merch: FlaskClient,
    session: Session,
    store: ModelStore,
    changes: dict[str, Any],
    message: str,
) -> None:
    response = merch.post("/console/experiments/new", data=form_data(merch, store, **changes))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html, re.findall(r"<li>.*?</li>", html)
    assert "(none)&#39;" not in html and "revision None" not in html
    assert 'data-testid="form-errors"' in html
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_a_placement_in_a_running_experiment_is_refused(
    merch: FlaskClient, store: ModelStore
) -> None:
    create(merch, store)
    response = merch.post(
        "/console/experiments/new",
        data=form_data(merch, store, name="Another", placements=["home", "cart"]),
    )
    assert response.status_code == 400
    assert "already in a running experiment: home" in response.get_data(as_text=True)


def test_the_form_sent_twice_starts_one_experiment_and_says_so_calmly(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    page = merch.get("/console/experiments/new").get_data(as_text=True)
    assert re.search(r'<form[^>]*data-testid="experiment-form"[^>]*data-once', page)
    data = form_data(merch, store)
    first = merch.post("/console/experiments/new", data=data)
    assert first.status_code == 302
    again = merch.post("/console/experiments/new", data=data)
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    shown = merch.get(again.headers["Location"]).get_data(as_text=True)
    assert "Experiment &#39;Home model test&#39; is already running with these settings" in shown
    assert "already in a running experiment" not in shown
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Experiment)) == 1
    # Another experiment on the same placement is still refused.
    other = merch.post("/console/experiments/new", data=form_data(merch, store, name="Other"))
    assert other.status_code == 400
    assert "already in a running experiment: home" in other.get_data(as_text=True)


def _impressions(label: str, count: int, clicked: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "rec_id": f"{prefix}{n:030d}",
            "placement": "home",
            "model_version": "v",
            "strategy": "popular",
            "variant": label,
            "visitor_id": f"{prefix}-visitor-{n}",
            "user_id": None,
            "product_ids": [1],
            "created_at": utcnow(),
        }
        for n in range(count)
    ], [
        {
            "kind": "rec_click",
            "visitor_id": f"{prefix}-visitor-{n}",
            "rec_id": f"{prefix}{n:030d}",
            "created_at": utcnow(),
        }
        for n in range(clicked)
    ]


def _started_five_minutes_ago(
    merch: FlaskClient, session: Session, store: ModelStore
) -> Experiment:
    """A running experiment created through the console, started five minutes ago."""
    experiment_id = create(merch, store)
    session.rollback()
    experiment = session.get(Experiment, experiment_id)
    assert experiment is not None
    experiment.started_at = utcnow() - timedelta(minutes=5)
    session.commit()
    return experiment


def _results_page(merch: FlaskClient, experiment_id: int) -> tuple[str, dict[str, str]]:
    """The results page's HTML and its table rows by variant key."""
    page = merch.get(f"/console/experiments/{experiment_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    return html, dict(re.findall(r'<tr data-variant="([^"]+)">(.*?)</tr>', html, re.S))


def test_the_results_page_shows_rates_intervals_and_significance(
    merch: FlaskClient, session: Session, store: ModelStore, items: dict[str, Product]
) -> None:
    experiment = _started_five_minutes_ago(merch, session, store)
    experiment_id = experiment.id
    shown_a, clicks_a = _impressions(f"{experiment.key}:control", 200, 20, "a")
    shown_b, clicks_b = _impressions(f"{experiment.key}:model", 200, 50, "b")
    session.execute(insert(Impression), shown_a + shown_b)
    session.execute(insert(Event), clicks_a + clicks_b)
    order = factories.order(session, None, "AB-9", [(items["heart"], 2)])
    session.execute(
        insert(Event),
        [
            {
                "kind": "purchase",
                "visitor_id": "b-visitor-1",
                "rec_id": f"b{1:030d}",
                "order_id": order.id,
                "product_id": items["heart"].id,
                "quantity": 2,
                "created_at": utcnow(),
            }
        ],
    )
    session.commit()

    html, rows = _results_page(merch, experiment_id)
    assert set(rows) == {"control", "model"}
    assert "its conversion is not comparable with this one" in " ".join(html.split())
    control, model = rows["control"], rows["model"]
    assert re.search(r'data-metric="visitors">200<', control)
    assert re.search(r'data-metric="clicks">20<', control)
    assert "10.0% <span" in control  # CTR 20/200
    assert "vs control" not in control
    assert "25.0% <span" in model  # CTR 50/200
    # CTR: +15 points, p < 0.001; conversion 0 vs 1 of 200 and revenue: not significant.
    assert "+15.0 pp" in model
    ctr_cell = re.search(r'data-metric="ctr">(.*?)</td>', model, re.S)
    assert ctr_cell and 'data-verdict="significant"' in ctr_cell.group(1)
    assert "p &lt; 0.001" in ctr_cell.group(1)
    conversion_cell = re.search(r'data-metric="conversion">(.*?)</td>', model, re.S)
    assert conversion_cell and 'data-verdict="not significant"' in conversion_cell.group(1)
    assert re.search(r'data-metric="revenue">£5.90<', model)
    assert "£0.03" in model  # revenue per visitor 590 / 200 = 2.95p, shown rounded
    assert "Stop the experiment" in html and "Roll out the winner" in html


def test_comparisons_without_events_say_too_little_data(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    experiment = _started_five_minutes_ago(merch, session, store)
    experiment_id = experiment.id
    # Lists shown to 60 and 50 visitors; nobody clicked or bought anything.
    shown_a, _ = _impressions(f"{experiment.key}:control", 60, 0, "a")
    shown_b, _ = _impressions(f"{experiment.key}:model", 50, 0, "b")
    session.execute(insert(Impression), shown_a + shown_b)
    session.commit()

    html, rows = _results_page(merch, experiment_id)
    assert re.search(r'data-metric="visitors">60<', rows["control"])
    assert re.search(r'data-metric="visitors">50<', rows["model"])
    for metric in ("ctr", "conversion", "revenue_per_visitor"):
        cell = re.search(rf'data-metric="{metric}">(.*?)</td>', rows["model"], re.S)
        assert cell, metric
        assert "vs control: too little data" in cell.group(1), metric
        assert 'data-verdict="too little data"' in cell.group(1)
        assert "significant" not in cell.group(1)
    # No zero-width difference and no p-value...
    assert "+0.0 pp" not in html and "p = " not in html
    assert "+£0.00" not in html
    # ...and no zero-width interval for an arm's revenue either; each arm's CTR keeps its
    # own (wide) interval.
    assert "(£0.00 to £0.00)" not in html
    assert re.search(r"0\.0% <span class=\"ab-muted\">\(0\.0% to \d+\.\d%\)", rows["model"])


def test_unknown_experiments_are_404(merch: FlaskClient) -> None:
    token = console_token(merch)
    assert merch.get("/console/experiments/999").status_code == 404
    assert (
        merch.post("/console/experiments/999/stop", data={"csrf_token": token}).status_code == 404
    )
    response = merch.post(
        "/console/experiments/999/rollout", data={"csrf_token": token, "variant": "a"}
    )
    assert response.status_code == 404


def test_rolling_out_popularity_says_it_stops_the_test_and_what_it_publishes(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    experiment_id = create(merch, store)
    url = f"/console/experiments/{experiment_id}"
    fields = {"csrf_token": console_token(merch), "variant": "control"}
    review = merch.post(f"{url}/rollout", data=fields)
    html = review.get_data(as_text=True)
    assert review.status_code == 200 and "Roll out Best sellers?" in html
    assert review_lines(html) == [
        "The experiment Home model test stops: no visitor is in an arm any more.",
        "Every visitor gets these settings, published as a new revision instead of the "
        "default settings:",
        "home: personal \N{RIGHTWARDS ARROW} popular",
    ]
    back = merch.post(f"{url}/rollout", data={**read_form(html).values, "edit": "1"})
    assert back.status_code == 302 and back.headers["Location"].endswith(url)
    session.rollback()
    assert session.get(Experiment, experiment_id).status == "running"
    assert revisions.live_revision_id(session) is None

    assert confirmed(merch, f"{url}/rollout", fields).status_code == 302
    session.rollback()
    assert session.get(Experiment, experiment_id).winner == "control"
    live = revisions.live_data(session)
    assert live["placements"]["home"]["strategy"] == "popular"


def test_stop_then_roll_out_the_winner(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    experiment_id = create(merch, store)
    token = console_token(merch)
    url = f"/console/experiments/{experiment_id}"
    assert merch.post(f"{url}/stop", data={}).status_code == 400  # no CSRF token
    assert merch.post(f"{url}/stop", data={"csrf_token": token}).status_code == 302
    session.rollback()
    assert session.get(Experiment, experiment_id).status == "stopped"
    again = merch.post(f"{url}/stop", data={"csrf_token": token})
    assert again.status_code == 400
    assert "already been stopped" in again.get_data(as_text=True)
    assert experiments.assignment_for(session, "someone", "home") is None

    bad = merch.post(f"{url}/rollout", data={"csrf_token": token, "variant": "nope"})
    assert bad.status_code == 400
    assert "Not a valid choice" in bad.get_data(as_text=True)

    version, active = newest(store), store.active()
    review = merch.post(f"{url}/rollout", data={"csrf_token": token, "variant": "model"})
    assert review.status_code == 200 and "Roll out New model?" in review.get_data(as_text=True)
    assert review_lines(review.get_data(as_text=True)) == [
        f"Model version {version} serves every visitor, instead of version {active}."
    ]
    assert store.active() == active  # nothing happens before it is confirmed
    done = confirmed(merch, f"{url}/rollout", {"csrf_token": token, "variant": "model"})
    assert done.status_code == 302
    assert store.active() == version
    session.rollback()
    assert session.get(Experiment, experiment_id).winner == "model"
    page = merch.get(url).get_data(as_text=True)
    assert 'data-testid="winner">model<' in page
    assert "Roll out the winner" not in page and "Stop the experiment" not in page
    twice = merch.post(f"{url}/rollout", data={"csrf_token": token, "variant": "control"})
    assert twice.status_code == 400
    assert "already been rolled out" in twice.get_data(as_text=True)
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.action.startswith("experiment."))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["experiment.create", "experiment.stop", "experiment.rollout"]


def _notice(html: str) -> str:
    match = re.search(r'data-testid="experiment-rules-notice">(.*?)</div>', html, re.S)
    return " ".join(match.group(1).split()) if match else ""


def test_rules_pages_and_preview_say_which_placements_an_older_rule_set_serves(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    older = revisions.publish_change(
        session,
        audit.CLI_ACTOR,
        "older",
        lambda d: d.update(rules=[{"id": "r1", "type": "bury", "product_id": 1, "factor": 2}]),
    )
    live = revisions.publish_change(session, audit.CLI_ACTOR, "newer", lambda d: d.update(rules=[]))
    session.commit()
    db.session.remove()  # the store fixture's session still reads from before the publishes
    pages = ("/console/recommendations/rules", "/console/recommendations/")
    for path in pages:
        page = merch.get(path)
        assert page.status_code == 200 and 'data-testid="publish-bar"' in page.get_data(True)
        assert _notice(page.get_data(as_text=True)) == ""

    experiment_id = create(
        merch,
        store,
        name="Older rules test",
        placements=["home", "cart"],
        **{"variants-1-kind": "rules", "variants-1-revision_id": str(older.id)},
        **{"variants-1-key": "old-rules", "variants-1-label": "Older rules"},
    )
    for path in pages:
        page = merch.get(path)
        assert page.status_code == 200
        notice = _notice(page.get_data(as_text=True))
        assert "only the live never-recommend and exclude rules apply in every arm" in notice
        assert (
            f'<a href="/console/experiments/{experiment_id}">Older rules test</a>: arm Older '
            f"rules (<code>old-rules</code>, 50% of visitors) serves revision {older.id} "
            f"(the live one is {live.id}) on home, cart." in notice
        )
        assert "control" not in notice  # a popularity arm serves the live rules

    preview = merch.get("/console/recommendations/preview?shopper=buyer@example.com")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    assert f"serves revision {older.id} (the live one is {live.id}) on home, cart." in _notice(html)
    rows = dict(re.findall(r'data-testid="preview-row-([a-z_]+)">(.*?)</section>', html, re.S))
    badge = f"A/B arm old-rules of Older rules test serves revision {older.id} here, not the live"
    assert badge in rows["home"] and badge in rows["cart"]
    assert "A/B arm" not in rows["buy_again"] and "A/B arm" not in rows["order"]

    token = console_token(merch)
    stop = merch.post(f"/console/experiments/{experiment_id}/stop", data={"csrf_token": token})
    assert stop.status_code == 302
    for path in pages:
        assert _notice(merch.get(path).get_data(as_text=True)) == ""


def test_preview_says_which_arm_a_customer_is_served_instead_of_the_live_column(
    merch: FlaskClient, session: Session, store: ModelStore
) -> None:
    from shop.merchandising.assignment import assign, assignment_unit

    experiment_id = create(merch, store)  # popularity vs the newest model, on home
    session.rollback()
    buyer = session.scalar(select(User).where(User.email == "buyer@example.com"))
    assert buyer is not None
    key = session.get(Experiment, experiment_id).key
    variant = assign(key, assignment_unit(buyer.id, "any"), [("control", 50), ("model", 50)])
    preview = merch.get("/console/recommendations/preview?shopper=buyer@example.com")
    html = preview.get_data(as_text=True)
    rows = dict(re.findall(r'data-testid="preview-row-([a-z_]+)">(.*?)</section>', html, re.S))
    expected = f"This customer is in A/B arm {key}:{variant}: the storefront serves them that arm"
    assert expected in rows["home"]
    assert "This customer is in A/B arm" not in rows["cart"]
    viewed = merch.get("/console/recommendations/preview?viewed=1").get_data(as_text=True)
    assert "This customer is in A/B arm" not in viewed  # a described session has no arm
