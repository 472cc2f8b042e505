"""A running A/B test changes what the storefront serves, per visitor, and labels impressions."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.catalog.models import Product
from shop.console import audit
from shop.merchandising import assignment, experiments, revisions
from shop.merchandising.experiments import VariantSpec
from shop.personalization import service
from shop.recommendation_models import Impression
from tests import factories
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
    return experiment.key


def _everyone_in_bucket(monkeypatch: pytest.MonkeyPatch, position: int) -> None:
    """Put every visitor in one bucket, so that a test knows which variant they get."""
    monkeypatch.setattr(assignment, "bucket", lambda _experiment, _visitor: position)


def test_a_popularity_variant_serves_popular_items_and_labels_the_impression(
    app: Flask,
    session: Session,
    shop: dict[str, Product],
    trained: list[User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = app.test_client()
    sign_in(client, trained[0].email, factories.PASSWORD)
    assert "Recommended for you" in client.get("/").get_data(as_text=True)
    with app.app_context():
        version = service().store.active()
    key = _start(
        app,
        session,
        [
            VariantSpec("pop", "Popularity", "popularity", 99),
            VariantSpec("model", "Model", "model", 1, model_version=version),
        ],
    )
    _everyone_in_bucket(monkeypatch, 0)
    page = client.get("/").get_data(as_text=True)
    assert "Popular right now" in page and "Recommended for you" not in page
    session.rollback()
    impression = session.scalar(
        select(Impression).where(Impression.placement == "home").order_by(Impression.id.desc())
    )
    assert impression is not None
    assert impression.variant == f"{key}:pop" and impression.strategy == "popular"


def test_a_rules_variant_serves_that_revision_while_others_see_the_live_rules(
    app: Flask,
    session: Session,
    shop: dict[str, Product],
    trained: list[User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = app.test_client()
    sign_in(client, trained[0].email, factories.PASSWORD)
    shown = _home_ids(client.get("/").get_data(as_text=True))
    assert shown
    hidden = shown[0]
    session.rollback()
    revision = revisions.publish_change(
        session,
        audit.CLI_ACTOR,
        "exclude the top item",
        lambda data: data.setdefault("rules", []).append(
            {"id": "r1", "type": "exclude", "product_id": hidden}
        ),
    )
    # Live goes back to no rules; the experiment's "rules" arm keeps the exclusion.
    revisions.publish_change(session, audit.CLI_ACTOR, "back", lambda data: data.update(rules=[]))
    session.commit()
    assert hidden in _home_ids(client.get("/").get_data(as_text=True))
    key = _start(
        app,
        session,
        [
            VariantSpec("live", "Live", "popularity", 1),
            VariantSpec("rules", "Exclusion", "rules", 99, revision_id=revision.id),
        ],
    )
    _everyone_in_bucket(monkeypatch, assignment.BUCKETS - 1)
    assert hidden not in _home_ids(client.get("/").get_data(as_text=True))
    session.rollback()
    variant = session.scalar(
        select(Impression.variant)
        .where(Impression.placement == "home")
        .order_by(Impression.id.desc())
        .limit(1)
    )
    assert variant == f"{key}:rules"
