"""`flask recommender ...` on the shop's own data."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from recommender import ModelVersion
from shop.db import utcnow
from shop.merchandising.models import MerchRevision
from shop.personalization import live_training_params, service
from shop.recommendation_types import TUNED_PARAMS, default_params
from shop.recommender_cli import describe_version
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


def test_a_trained_version_keeps_its_evaluation_unless_told_not_to(
    app: Flask, purchases: None
) -> None:
    runner = app.test_cli_runner()
    evaluated = runner.invoke(args=["recommender", "train"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "precision@10 new" in evaluated.output
    quick = runner.invoke(args=["recommender", "train", "--no-evaluate", "--no-activate"])
    assert quick.exit_code == 0, quick.output
    with app.app_context():
        saved = {v.id: v.metadata for v in service().store.versions()}
    first = evaluated.output.split("Model version ")[1].split()[0]
    second = quick.output.split("Model version ")[1].split()[0]
    report = saved[first]["evaluation"]
    assert report["k"] == 10 and {row["view"] for row in report["results"]} == {"new", "all"}
    rows = {(r["view"], r["model"]): r for r in report["results"]}
    assert rows[("all", "model")]["users"] > 0 and rows[("all", "model")]["precision"] > 0
    model_new = rows[("new", "model")]
    assert "evaluation" not in saved[second]
    listing = runner.invoke(args=["recommender", "versions"]).output.splitlines()
    shown = next(line for line in listing if first in line)
    assert f"precision@10 new {model_new['precision']:.4f}" in shown
    assert "precision@10" not in next(line for line in listing if second in line)


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


def test_versions_show_model_counts_training_time_and_evaluation(
    app: Flask, purchases: None, session: Session, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "eval.json"
    evaluated = runner.invoke(
        args=["recommender", "evaluate", "--cutoff", "2011-09-01", "--json", str(out)]
    )
    assert evaluated.exit_code == 0, evaluated.output
    plain = runner.invoke(args=["recommender", "train", "--no-evaluate"])
    assert plain.exit_code == 0, plain.output
    evaluation = json.loads(out.read_text())
    with app.app_context():
        evaluated_id = service().train(session, metadata={"evaluation": evaluation})
        versions = service().store.versions()
    listing = runner.invoke(args=["recommender", "versions"])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert len(lines) == 2
    for line, version in zip(lines, reversed(versions), strict=True):
        training = version.metadata["training"]
        assert line.startswith(f"{'*' if version.active else ' '} {version.id}  als  ")
        assert version.created_at in line
        assert (
            f"{training['users']:,} users, {training['items']:,} items, "
            f"{training['interactions']:,} interactions"
        ) in line
        assert f"trained in {training['training_seconds']:.1f} s" in line
        if version.id != evaluated_id:
            assert "precision@" not in line
    precision = next(
        row["precision"]
        for row in evaluation["results"]
        if row["view"] == "new" and row["model"] == "model"
    )
    evaluated = next(line for line in lines if evaluated_id in line)
    assert evaluated.endswith(f"precision@10 new {precision:.4f}"), evaluated


def test_a_version_line_shows_the_lift_and_leaves_out_what_is_unknown() -> None:
    def result(model: str, precision: float) -> dict[str, object]:
        metrics = dict.fromkeys(("recall", "ndcg", "map", "hit_rate", "coverage"), 0.5)
        return {"view": "new", "model": model, "users": 40, "precision": precision, **metrics}

    evaluation = {
        "k": 10,
        "split": "time split at 2011-09-01T00:00:00",
        "results": [result("model", 0.1154), result("popularity", 0.0566)],
        "lift_over_popularity": {"new": 2.04},
    }
    training = {"users": 4334, "items": 3656, "interactions": 396511, "training_seconds": 12.34}
    version = ModelVersion(
        "20260101T000000Z-abcdef",
        "2026-01-01T00:00:00+00:00",
        {"model": "als", "training": training, "evaluation": evaluation},
        active=True,
    )
    assert describe_version(version) == (
        "als  2026-01-01T00:00:00+00:00  4,334 users, 3,656 items, 396,511 interactions  "
        "trained in 12.3 s  precision@10 new 0.1154 (2.04x popularity)"
    )
    bare = ModelVersion("v", "", {}, active=False)
    assert describe_version(bare) == "?  ?"


def test_an_unreadable_active_pointer_is_reported_and_training_replaces_it(
    app: Flask, purchases: None
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["recommender", "train"]).exit_code == 0
    with app.app_context():
        store = service().store
    (store.directory / "ACTIVE").write_text("{garbage")
    listing = runner.invoke(args=["recommender", "versions"])
    assert listing.exit_code == 0 and listing.exception is None
    assert "Warning: unreadable pointer file ACTIVE" in listing.output
    assert not any(line.startswith("*") for line in listing.output.splitlines())
    long_id = runner.invoke(args=["recommender", "activate", "x" * 300])
    assert "not a version id" in failed_cleanly(long_id)
    trained = runner.invoke(args=["recommender", "train"])
    assert trained.exit_code == 0, trained.output
    assert "saved and activated" in trained.output
    assert store.pointer_error() is None and store.active() is not None


def test_commands_are_not_preceded_by_alembic_plugin_chatter(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "SHOP_INSTANCE_PATH": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "shop", "recommender", "versions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "No trained versions yet" in done.stdout
    assert "setup plugin" not in done.stderr


def test_tune_before_any_training_writes_its_parameters(app: Flask, purchases: None) -> None:
    # A shop that imported its data but never trained has no model folder yet.
    target = service_store_directory(app) / "params.json"
    assert not target.parent.exists()
    result = app.test_cli_runner().invoke(
        args=["recommender", "tune", "--cutoff", "2011-09-01", "--trials", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"Chosen parameters written to {target}" in result.output
    assert json.loads(target.read_text())["params"]["model"] == "als"


def service_store_directory(app: Flask) -> Path:
    """The folder the app keeps model versions and tuned parameters in."""
    with app.app_context():
        return service().store.directory


def test_evaluate_to_a_json_file_in_a_missing_folder_says_so_before_evaluating(
    app: Flask, purchases: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "shop.recommender_cli.evaluate", lambda *a, **k: pytest.fail("evaluated for nothing")
    )
    target = tmp_path / "no-such-folder" / "eval.json"
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "2011-09-01", "--json", str(target)]
    )
    output = failed_cleanly(result)
    assert f"Error: cannot write {target}: {target.parent} is not a writable folder" in output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"model_params": [1]}', "model_params must be an object, not [1]"),
        ('{"rules": {"min_lift": null}}', "rules: min_lift must be a number, not None"),
        ('{"weighting": {"half_life_days": "NaN"}}', "weighting: half_life_days must be > 0"),
        ("not json", "not a JSON parameters file"),
    ],
)
def test_evaluate_with_a_bad_params_file_names_the_file_and_the_fault(
    app: Flask, purchases: None, tmp_path: Path, content: str, message: str
) -> None:
    params = tmp_path / "params.json"
    params.write_text(content)
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "2011-09-01", "--params", str(params)]
    )
    assert f"Error: {params}: {message}" in failed_cleanly(result)


def test_versions_warn_when_the_active_version_is_damaged_or_deleted(
    app: Flask, purchases: None
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["recommender", "train"]).exit_code == 0
    with app.app_context():
        store = service().store
        active = store.active()
    assert active
    assert "Warning" not in runner.invoke(args=["recommender", "versions"]).output
    (store.directory / "versions" / active / "model.npz").write_bytes(b"damaged")
    listing = runner.invoke(args=["recommender", "versions"])
    assert listing.exit_code == 0, listing.output
    assert (
        f"Warning: the active version {active} cannot be served: version {active}: artifact "
        "checksum mismatch (corrupt). The shop serves best sellers wherever"
    ) in listing.output
    shutil.rmtree(store.directory / "versions" / active)
    listing = runner.invoke(args=["recommender", "versions"])
    assert f"Warning: the active version {active} cannot be served: it is missing." in (
        listing.output
    )


def test_a_running_app_uses_a_new_tune_result_until_settings_are_published(
    app: Flask, session: Session
) -> None:
    def live_factors() -> int:
        with app.app_context():
            return int(live_training_params(session).model_params["factors"])

    before = live_factors()
    with app.app_context():
        folder = service().store.directory
    folder.mkdir(parents=True, exist_ok=True)
    tuned = default_params().to_dict()
    tuned["model_params"] = {**tuned["model_params"], "factors": before + 7}
    (folder / TUNED_PARAMS).write_text(json.dumps(tuned))
    assert live_factors() == before + 7  # no restart needed

    published = {**tuned, "model_params": {**tuned["model_params"], "factors": 5}}
    session.add(
        MerchRevision(state="published", data={"training": published}, published_at=utcnow())
    )
    session.commit()
    assert live_factors() == 5  # published settings take precedence


def test_tune_says_when_published_settings_keep_train_from_using_its_parameters(
    app: Flask, session: Session, purchases: None
) -> None:
    runner = app.test_cli_runner()
    args = ["recommender", "tune", "--cutoff", "2011-09-01", "--trials", "1"]
    tuned = runner.invoke(args=args)
    assert tuned.exit_code == 0, tuned.output
    assert "Note:" not in tuned.output  # nothing published: train uses what tune chose
    training = {**default_params().to_dict(), "model_params": {"factors": 3, "iterations": 2}}
    session.add(
        MerchRevision(state="published", data={"training": training}, published_at=utcnow())
    )
    session.commit()
    tuned = runner.invoke(args=args)
    assert tuned.exit_code == 0, tuned.output
    assert (
        "Note: the training settings published in the console differ from these; "
        "`flask recommender train` uses the published ones"
    ) in tuned.output
