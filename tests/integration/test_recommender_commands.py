"""`flask recommender ...` on the shop's own data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.tracking.models import Event
from tests import factories


@pytest.fixture
def purchases(session: Session) -> None:
    """Two groups of customers buying within their group, before and after the cutoff."""
    items = factories.small_catalogue(session)
    extra = [
        factories.product(session, None, sku=f"X{i}", name=f"Extra {i}", stock=5) for i in range(8)
    ]
    session.commit()
    group_a = [items["heart"], items["lantern"], *extra[:4]]
    group_b = [items["jumbo"], *extra[4:]]
    users = [factories.user(session, f"c{i}@example.com") for i in range(12)]
    session.commit()
    rows = []
    start = datetime(2011, 6, 1)
    for n, user in enumerate(users):
        group = group_a if n % 2 == 0 else group_b
        for day in range(0, 150, 10):
            product = group[(n + day // 10) % len(group)]
            rows.append(
                {
                    "kind": "purchase",
                    "visitor_id": "import",
                    "user_id": user.id,
                    "product_id": product.id,
                    "order_id": None,
                    "quantity": 2,
                    "created_at": start + timedelta(days=day, hours=n),
                }
            )
    session.execute(insert(Event), rows)
    session.commit()


def test_train_versions_activate_and_rollback(app: Flask, purchases: None) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["recommender", "train"])
    assert first.exit_code == 0, first.output
    assert "saved and activated" in first.output
    second = runner.invoke(args=["recommender", "train", "--no-activate"])
    assert second.exit_code == 0 and "activated" not in second.output
    active = first.output.split("Model version ")[1].split()[0]
    newest = second.output.split("Model version ")[1].split()[0]
    listing = runner.invoke(args=["recommender", "versions"]).output.splitlines()
    assert len(listing) == 2
    assert any(line.startswith(f"* {active}") for line in listing), listing
    assert any(line.startswith(f"  {newest}") for line in listing), listing
    assert runner.invoke(args=["recommender", "activate", newest]).exit_code == 0
    listing = runner.invoke(args=["recommender", "versions"]).output.splitlines()
    assert any(line.startswith(f"* {newest}") for line in listing), listing
    rolled = runner.invoke(args=["recommender", "rollback"])
    assert rolled.exit_code == 0 and "Rolled back to" in rolled.output
    unknown = runner.invoke(args=["recommender", "activate", "no-such-version"])
    assert unknown.exit_code != 0 and "Error" in unknown.output


def test_train_with_no_data_says_so(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["recommender", "train"])
    assert result.exit_code != 0
    assert "no interactions to train on" in result.output


def test_evaluate_reports_both_views_against_the_baselines(
    app: Flask, purchases: None, tmp_path: Path
) -> None:
    out = tmp_path / "eval.json"
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "2011-09-01", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "| new | als (model)" in result.output and "| all | popularity" in result.output
    report = json.loads(out.read_text())
    views = {(row["view"], row["model"]) for row in report["results"]}
    assert {("new", "model"), ("new", "popularity"), ("all", "item_knn")} <= views
    assert report["counts"]


def failed_cleanly(result: Result, exit_code: int = 1) -> str:
    """The output of a command that failed with a message: no exception, no traceback."""
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [("evaluate", "--k", "0"), ("evaluate", "--k", "-3"), ("tune", "--trials", "0")],
)
def test_evaluate_and_tune_refuse_counts_below_one(
    app: Flask, command: str, option: str, value: str
) -> None:
    result = app.test_cli_runner().invoke(args=["recommender", command, option, value])
    output = failed_cleanly(result, exit_code=2)
    assert f"Invalid value for '{option}': {value} is not in the range x>=1." in output


def test_evaluate_and_tune_on_an_empty_shop_say_so(app: Flask) -> None:
    runner = app.test_cli_runner()
    evaluated = runner.invoke(args=["recommender", "evaluate"])
    assert "Error: there are no purchases to evaluate on yet" in failed_cleanly(evaluated)
    tuned = runner.invoke(args=["recommender", "tune"])
    assert "Error: there are no purchases before the cutoff to tune on" in failed_cleanly(tuned)


def test_evaluate_with_nothing_on_one_side_of_the_cutoff_says_so(
    app: Flask, purchases: None
) -> None:
    runner = app.test_cli_runner()
    early = runner.invoke(args=["recommender", "evaluate", "--cutoff", "1999-01-01"])
    assert "Error: there are no purchases before the cutoff 1999-01-01 to train on" in (
        failed_cleanly(early)
    )
    late = runner.invoke(args=["recommender", "evaluate", "--cutoff", "2031-01-01"])
    output = failed_cleanly(late)
    assert (
        "Error: there are no test purchases: none on or after the cutoff 2031-01-01 "
        "by a customer who bought before it"
    ) in output
    assert "infx" not in output and "| new |" not in output


def test_tune_on_too_little_data_says_so(app: Flask, purchases: None) -> None:
    result = app.test_cli_runner().invoke(
        args=["recommender", "tune", "--cutoff", "2011-06-02", "--trials", "1"]
    )
    assert "Error: the validation split has no test interactions" in failed_cleanly(result)
