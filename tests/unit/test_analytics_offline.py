"""Offline quality: real model versions, trained and evaluated by the real recommender on a
small synthetic shop, read back, shaped for the console and compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender import (
    EvaluationReport,
    Interaction,
    Interactions,
    ModelStore,
    TrainingParams,
    evaluate,
    time_split,
    train,
)
from shop.analytics.offline import (
    METRIC_NAMES,
    EvaluationFormatError,
    UnknownVersionError,
    compare,
    find_version,
    offline_page,
    read_evaluation,
    version_summaries,
)

DAY = 86_400.0
START = 1_700_000_000.0
CUTOFF = START + 45 * DAY
K = 5
SMALL = TrainingParams(model_params={"factors": 4, "iterations": 3, "regularization": 1.0})
LARGER = TrainingParams(model_params={"factors": 16, "iterations": 15, "regularization": 0.1})


def synthetic_shop(seed: int = 11) -> Interactions:
    """Three clusters of 20 shoppers buying 8-item ranges over 60 days, plus some views."""
    rng = np.random.default_rng(seed)
    rows = []
    for cluster in range(3):
        items = [f"sku-{cluster}-{i}" for i in range(8)]
        for u in range(20):
            user = f"user-{cluster}-{u}"
            for basket in range(4):
                when = START + float(rng.integers(0, 60)) * DAY
                for item in rng.choice(items, size=2, replace=False):
                    quantity = float(rng.integers(1, 4))
                    rows.append(
                        Interaction(user, str(item), "purchase", when, quantity, f"{user}-{basket}")
                    )
            rows.append(Interaction(user, items[int(rng.integers(0, 8))], "view", START))
    return Interactions.from_records(rows)


def evaluated_version(
    store: ModelStore, params: TrainingParams, k: int = K
) -> tuple[str, EvaluationReport]:
    """Evaluate params on a time split, train on everything and save with the report."""
    data = synthetic_shop()
    report = evaluate(time_split(data, CUTOFF), params, k=k)
    version = store.save(train(data, params), {"evaluation": report.to_dict()})
    return version, report


def plain_version(store: ModelStore) -> str:
    """A version saved without an evaluation."""
    return store.save(train(synthetic_shop(), SMALL), {"source": "test"})


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """small (evaluated), larger (evaluated, active), plain (not evaluated), newest last."""
    store = ModelStore(Path(tmp_path_factory.mktemp("models")))
    small, small_report = evaluated_version(store, SMALL)
    larger, larger_report = evaluated_version(store, LARGER)
    plain = plain_version(store)
    store.activate(larger)
    return {
        "store": store,
        "small": small,
        "larger": larger,
        "plain": plain,
        "small_report": small_report,
        "larger_report": larger_report,
    }


def test_a_real_report_is_read_row_by_row(versions: dict) -> None:
    report: EvaluationReport = versions["larger_report"]
    evaluation = read_evaluation(report.to_dict())
    assert evaluation.k == K
    assert evaluation.split.startswith("time split at")
    assert evaluation.views == ["new", "all"]
    assert [r.model for r in evaluation.rows_of("new")] == ["model", "popularity", "item_knn"]
    assert [r.model for r in evaluation.rows_of("all")] == [
        "model",
        "popularity",
        "item_knn",
        "buy_again_only",
    ]
    for row in evaluation.rows:
        for metric in METRIC_NAMES:
            expected = report.metric(row.view, row.model, metric)
            assert row.metrics[metric] == pytest.approx(expected), (row.view, row.model, metric)
    assert evaluation.counts["train_users"] == 60
    assert evaluation.lift["new"] == pytest.approx(round(report.lift("new"), 3))
    model = evaluation.row("new", "model")
    assert model is not None and model.users > 0 and model.label == "This version"
    ratio = evaluation.versus_popularity(model)
    assert ratio == pytest.approx(report.lift("new"))
    for view in ("new", "all"):
        low, high = evaluation.intervals[view]
        assert high is not None and low <= evaluation.lift[view] <= high


def test_malformed_intervals_are_left_out_not_raised() -> None:
    data = {
        "k": 5,
        "results": [{"view": "new", "model": "model", **dict.fromkeys(METRIC_NAMES, 0.1)}],
        "lift_interval_95": {
            "new": [1.5, None],
            "all": [1.0, "a lot"],
            "other": [2.0],
            "odd": "1 to 2",
        },
    }
    assert read_evaluation(data).intervals == {"new": (1.5, None)}


def test_chart_data_matches_the_rows(versions: dict) -> None:
    evaluation = read_evaluation(versions["small_report"].to_dict())
    charts = evaluation.chart_data()
    assert set(charts) == {"new", "all"}
    new = charts["new"]
    assert new["labels"][0] == f"Precision@{K}" and new["labels"][-1] == "Coverage"
    assert [d["label"] for d in new["datasets"]] == [
        "This version",
        "Popularity baseline",
        "Item k-NN baseline",
    ]
    row = evaluation.row("new", "popularity")
    assert row is not None
    assert new["datasets"][1]["data"] == [row.metrics[m] for m in METRIC_NAMES]


def test_versions_newest_first_with_not_evaluated_ones(versions: dict) -> None:
    summaries = version_summaries(versions["store"])
    # Newest first; the store's ids order versions saved within one second at random.
    assert {s.id for s in summaries} == {versions[n] for n in ("plain", "larger", "small")}
    stamps = [s.created_at for s in summaries]
    assert stamps == sorted(stamps, reverse=True)
    plain, larger, small = (
        find_version(summaries, versions[n]) for n in ("plain", "larger", "small")
    )
    assert not plain.evaluated and plain.problem is None and plain.headline() is None
    assert larger.active and larger.evaluated
    assert small.headline() == pytest.approx(
        versions["small_report"].metric("new", "model", "precision")
    )


def test_an_unreadable_evaluation_is_reported_not_raised(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    broken = store.save(train(synthetic_shop(), SMALL), {"evaluation": {"results": "nope"}})
    (summary,) = version_summaries(store)
    assert summary.id == broken and summary.evaluation is None
    assert summary.problem == "the evaluation has no results"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "not an object"),
        ({"k": 10, "results": []}, "no results"),
        ({"k": 10, "results": [{"view": "new"}]}, "no view or model"),
        ({"k": 10, "results": [{"view": "new", "model": "model", "precision": "x"}]}, "precision"),
        (
            {
                "k": "ten",
                "results": [{"view": "new", "model": "m", **dict.fromkeys(METRIC_NAMES, 0.1)}],
            },
            "k is not a number",
        ),
    ],
)
def test_malformed_evaluations(data: object, message: str) -> None:
    with pytest.raises(EvaluationFormatError, match=message):
        read_evaluation(data)


def test_compare_two_versions(versions: dict) -> None:
    summaries = version_summaries(versions["store"])
    a = find_version(summaries, versions["small"])
    b = find_version(summaries, versions["larger"])
    comparison = compare(a, b)
    assert comparison.notes == []  # same k, same split
    assert len(comparison.deltas) == 7 * len(METRIC_NAMES)  # 3 rows in "new", 4 in "all"
    small, larger = versions["small_report"], versions["larger_report"]
    for delta in comparison.deltas:
        expected_a = small.metric(delta.view, delta.model, delta.metric)
        expected_b = larger.metric(delta.view, delta.model, delta.metric)
        assert delta.a == pytest.approx(expected_a)
        assert delta.b == pytest.approx(expected_b)
        assert delta.delta == pytest.approx(expected_b - expected_a)
    own = [d for d in comparison.deltas if d.model == "model"]
    assert any(abs(d.delta or 0) > 1e-6 for d in own)  # the two versions really differ
    chart = comparison.chart_data()
    assert len(chart["labels"]) == 2 * len(METRIC_NAMES)
    assert chart["datasets"][0]["label"] == f"A: {a.id}"


def test_the_baselines_do_not_move_between_versions_on_the_same_split(versions: dict) -> None:
    summaries = version_summaries(versions["store"])
    comparison = compare(
        find_version(summaries, versions["small"]), find_version(summaries, versions["larger"])
    )
    popularity = [d for d in comparison.deltas if d.model == "popularity"]
    assert popularity and all(d.delta == pytest.approx(0.0) for d in popularity)


def test_compare_with_a_version_that_is_not_evaluated(versions: dict) -> None:
    summaries = version_summaries(versions["store"])
    comparison = compare(
        find_version(summaries, versions["small"]), find_version(summaries, versions["plain"])
    )
    assert comparison.deltas == []
    assert comparison.notes == [
        f"Version {versions['plain']} is not evaluated, so there is nothing to compare."
    ]


def test_compare_reports_at_different_k(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    at5, _ = evaluated_version(store, SMALL, k=5)
    at3, _ = evaluated_version(store, SMALL, k=3)
    summaries = version_summaries(store)
    comparison = compare(find_version(summaries, at5), find_version(summaries, at3))
    assert "different k (5 and 3)" in comparison.notes[0]


def test_page_selection_and_unknown_ids(versions: dict) -> None:
    store = versions["store"]
    page = offline_page(store)
    assert page.selected is not None and page.selected.id == versions["larger"]  # the active one
    assert page.comparison is None
    page = offline_page(store, versions["small"], (versions["small"], versions["larger"]))
    assert page.selected is not None and page.selected.id == versions["small"]
    assert page.comparison is not None and page.comparison.b.id == versions["larger"]
    with pytest.raises(UnknownVersionError, match="no model version 'nope'"):
        offline_page(store, "nope")
    with pytest.raises(UnknownVersionError):
        offline_page(store, None, (versions["small"], "nope"))


def test_an_empty_store(tmp_path: Path) -> None:
    page = offline_page(ModelStore(tmp_path))
    assert page.versions == [] and page.selected is None
