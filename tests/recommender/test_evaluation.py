"""Offline evaluation: both views, the baselines, and the report."""

from __future__ import annotations

import json

import pytest

from recommender import EvaluationReport, Interactions, TrainingParams, evaluate, time_split
from recommender.evaluation import BUY_AGAIN, MODEL, POPULARITY
from tests.recommender.conftest import START

DAY = 86_400.0
PARAMS = TrainingParams(model_params={"factors": 3, "iterations": 10, "regularization": 0.1})


@pytest.fixture(scope="module")
def report(interactions: Interactions) -> EvaluationReport:
    """An evaluation of the synthetic shop split after day 25."""
    return evaluate(time_split(interactions, START + 25 * DAY), PARAMS, k=5)


def test_every_view_has_the_model_and_both_baselines(report: EvaluationReport) -> None:
    rows = [(r.view, r.model) for r in report.rows]
    assert rows == [
        ("new", "model"),
        ("new", "popularity"),
        ("new", "item_knn"),
        ("all", "model"),
        ("all", "popularity"),
        ("all", "item_knn"),
        ("all", BUY_AGAIN),
    ]


def test_metrics_are_proportions(report: EvaluationReport) -> None:
    for row in report.rows:
        m = row.metrics
        assert m.users > 0
        for value in (m.precision, m.recall, m.ndcg, m.map, m.hit_rate, m.coverage):
            assert 0.0 <= value <= 1.0


def test_the_model_beats_popularity_on_clustered_data(report: EvaluationReport) -> None:
    assert report.metric("new", MODEL) > 1.5 * report.metric("new", POPULARITY)
    assert report.lift("new") == pytest.approx(
        report.metric("new", MODEL) / report.metric("new", POPULARITY)
    )


def test_view_new_drops_users_without_new_purchases(report: EvaluationReport) -> None:
    assert report.counts["test_users_new"] <= report.counts["test_users_all"]
    new_users = {r.metrics.users for r in report.rows if r.view == "new"}
    assert new_users == {report.counts["test_users_new"]}


def test_report_as_json_and_table(report: EvaluationReport) -> None:
    document = json.loads(json.dumps(report.to_dict()))
    assert document["k"] == 5
    assert len(document["results"]) == 7
    assert set(document["lift_over_popularity"]) == {"new", "all"}
    table = report.to_table()
    assert "| new | als (model) |" in table
    assert "precision@5" in table
    for view in ("new", "all"):
        low, high = document["lift_interval_95"][view]
        assert low <= document["lift_over_popularity"][view] <= high
        low, high = report.intervals[view]
        assert f"{view} {low:.2f}x to {high:.2f}x" in table


def test_the_table_shows_no_ratio_over_a_baseline_of_zero() -> None:
    bought = [("a", 1), ("b", 2), ("a", 40)]  # after the cutoff (day 30), only re-purchases
    data = Interactions.from_records(
        [(f"u{n}", item, "purchase", START + day * DAY) for n in range(4) for item, day in bought]
    )
    report = evaluate(time_split(data, START + 30 * DAY), TrainingParams(model="popularity"), k=2)
    assert report.counts["test_users_new"] == 0
    table = report.to_table()
    new_rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| new |")]
    assert len(new_rows) == 3
    assert {(cells[2], cells[-1]) for cells in new_rows} == {("0", "n/a |")}
    assert "inf" not in table


def test_the_lift_interval_pairs_the_same_users(report: EvaluationReport) -> None:
    model = report.rows[0].metrics.per_user_precision
    base = report.rows[1].metrics.per_user_precision
    assert len(model) == len(base) == report.counts["test_users_new"]
    assert model.mean() == pytest.approx(report.metric("new", MODEL))
    low, high = report.lift_interval("new")
    assert low <= report.lift("new") <= high
    assert report.intervals["new"] == (low, high)  # the same seed gives the same interval


def test_an_unknown_view_is_a_value_error(interactions: Interactions) -> None:
    with pytest.raises(ValueError, match="unknown view"):
        evaluate(time_split(interactions, START + 25 * DAY), PARAMS, views=["fresh"])
