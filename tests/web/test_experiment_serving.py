"""A running A/B test changes what the storefront serves, per visitor, and labels impressions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console import audit
from shop.merchandising import experiments, revisions
from shop.merchandising.assignment import bucket, variant_index
from shop.merchandising.experiment_results import experiment_results
from shop.merchandising.experiments import VariantSpec
from shop.merchandising.models import Experiment, MerchRevision
from shop.personalization import service
from shop.recommendation_models import Impression
from shop.visitor import _serializer
from tests import factories
from tests.console_support import client_as
from tests.helpers import sign_in


def _home_ids(html: str) -> list[int]:
    match = re.search(r'data-testid="recs-home".*?</section>', html, re.S)
    assert match
    return [int(i) for i in re.findall(r'href="/products/(\d+)\?rec=', match.group(0))]


def _start(app: Flask, session: Session, variants: list[VariantSpec]) -> str:
    with app.app_context():
        store = service().store
    session.rollback()  # a fresh snapshot after the client's requests
    experiment = experiments.create_experiment(
        session, audit.CLI_ACTOR, "Home test", ["home"], variants, store=store
    )
    session.commit()
    assert experiment.key == "home-test"  # what _steer hashes with
    return experiment.key


def _browser(app: Flask, visitor_id: str) -> FlaskClient:
    """A test client whose browser carries this visitor id, signed as the shop signs it."""
    client = app.test_client()
    with app.test_request_context():
        value = _serializer().dumps(visitor_id)
    client.set_cookie(app.config["VISITOR_COOKIE"], value)
    return client


def _steer(units: Sequence[str], wanted: VariantSpec, other: VariantSpec) -> list[VariantSpec]:
    """Two arms weighted 99% and 1% (every arm needs 1%), in the order that puts every unit
    in `wanted` in the experiment "Home test" (key "home-test")."""
    buckets = [bucket("home-test", unit) for unit in units]
    if all(b < 9900 for b in buckets):
        return [replace(wanted, weight=99), replace(other, weight=1)]
    assert all(b >= 100 for b in buckets), "choose other visitor ids"
    return [replace(other, weight=1), replace(wanted, weight=99)]


def test_a_popularity_variant_serves_popular_items_and_labels_the_impression(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    client = app.test_client()
    sign_in(client, trained[0].email, factories.PASSWORD)
    assert "Recommended for you" in client.get("/").get_data(as_text=True)
    with app.app_context():
        version = service().store.active()
    key = _start(
        app,
        session,
        _steer(
            [f"user:{trained[0].id}"],  # signed in: assigned by account
            VariantSpec("pop", "Popularity", "popularity", 99),
            VariantSpec("model", "Model", "model", 1, model_version=version),
        ),
    )
    page = client.get("/").get_data(as_text=True)
    assert "Popular right now" in page and "Recommended for you" not in page
    session.rollback()
    impression = session.scalar(
        select(Impression).where(Impression.placement == "home").order_by(Impression.id.desc())
    )
    assert impression is not None
    assert impression.variant == f"{key}:pop" and impression.strategy == "popular"


def _older_revision_excluding(session: Session, product_id: int) -> MerchRevision:
    """Publish a revision that excludes the product, then one without rules (live now)."""
    session.rollback()
    older = revisions.publish_change(
        session,
        audit.CLI_ACTOR,
        "exclude the top item",
        lambda data: data.setdefault("rules", []).append(
            {"id": "r1", "type": "exclude", "product_id": product_id}
        ),
    )
    revisions.publish_change(session, audit.CLI_ACTOR, "back", lambda data: data.update(rules=[]))
    session.commit()
    return older


def test_a_rules_variant_serves_that_revision_while_others_see_the_live_rules(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    client = app.test_client()
    sign_in(client, trained[0].email, factories.PASSWORD)
    shown = _home_ids(client.get("/").get_data(as_text=True))
    assert shown
    hidden = shown[0]
    # Live goes back to no rules; the experiment's "rules" arm keeps the exclusion.
    revision = _older_revision_excluding(session, hidden)
    assert hidden in _home_ids(client.get("/").get_data(as_text=True))
    key = _start(
        app,
        session,
        _steer(
            [f"user:{trained[0].id}"],  # signed in: assigned by account
            VariantSpec("rules", "Exclusion", "rules", 99, revision_id=revision.id),
            VariantSpec("live", "Live", "popularity", 1),
        ),
    )
    assert hidden not in _home_ids(client.get("/").get_data(as_text=True))
    session.rollback()
    variant = session.scalar(
        select(Impression.variant)
        .where(Impression.placement == "home")
        .order_by(Impression.id.desc())
        .limit(1)
    )
    assert variant == f"{key}:rules"


@pytest.mark.parametrize(
    "rule",
    [
        {"type": "never"},
        {"type": "exclude", "placements": ["home"]},
    ],
)
def test_a_rules_arm_applies_never_and_exclude_rules_published_after_it_started(
    app: Flask,
    session: Session,
    shop: dict[str, Product],
    trained: list[User],
    rule: dict[str, Any],
) -> None:
    client = app.test_client()
    sign_in(client, trained[0].email, factories.PASSWORD)
    session.rollback()
    other = shop["jumbo"].id
    older = revisions.publish_change(
        session,
        audit.CLI_ACTOR,
        "the arm's rules",
        lambda data: data.update(rules=[{"id": "r1", "type": "bury", "product_id": other}]),
    )
    session.commit()
    key = _start(
        app,
        session,
        _steer(
            [f"user:{trained[0].id}"],
            VariantSpec("rules", "Older rules", "rules", 99, revision_id=older.id),
            VariantSpec("pop", "Popularity", "popularity", 1),
        ),
    )
    shown = _home_ids(client.get("/").get_data(as_text=True))
    assert len(shown) > 1
    banned = shown[0]
    # Since the experiment started, the merchandiser bans the arm's top product.
    session.rollback()
    revisions.publish_change(
        session,
        audit.CLI_ACTOR,
        "ban it",
        lambda data: data.update(rules=[{"id": "r1", "product_id": banned, **rule}]),
    )
    session.commit()
    seen = _newest_impression_id(session)
    page = client.get("/")
    assert page.status_code == 200
    now = _home_ids(page.get_data(as_text=True))
    assert banned not in now
    assert now[: len(shown) - 1] == shown[1:]  # otherwise still the arm's list
    session.rollback()
    logged = session.scalar(
        select(Impression).where(Impression.id > seen, Impression.placement == "home")
    )
    assert logged is not None and logged.variant == f"{key}:rules"
    assert banned not in logged.product_ids


def test_visitors_who_switched_personalization_off_are_in_no_arm(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    refused = _browser(app, "refuser-1")
    refused.set_cookie(app.config["TRACKING_COOKIE"], "off")
    member = _browser(app, "member-browser-1")
    sign_in(member, trained[0].email, factories.PASSWORD)
    session.rollback()
    session.get(User, trained[0].id).tracking_enabled = False
    session.commit()
    shown = _home_ids(refused.get("/").get_data(as_text=True))
    assert shown and _home_ids(member.get("/").get_data(as_text=True)) == shown
    hidden = shown[0]
    revision = _older_revision_excluding(session, hidden)
    # Both would hash into the arm that hides the top item, whatever their unit.
    units = ["refuser-1", "member-browser-1", f"user:{trained[0].id}"]
    key = _start(
        app,
        session,
        _steer(
            units,
            VariantSpec("rules", "Exclusion", "rules", 99, revision_id=revision.id),
            VariantSpec("pop", "Popularity", "popularity", 1),
        ),
    )
    first_new = _newest_impression_id(session)
    for client in (refused, member):
        response = client.get("/")
        assert response.status_code == 200
        # The default (live) list: the arm's exclusion does not apply to them.
        assert _home_ids(response.get_data(as_text=True)) == shown
    session.rollback()
    logged = session.scalars(
        select(Impression).where(Impression.id > first_new, Impression.placement == "home")
    ).all()
    assert len(logged) == 2
    assert [(i.variant, i.visitor_id, i.user_id) for i in logged] == [(None, "anonymous", None)] * 2

    experiment = session.scalar(select(Experiment).where(Experiment.key == key))
    assert experiment is not None
    assert [v.visitors for v in experiment_results(session, experiment).variants] == [0, 0]
    page = client_as(app, session, "merchandiser").get(f"/console/experiments/{experiment.id}")
    assert page.status_code == 200
    assert re.findall(r'data-metric="visitors">(\d+)<', page.get_data(as_text=True)) == ["0", "0"]


def _newest_impression_id(session: Session) -> int:
    session.rollback()
    return session.scalar(select(Impression.id).order_by(Impression.id.desc()).limit(1)) or 0


def _browsers_in(arm: int, count: int) -> list[str]:
    """Visitor ids that "Home test" at 50/50 puts in arm `arm` (0 or 1)."""
    found = [
        f"browser-{n}"
        for n in range(200)
        if variant_index("home-test", f"browser-{n}", [50, 50]) == arm
    ]
    return found[:count]


def test_a_signed_in_shopper_gets_the_same_arm_in_every_browser_and_counts_once(
    app: Flask, session: Session, shop: dict[str, Product], trained: list[User]
) -> None:
    with app.app_context():
        version = service().store.active()
    ann = trained[0]
    arms = [
        VariantSpec("pop", "Popularity", "popularity", 50),
        VariantSpec("model", "Model", "model", 50, model_version=version),
    ]
    mine = variant_index("home-test", f"user:{ann.id}", [50, 50])
    other = 1 - mine
    title = {0: "Popular right now", 1: "Recommended for you"}
    # A laptop whose visitor id hashes to Ann's arm, a phone whose id hashes to the other.
    (laptop_id,) = _browsers_in(mine, 1)
    (phone_id,) = _browsers_in(other, 1)
    key = _start(app, session, arms)
    labels = [f"{key}:{arms[mine].key}", f"{key}:{arms[other].key}"]

    laptop = _browser(app, laptop_id)
    sign_in(laptop, ann.email, factories.PASSWORD)
    phone = _browser(app, phone_id)
    seen = _newest_impression_id(session)
    assert phone.get("/").status_code == 200  # browsing anonymously first: the phone's arm
    session.rollback()
    before = session.scalars(select(Impression).where(Impression.id > seen)).all()
    assert {(i.variant, i.visitor_id, i.user_id) for i in before} == {(labels[1], phone_id, None)}

    sign_in(phone, ann.email, factories.PASSWORD)  # signs in mid-experiment
    seen = _newest_impression_id(session)
    for client in (laptop, phone):
        page = client.get("/")
        assert page.status_code == 200
        home = re.search(r'data-testid="recs-home".*?</section>', page.get_data(as_text=True), re.S)
        assert home and title[mine] in home.group(0) and title[other] not in home.group(0)
    session.rollback()
    after = session.scalars(
        select(Impression).where(Impression.id > seen, Impression.placement == "home")
    ).all()
    assert {(i.variant, i.visitor_id, i.user_id) for i in after} == {
        (labels[0], laptop_id, ann.id),
        (labels[0], phone_id, ann.id),
    }
    assert len(after) == 2

    # Ann is one visitor in her arm; the phone before signing in, one in the other.
    experiment = session.scalar(select(Experiment).where(Experiment.key == key))
    assert experiment is not None
    counted = {v.key: v.visitors for v in experiment_results(session, experiment).variants}
    assert counted == {arms[mine].key: 1, arms[other].key: 1}
    page = client_as(app, session, "merchandiser").get(f"/console/experiments/{experiment.id}")
    assert page.status_code == 200
    rows = dict(
        re.findall(r'<tr data-variant="([^"]+)">(.*?)</tr>', page.get_data(as_text=True), re.S)
    )
    for arm in arms:
        assert re.search(r'data-metric="visitors">1<', rows[arm.key]), arm.key
