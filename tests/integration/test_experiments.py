"""A/B experiments as a service: validation, assignment, results counted in SQL, rollout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from scipy import stats
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from recommender import ModelStore
from shop.catalog.models import Product
from shop.console import audit
from shop.console.models import AuditEntry
from shop.db import db, utcnow
from shop.merchandising import experiments, revisions
from shop.merchandising.abstats import (
    Summary,
    mean_interval,
    proportion,
    two_proportion_ztest,
    welch_ttest,
)
from shop.merchandising.assignment import assign, assignment_unit
from shop.merchandising.experiment_results import experiment_results
from shop.merchandising.experiments import ExperimentError, VariantSpec
from shop.merchandising.models import Experiment
from shop.personalization import service
from shop.recommendation_models import Impression
from shop.tracking.models import Event
from tests import factories

ACTOR = audit.CLI_ACTOR


@pytest.fixture
def store(app: Flask, session: Session, items: dict[str, Product]) -> Iterator[ModelStore]:
    """The app's model store with two trained versions, the first one active."""
    buyers = [factories.user(session, f"b{i}@example.com", f"B{i}") for i in range(4)]
    session.commit()
    start = utcnow() - timedelta(days=10)
    baskets = [["heart", "lantern"], ["jumbo", "lunch"], ["heart", "jumbo"], ["lantern"]] * 3
    rows = [
        {
            "kind": "purchase",
            "visitor_id": "import",
            "user_id": buyers[n % 4].id,
            "product_id": items[name].id,
            "quantity": 1,
            "created_at": start + timedelta(hours=n),
        }
        for n, basket in enumerate(baskets)
        for name in basket
    ]
    session.execute(insert(Event), rows)
    session.commit()
    with app.app_context():
        recs = service()
        recs.train(db.session)
        recs.train(db.session, activate=False)
        yield recs.store


def versions(store: ModelStore) -> tuple[str, str]:
    """The two trained versions in training order (ids made in the same second sort randomly)."""
    found = sorted(store.versions(), key=lambda v: v.metadata["trained_at"])
    first, second = (v.id for v in found)
    return first, second


def two_arms(store: ModelStore, weights: tuple[int, int] = (50, 50)) -> list[VariantSpec]:
    _first, second = versions(store)
    return [
        VariantSpec("control", "Best sellers", "popularity", weights[0]),
        VariantSpec("new-model", "New model", "model", weights[1], model_version=second),
    ]


def create(session: Session, store: ModelStore, **changes: Any) -> Experiment:
    values: dict[str, Any] = {
        "name": "Home page test",
        "placements": ["home", "product"],
        "variants": two_arms(store),
    }
    values.update(changes)
    experiment = experiments.create_experiment(
        session,
        ACTOR,
        values["name"],
        values["placements"],
        values["variants"],
        store=store,
    )
    session.commit()
    return experiment


# --- creating ---------------------------------------------------------------------------


def test_create_stores_the_experiment_and_audits_it(session: Session, store: ModelStore) -> None:
    experiment = create(session, store)
    assert experiment.key == "home-page-test"
    assert experiment.status == "running"
    assert experiment.placements == ["home", "product"]
    assert [v["key"] for v in experiment.variants] == ["control", "new-model"]
    assert experiment.variants[1]["model_version"] == versions(store)[1]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "experiment.create"))
    assert entry is not None
    assert entry.target == f"experiment {experiment.id} home-page-test"
    assert entry.after["placements"] == ["home", "product"]
    # The same name again (on other placements) gets a key of its own.
    again = create(session, store, placements=["cart"])
    assert again.key == "home-page-test-2"


def test_a_long_name_gives_a_key_that_fits_the_impression_column(
    session: Session, store: ModelStore
) -> None:
    experiment = create(session, store, name="A really quite long experiment name, truly")
    assert len(experiment.key) <= experiments.EXPERIMENT_KEY_MAX
    longest = experiments.variant_label(experiment.key, "x" * experiments.VARIANT_KEY_MAX)
    assert len(longest) <= Impression.__table__.c.variant.type.length


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "  "}, "Give the experiment a name"),
        ({"placements": []}, "at least one placement"),
        ({"placements": ["home", "sidebar"]}, "Unknown placement: sidebar"),
        ({"weights": (60, 50)}, "add up to 110%"),
        ({"weights": (100, 0)}, "'new-model' would get no traffic"),
        ({"variants": "one"}, "at least two variants"),
        ({"variants": "duplicate"}, "repeated: control"),
        ({"variants": "bad key"}, "Variant key 'Has Space'"),
        ({"variants": "unknown model"}, "unknown model version 'nope'"),
        ({"variants": "unknown revision"}, "unknown published revision 999"),
        ({"variants": "unknown kind"}, "the kind must be one of"),
    ],
)
def test_invalid_experiments_are_refused_with_a_clear_message(
    session: Session, store: ModelStore, change: dict[str, Any], message: str
) -> None:
    change = dict(change)  # the same parameter object is reused for every backend
    arms = two_arms(store, change.pop("weights", (50, 50)))
    variants = {
        "one": [replace(arms[0], weight=100)],
        "duplicate": [arms[0], replace(arms[1], key="control")],
        "bad key": [arms[0], replace(arms[1], key="Has Space")],
        "unknown model": [arms[0], replace(arms[1], model_version="nope")],
        "unknown revision": [arms[0], VariantSpec("rules", "R", "rules", 50, revision_id=999)],
        "unknown kind": [arms[0], VariantSpec("other", "O", "magic", 50)],
    }
    if isinstance(change.get("variants"), str):
        change["variants"] = variants[change["variants"]]
    with pytest.raises(ExperimentError, match=message):
        experiments.create_experiment(
            session,
            ACTOR,
            change.get("name", "Test"),
            change.get("placements", ["home"]),
            change.get("variants", arms),
            store=store,
        )
    session.rollback()
    assert session.scalar(select(Experiment)) is None


def test_a_placement_is_in_one_running_experiment_at_a_time(
    session: Session, store: ModelStore
) -> None:
    first = create(session, store)
    with pytest.raises(ExperimentError, match=r"already in a running experiment: product"):
        create(session, store, name="Second", placements=["cart", "product"])
    session.rollback()
    experiments.stop_experiment(session, ACTOR, first.id)
    session.commit()
    second = create(session, store, name="Second", placements=["cart", "product"])
    assert second.status == "running"


def test_a_rules_variant_needs_a_published_revision(session: Session, store: ModelStore) -> None:
    revision = revisions.publish_change(session, ACTOR, "base", lambda d: d.update(x=1))
    session.commit()
    arms = [two_arms(store)[0], VariantSpec("rules", "", "rules", 50, revision_id=revision.id)]
    experiment = create(session, store, variants=arms)
    assert experiment.variants[1]["revision_id"] == revision.id
    assert experiment.variants[1]["label"] == "rules"  # an empty label becomes the key
    assert experiments.published_revisions(session) == [(revision.id, "base")]


# --- serving ----------------------------------------------------------------------------


def test_assignment_for_follows_the_hash_and_only_covered_placements(
    session: Session, store: ModelStore
) -> None:
    experiment = create(session, store, variants=two_arms(store, (30, 70)))
    second = versions(store)[1]
    weights = [("control", 30), ("new-model", 70)]
    seen = set()
    for n in range(300):
        visitor = f"visitor-{n}"
        found = experiments.assignment_for(session, visitor, "home")
        assert found is not None
        assert found.experiment_key == experiment.key
        assert found.variant_key == assign(experiment.key, visitor, weights)
        assert experiments.assignment_for(session, visitor, "product") == found
        if found.variant_key == "new-model":
            assert (found.kind, found.model_version, found.revision_id) == ("model", second, None)
            assert found.label == f"{experiment.key}:new-model"
        else:
            assert (found.kind, found.model_version) == ("popularity", None)
        seen.add(found.variant_key)
    assert seen == {"control", "new-model"}
    assert experiments.assignment_for(session, "visitor-1", "cart") is None


def test_running_experiments_are_cached_for_a_few_seconds(
    session: Session, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert experiments.assignment_for(session, "v", "home") is None
    experiment = create(session, store)  # a change made here applies at once
    assert experiments.assignment_for(session, "v", "home") is not None
    # Another worker stops it behind this process's back: still served from the cache...
    session.execute(update(Experiment).values(status="stopped"))
    session.commit()
    assert experiments.assignment_for(session, "v", "home") is not None
    # ...until the cache is older than RUNNING_CACHE_S.
    monkeypatch.setattr(experiments, "RUNNING_CACHE_S", 0.0)
    assert experiments.assignment_for(session, "v", "home") is None
    monkeypatch.undo()
    session.execute(update(Experiment).values(status="running"))
    session.commit()
    experiments.clear_cache()
    assert experiments.assignment_for(session, "v", "home") is not None
    experiments.stop_experiment(session, ACTOR, experiment.id)
    session.commit()
    assert experiments.assignment_for(session, "v", "home") is None


# --- results ----------------------------------------------------------------------------


def _impression(
    rec_id: str, visitor: str, label: str | None, placement: str = "home", **extra: Any
) -> dict[str, Any]:
    return {
        "rec_id": rec_id,
        "placement": placement,
        "model_version": "v",
        "strategy": "personal",
        "variant": label,
        "visitor_id": visitor,
        "user_id": extra.get("user_id"),
        "product_ids": [1, 2],
        "created_at": extra.get("created_at", utcnow()),
    }


def _event(kind: str, rec_id: str | None, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "visitor_id": "x", "rec_id": rec_id, "created_at": utcnow(), **extra}


def test_results_count_visitors_clicks_buyers_and_revenue_exactly(
    session: Session, store: ModelStore, items: dict[str, Product]
) -> None:
    experiment = create(session, store)
    experiment.started_at = utcnow() - timedelta(hours=1)
    session.commit()
    control, treat = f"{experiment.key}:control", f"{experiment.key}:new-model"
    before_start = experiment.started_at - timedelta(minutes=5)
    session.execute(
        insert(Impression),
        [
            _impression("c1", "A", control),
            _impression("c2", "A", control, "product"),
            _impression("c3", "B", control),
            _impression("c4", "C", control),
            _impression("c5", "D", control, "cart"),  # not a covered placement
            _impression("c6", "E", control, created_at=before_start),  # before the start
            _impression("t1", "F", treat),
            _impression("t2", "G", treat),
            _impression("t3", "H", treat, "product"),
            _impression("t4", "F", treat),  # F's second list
            _impression("o1", "I", "other-test:new-model"),  # another experiment
            _impression("n1", "J", None),  # no experiment
        ],
    )
    heart, lantern, jumbo = items["heart"], items["lantern"], items["jumbo"]  # 295, 339, 195
    order_a = factories.order(session, None, "AB-1", [(heart, 2), (jumbo, 1)])
    order_f = factories.order(session, None, "AB-2", [(lantern, 1), (heart, 1)])
    order_g = factories.order(session, None, "AB-3", [(jumbo, 3)])
    order_j = factories.order(session, None, "AB-4", [(heart, 5)])

    def bought(rec_id: str, order: Any, product: Product, quantity: int) -> dict[str, Any]:
        return _event(
            "purchase", rec_id, order_id=order.id, product_id=product.id, quantity=quantity
        )

    session.execute(
        insert(Event),
        [
            _event("rec_click", "c1"),
            _event("rec_click", "c1"),  # the same list clicked twice
            _event("rec_click", "c3"),
            _event("rec_click", "c5"),  # uncovered placement
            _event("rec_click", "t1"),
            _event("rec_click", "t2"),
            _event("rec_click", "t3"),
            _event("cart_add", "t4", product_id=heart.id),  # not a click
            _event("rec_click", "o1"),
            bought("c1", order_a, heart, 2),  # A: 590
            bought("c2", order_a, jumbo, 1),  # A: 195 -> 785
            bought("t1", order_f, lantern, 1),  # F: 339
            bought("t4", order_f, heart, 1),  # F: 295 -> 634
            bought("t2", order_g, jumbo, 3),  # G: 585
            bought("n1", order_j, heart, 5),  # not in the experiment
            bought("c6", order_j, heart, 5),  # before the start
        ],
    )
    session.commit()

    results = experiment_results(session, experiment)
    assert [v.key for v in results.variants] == ["control", "new-model"]
    base, new = results.variants
    assert results.control is base and base.is_control and not new.is_control
    assert (base.visitors, base.impressions, base.clicks, base.clicked_impressions) == (3, 4, 3, 2)
    assert (base.buyers, base.revenue_pence) == (1, 785)
    assert (new.visitors, new.impressions, new.clicks, new.clicked_impressions) == (3, 4, 3, 3)
    assert (new.buyers, new.revenue_pence) == (2, 1219)

    assert base.ctr.rate == pytest.approx(0.5)
    assert new.ctr.rate == pytest.approx(0.75)
    assert base.conversion == proportion(1, 3)
    assert new.conversion == proportion(2, 3)
    assert base.revenue_per_visitor.mean == pytest.approx(785 / 3)
    assert new.revenue_per_visitor.mean == pytest.approx(1219 / 3)
    assert base.ctr_vs_control is None and base.revenue_vs_control is None

    assert new.ctr_vs_control == two_proportion_ztest(proportion(2, 4), proportion(3, 4))
    assert new.conversion_vs_control == two_proportion_ztest(proportion(1, 3), proportion(2, 3))
    revenue = new.revenue_vs_control
    assert revenue == welch_ttest(Summary.of([785, 0, 0]), Summary.of([634, 585, 0]))
    assert revenue is not None
    expected = stats.ttest_ind([634, 585, 0], [785, 0, 0], equal_var=False)
    assert revenue.p_value == pytest.approx(expected.pvalue)
    assert not revenue.significant


def test_results_count_revenue_after_the_tier_discount(
    session: Session, store: ModelStore, items: dict[str, Product]
) -> None:
    experiment = create(session, store)
    experiment.started_at = utcnow() - timedelta(hours=1)
    heart, jumbo = items["heart"], items["jumbo"]  # 295, 195
    member_order = factories.order(session, None, "AB-T", [(heart, 2), (jumbo, 1)])  # 785
    member_order.tier_discount_pence = 79  # 59 off the hearts, 20 off the bag
    session.commit()
    session.execute(
        insert(Impression),
        [_impression("c1", "A", f"{experiment.key}:control")],
    )
    session.execute(
        insert(Event),
        [
            _event("purchase", "c1", order_id=member_order.id, product_id=heart.id, quantity=2),
            _event("purchase", "c1", order_id=member_order.id, product_id=jumbo.id, quantity=1),
        ],
    )
    session.commit()
    base, _new = experiment_results(session, experiment).variants
    assert (base.buyers, base.revenue_pence) == (1, 531 + 175)
    assert base.revenue_per_visitor.mean == pytest.approx(706)


def test_results_count_a_signed_in_shopper_once_across_browsers(
    session: Session, store: ModelStore, items: dict[str, Product]
) -> None:
    experiment = create(session, store)
    experiment.started_at = utcnow() - timedelta(hours=1)
    ann = factories.user(session, "ann@example.com", "Ann")
    bob = factories.user(session, "bob@example.com", "Bob")
    session.commit()
    control, treat = f"{experiment.key}:control", f"{experiment.key}:new-model"
    session.execute(
        insert(Impression),
        [
            # Ann, signed in on her laptop and her phone: one visitor.
            _impression("a1", "laptop", control, user_id=ann.id),
            _impression("a2", "phone", control, user_id=ann.id),
            _impression("a3", "phone", control, "product", user_id=ann.id),
            # Bob on his browser; and a tablet nobody signed in on.
            _impression("b1", "bob-browser", control, user_id=bob.id),
            _impression("c1", "tablet", control),
            # The phone before Ann signed in there: an anonymous visitor of its own, in the
            # arm its visitor id hashes to.
            _impression("t1", "phone", treat),
        ],
    )
    heart, jumbo = items["heart"], items["jumbo"]  # 295p and 195p
    order = factories.order(session, None, "AB-5", [(heart, 2), (jumbo, 1)])
    session.execute(
        insert(Event),
        [
            _event("rec_click", "a1"),
            _event("rec_click", "a2"),
            _event("purchase", "a1", order_id=order.id, product_id=heart.id, quantity=2),
            _event("purchase", "a2", order_id=order.id, product_id=jumbo.id, quantity=1),
        ],
    )
    session.commit()

    base, new = experiment_results(session, experiment).variants
    assert (base.visitors, base.impressions, base.buyers, base.revenue_pence) == (3, 5, 1, 785)
    assert base.conversion == proportion(1, 3)
    # Ann's purchases from both browsers are one visitor's revenue.
    assert base.revenue_per_visitor == mean_interval(Summary.of([785, 0, 0]), floor=0.0)
    assert (new.visitors, new.impressions, new.buyers) == (1, 1, 0)
    # The unit counted is the one serving assigns by.
    assert assignment_unit(ann.id, "phone") == f"user:{ann.id}"
    assert assignment_unit(None, "phone") == "phone"


def test_results_of_an_experiment_without_traffic(session: Session, store: ModelStore) -> None:
    experiment = create(session, store)
    results = experiment_results(session, experiment)
    for variant in results.variants:
        assert (variant.visitors, variant.impressions, variant.buyers) == (0, 0, 0)
        assert (variant.ctr.low, variant.ctr.high) == (0.0, 1.0)
        assert variant.revenue_per_visitor.low is None
    assert results.variants[1].ctr_vs_control is None
    assert results.variants[1].revenue_vs_control is None


def test_impressions_after_the_stop_do_not_count(session: Session, store: ModelStore) -> None:
    experiment = create(session, store)
    experiment.started_at = utcnow() - timedelta(hours=2)
    session.commit()
    experiments.stop_experiment(session, ACTOR, experiment.id)
    session.commit()
    label = f"{experiment.key}:control"
    during, later = utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1)
    session.execute(
        insert(Impression),
        [
            _impression("s1", "A", label, created_at=during),
            _impression("s2", "B", label, created_at=later),
        ],
    )
    session.commit()
    assert experiment_results(session, experiment).control.impressions == 1


# --- stopping and rolling out -----------------------------------------------------------


def test_stop_is_audited_and_happens_once(session: Session, store: ModelStore) -> None:
    experiment = create(session, store)
    experiments.stop_experiment(session, ACTOR, experiment.id)
    session.commit()
    assert experiment.status == "stopped" and experiment.stopped_at is not None
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "experiment.stop"))
    assert entry is not None and entry.before == {"status": "running"}
    with pytest.raises(ExperimentError, match="already been stopped"):
        experiments.stop_experiment(session, ACTOR, experiment.id)
    with pytest.raises(experiments.ExperimentNotFoundError):
        experiments.stop_experiment(session, ACTOR, 999)


def test_rolling_out_a_model_variant_activates_its_version(
    session: Session, store: ModelStore
) -> None:
    first, second = versions(store)
    assert store.active() == first
    experiment = create(session, store)
    experiments.roll_out(session, ACTOR, experiment.id, "new-model", store=store)
    session.commit()
    assert store.active() == second
    assert (experiment.status, experiment.winner) == ("stopped", "new-model")
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["experiment.stop", "experiment.rollout"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "experiment.rollout"))
    assert entry is not None
    assert entry.before == {"winner": None, "active_model": first}
    assert entry.after == {"winner": "new-model", "kind": "model", "active_model": second}
    with pytest.raises(ExperimentError, match="already been rolled out"):
        experiments.roll_out(session, ACTOR, experiment.id, "control", store=store)


def test_rolling_out_an_unknown_variant_changes_nothing(
    session: Session, store: ModelStore
) -> None:
    experiment = create(session, store)
    with pytest.raises(ExperimentError, match="no variant 'nope'"):
        experiments.roll_out(session, ACTOR, experiment.id, "nope", store=store)
    session.rollback()
    assert session.get(Experiment, experiment.id).status == "running"


def test_a_failed_activation_rolls_the_database_back(session: Session, store: ModelStore) -> None:
    experiment = create(session, store)
    second = versions(store)[1]
    (store.versions_dir / second / "model.npz").write_bytes(b"corrupt")
    with pytest.raises(ExperimentError, match=r"cannot be activated: .*checksum mismatch"):
        experiments.roll_out(session, ACTOR, experiment.id, "new-model", store=store)
    session.rollback()
    assert session.get(Experiment, experiment.id).winner is None
    assert store.active() == versions(store)[0]


def test_rolling_out_a_rules_variant_publishes_its_revision(
    session: Session, store: ModelStore
) -> None:
    chosen = revisions.publish_change(
        session, ACTOR, "bury retired", lambda d: d.update(rules=[{"id": "r1", "type": "bury"}])
    )
    revisions.publish_change(session, ACTOR, "later", lambda d: d.update(rules=[], extra=True))
    session.commit()
    arms = [two_arms(store)[0], VariantSpec("rules", "Rules", "rules", 50, revision_id=chosen.id)]
    experiment = create(session, store, variants=arms)
    experiments.roll_out(session, ACTOR, experiment.id, "rules", store=store)
    session.commit()
    live = revisions.live_revision(session)
    assert live is not None and live.id > chosen.id
    assert live.data == {"rules": [{"id": "r1", "type": "bury"}]}
    assert live.note.startswith(f"A/B test {experiment.key}: roll out rules")
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["experiment.stop", "merch.publish_change", "experiment.rollout"]


def test_rolling_out_a_rules_variant_keeps_the_live_never_and_exclude_rules(
    session: Session, store: ModelStore
) -> None:
    bury = {"id": "r1", "type": "bury", "product_id": 3, "factor": 2.0}
    exclude = {"id": "r2", "type": "exclude", "product_id": 5, "placements": ["home"]}
    chosen = revisions.publish_change(
        session, ACTOR, "older", lambda d: d.update(rules=[bury, exclude])
    )
    session.commit()
    arms = [two_arms(store)[0], VariantSpec("rules", "Rules", "rules", 50, revision_id=chosen.id)]
    experiment = create(session, store, variants=arms)
    # Published while the experiment ran: a ban, the same exclusion, and a boost.
    never = {"id": "r1", "type": "never", "product_id": 9}
    same = {**exclude, "id": "r7"}
    boost = {"id": "r3", "type": "boost", "product_id": 4, "factor": 3.0}
    revisions.publish_change(session, ACTOR, "ban", lambda d: d.update(rules=[never, same, boost]))
    session.commit()
    experiments.roll_out(session, ACTOR, experiment.id, "rules", store=store)
    session.commit()
    # The arm's rules, plus the ban (renumbered: r1 is the arm's bury); not the boost.
    assert revisions.live_data(session)["rules"] == [bury, exclude, {**never, "id": "r3"}]


def test_rolling_out_popularity_makes_the_covered_placements_popular(
    session: Session, store: ModelStore
) -> None:
    revisions.publish_change(
        session, ACTOR, "sizes", lambda d: d.update(placements={"home": {"size": 5}})
    )
    # A colleague's unpublished draft, started before the roll-out.
    revisions.save_draft(
        session, ACTOR, {"placements": {"home": {"size": 7}}}, "merch.settings", "settings"
    )
    session.commit()
    experiment = create(session, store, placements=["home", "cart"])
    experiments.roll_out(session, ACTOR, experiment.id, "control", store=store)
    session.commit()
    assert revisions.live_data(session)["placements"] == {
        "home": {"size": 5, "strategy": "popular"},
        "cart": {"strategy": "popular"},
    }
    # Publishing the draft later keeps the roll-out and the draft's own edit.
    revisions.publish(session, ACTOR)
    session.commit()
    assert revisions.live_data(session)["placements"] == {
        "home": {"size": 7, "strategy": "popular"},
        "cart": {"strategy": "popular"},
    }
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "merch.draft_change" in actions
    assert store.active() == versions(store)[0]  # the model is left alone


def test_rolling_out_a_rules_variant_keeps_the_drafts_own_edits(
    session: Session, store: ModelStore
) -> None:
    bury = {"id": "r1", "type": "bury", "product_id": 3, "factor": 2.0}
    chosen = revisions.publish_change(session, ACTOR, "older", lambda d: d.update(rules=[bury]))
    pin = {"id": "r1", "type": "pin", "product_id": 8, "position": 1}
    dropped = {"id": "r2", "type": "boost", "product_id": 6, "factor": 2.0}
    live = {"placements": {"home": {"size": 8}}, "rules": [pin, dropped]}
    revisions.publish_change(session, ACTOR, "newer", lambda d: d.update(live))
    session.commit()
    arms = [two_arms(store)[0], VariantSpec("rules", "Rules", "rules", 50, revision_id=chosen.id)]
    experiment = create(session, store, variants=arms)
    # Unpublished work: a smaller home list, a new boost, and the boost r2 deleted.
    added = {"id": "r3", "type": "boost", "product_id": 4, "factor": 5.0}
    draft = {"placements": {"home": {"size": 5}}, "rules": [pin, added]}
    revisions.save_draft(session, ACTOR, draft, "merch.settings", "settings")
    session.commit()

    experiments.roll_out(session, ACTOR, experiment.id, "rules", store=store)
    session.commit()
    assert revisions.live_data(session)["rules"] == [bury]
    rebased = revisions.draft_data(session)
    assert rebased["placements"] == {"home": {"size": 5}}
    assert rebased["rules"] == [bury, added]
    revisions.publish(session, ACTOR)
    session.commit()
    assert revisions.live_data(session)["rules"] == [bury, added]
