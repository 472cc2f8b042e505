"""`python -m recommender`: every command runs on a CSV and explains itself with --help."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from recommender import cli
from recommender.interactions import Interactions
from tests.recommender.conftest import START, make_interactions

CUTOFF = datetime.fromtimestamp(START + 25 * 86_400, UTC).date().isoformat()
SMALL_PARAMS = {"model": "als", "model_params": {"factors": 3, "iterations": 5}}


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic shop as user,item,weight,timestamp,basket, plus two bad rows."""
    path = tmp_path_factory.mktemp("cli") / "interactions.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user", "item", "weight", "timestamp", "kind", "basket"])
        for r in make_interactions():
            iso = datetime.fromtimestamp(float(r.timestamp), UTC).isoformat()  # type: ignore[arg-type]
            writer.writerow([r.user, r.item, r.quantity or "", iso, r.kind, r.basket or ""])
        writer.writerow(["broken"])
        writer.writerow(["u", "i", "-1", "2020-01-01", "purchase", ""])
    return path


@pytest.fixture(scope="module")
def params_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small params file."""
    path = tmp_path_factory.mktemp("params") / "params.json"
    path.write_text(json.dumps(SMALL_PARAMS))
    return path


@pytest.mark.parametrize(
    "command", ["evaluate", "tune", "train", "versions", "activate", "rollback"]
)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    assert "usage: python -m recommender " + command in capsys.readouterr().out


def test_evaluate_prints_a_table_and_writes_json(
    data_csv: Path, params_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.json"
    cli.main(
        ["evaluate", str(data_csv), "--cutoff", CUTOFF, "--params", str(params_json), "-k", "5",
         "--json", str(out)]
    )  # fmt: skip
    table = capsys.readouterr().out
    assert "| new | als (model) |" in table and "| all | buy_again_only |" in table
    report = json.loads(out.read_text())
    assert report["data"]["bad_rows"] == 2
    assert report["data"]["bad"] == {
        "wrong number of fields": 1,
        "weight is not a positive number": 1,
    }
    assert {r["view"] for r in report["results"]} == {"new", "all"}
    assert report["k"] == 5


def test_evaluate_other_splits_and_one_view(
    data_csv: Path, params_json: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for split in ("random", "last"):
        cli.main(
            ["evaluate", str(data_csv), "--split", split, "--views", "new",
             "--params", str(params_json), "--json", "-"]
        )  # fmt: skip
        report = json.loads(capsys.readouterr().out)
        assert {r["view"] for r in report["results"]} == {"new"}
        assert report["split"].startswith("random" if split == "random" else "leave last out")


def test_tune_never_sees_the_test_period(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    real_tune = cli.tune

    def spy(interactions: Interactions, *args: Any, **kwargs: Any) -> Any:
        seen["last"] = interactions.time_span
        kwargs["trials"] = 2
        return real_tune(interactions, *args, **kwargs)

    monkeypatch.setattr(cli, "tune", spy)
    out = tmp_path / "tuned.json"
    cli.main(["tune", str(data_csv), "--cutoff", CUTOFF, "--output", str(out), "-k", "5"])
    cutoff = datetime.fromisoformat(CUTOFF).replace(tzinfo=UTC).timestamp()
    assert seen["last"][1] < cutoff
    tuned = json.loads(out.read_text())
    assert tuned["params"]["model"] == "als"
    assert tuned["trials"]


def test_train_saves_and_the_store_commands_manage_versions(
    data_csv: Path, params_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "models"
    cli.main(["train", str(data_csv), "--store", str(store), "--params", str(params_json)])
    first = capsys.readouterr().out.strip()
    cli.main(
        ["train", str(data_csv), "--store", str(store), "--params", str(params_json),
         "--activate", "--until", CUTOFF]
    )  # fmt: skip
    second = capsys.readouterr().out.strip()
    cli.main(["versions", "--store", str(store)])
    listing = capsys.readouterr().out
    assert f"* {second}" in listing and f"  {first}" in listing
    cli.main(["activate", "--store", str(store), first])
    assert capsys.readouterr().out.strip() == first
    cli.main(["rollback", "--store", str(store)])
    assert capsys.readouterr().out.strip() == second


def test_train_with_evaluate_keeps_the_figures_with_the_version(
    data_csv: Path, params_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "models"
    base = ["train", str(data_csv), "--store", str(store), "--params", str(params_json)]
    cli.main([*base, "--evaluate", "--cutoff", CUTOFF, "-k", "5"])
    evaluated = capsys.readouterr().out.strip()
    cli.main(base)
    plain = capsys.readouterr().out.strip()
    metadata = json.loads((store / "versions" / evaluated / "metadata.json").read_text())
    report = metadata["evaluation"]
    assert report["k"] == 5 and report["split"].startswith("time")
    rows = {(r["view"], r["model"]): r for r in report["results"]}
    assert rows[("new", "model")]["users"] > 0
    assert "evaluation" not in json.loads(
        (store / "versions" / plain / "metadata.json").read_text()
    )
    cli.main(["versions", "--store", str(store)])
    listing = {line[2:].split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert f"precision@5_new={rows[('new', 'model')]['precision']:.4f}" in listing[evaluated]
    assert "x popularity)" in listing[evaluated] and "precision@" not in listing[plain]
    assert error_of([*base, "--evaluate", "--cutoff", "2001-01-01"]).startswith(
        "error: no interaction before the cutoff"
    )


def test_input_errors_end_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"error: .*No such file"):
        cli.main(["evaluate", str(tmp_path / "missing.csv")])
    empty = tmp_path / "empty.csv"
    empty.write_text("user,item\n")
    with pytest.raises(SystemExit, match="no usable interaction"):
        cli.main(["evaluate", str(empty)])
    with pytest.raises(SystemExit, match="--views"):
        cli.main(["evaluate", str(empty), "--views", "fresh"])


def error_of(args: list[str]) -> str:
    """The message a failing command ends with (Python prints it to stderr and exits with 1)."""
    with pytest.raises(SystemExit) as done:
        cli.main(args)
    assert isinstance(done.value.code, str), done.value.code
    return done.value.code


def test_store_errors_end_with_a_message(
    data_csv: Path, params_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "models")
    assert error_of(["rollback", "--store", store]) == "error: no earlier version to roll back to"
    assert error_of(["activate", "--store", store, "nope"]).startswith(
        "error: no model version 'nope' in "
    )
    assert error_of(["activate", "--store", store, "../x"]) == "error: not a version id: '../x'"
    assert error_of(["versions", "--store", store]) == f"error: there is no model store at {store}"
    Path(store).mkdir()
    cli.main(["versions", "--store", store])
    assert f"no model versions in {store} yet" in capsys.readouterr().err
    cli.main(["train", str(data_csv), "--store", store, "--params", str(params_json)])
    assert error_of(["rollback", "--store", store]) == "error: no earlier version to roll back to"
    assert "Traceback" not in capsys.readouterr().err


def test_a_file_given_as_the_store_ends_with_a_message_before_training(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")
    expected = f"error: --store {a_file} cannot hold model versions: Not a directory"
    for command in (["versions"], ["rollback"], ["activate", "v1"]):
        assert error_of([*command, "--store", str(a_file)]) == expected
    monkeypatch.setattr(cli, "train", lambda *a, **k: pytest.fail("trained for nothing"))
    assert error_of(["train", str(data_csv), "--store", str(a_file)]) == expected


def test_training_before_all_data_says_so(data_csv: Path, tmp_path: Path) -> None:
    args = ["train", str(data_csv), "--store", str(tmp_path / "m"), "--until", "1999-01-01"]
    assert "no interaction before --until 1999-01-01" in error_of(args)


def test_a_directory_given_as_the_data_ends_with_a_message(tmp_path: Path) -> None:
    assert error_of(["evaluate", str(tmp_path)]) == f"error: {tmp_path}: Is a directory"


def test_errors_reach_stderr_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "recommender", "activate", "--store", str(tmp_path), "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == f"error: no model version 'nope' in {tmp_path}\n"
    assert done.stdout == ""


def test_evaluate_without_training_or_test_data_says_so(data_csv: Path, tmp_path: Path) -> None:
    assert error_of(["evaluate", str(data_csv), "--cutoff", "2000-01-01"]) == (
        "error: no interaction before the cutoff 2000-01-01 to train on"
    )
    assert error_of(["evaluate", str(data_csv), "--cutoff", "2030-01-01"]) == (
        "error: no test interactions: no interaction on or after the cutoff 2030-01-01 "
        "by a user seen before it"
    )
    one = tmp_path / "one.csv"
    one.write_text("u1,i1,1,2011-01-01\nu2,i2,1,2011-01-02\n")
    assert error_of(["evaluate", str(one)]) == (
        "error: no test interactions: no user has two or more distinct items to split "
        "between train and test"
    )
    assert error_of(["evaluate", str(one), "--split", "last"]) == (
        "error: no test interactions: no user has interactions at two or more moments"
    )


def test_evaluate_counts_rows_it_cannot_use_and_uses_the_rest(
    data_csv: Path, params_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messy = tmp_path / "messy.csv"
    lines = data_csv.read_bytes().splitlines(keepends=True)
    messy.write_bytes(
        b"".join(lines[:-2])  # without the fixture's own bad rows
        + b"user-0-01,sku-01,1,1e400,purchase,\n"
        + b"user-0-01,sku-01,1,99999999999999,purchase,\n"
        + "user-0-01,Zoë,1,2020-10-01,purchase,\n".encode("latin-1")
        + b"user-0-01,"
        + b"x" * 200_000
        + b",1,2020-10-01,purchase,\n"
    )
    cli.main(
        ["evaluate", str(messy), "--cutoff", CUTOFF, "--params", str(params_json), "-k", "5",
         "--views", "new", "--json", "-"]
    )  # fmt: skip
    captured = capsys.readouterr()
    data = json.loads(captured.out)["data"]
    assert data["loaded"] == len(lines) - 3
    assert data["bad"] == {
        "timestamp outside 1970-2199": 2,
        "not UTF-8 text": 1,
        "unreadable CSV row: field larger than field limit (131072)": 1,
    }
    first = len(lines) - 1  # the first appended row's line number
    assert [e.split(":")[0] for e in data["examples"]] == [f"line {first + n}" for n in range(4)]
    assert "4 bad" in captured.err and "Traceback" not in captured.err


def test_odd_ids_and_a_store_that_does_not_exist(tmp_path: Path) -> None:
    typo = str(tmp_path / "typo")
    assert error_of(["rollback", "--store", typo]) == "error: no earlier version to roll back to"
    assert error_of(["activate", "--store", typo, "x" * 300]).startswith(
        "error: not a version id: 'xxxx"
    )
    assert not (tmp_path / "typo").exists()  # reading commands create nothing


def test_options_that_cannot_apply_end_before_any_work(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "evaluate", lambda *a, **k: pytest.fail("evaluated for nothing"))
    monkeypatch.setattr(cli, "tune", lambda *a, **k: pytest.fail("tuned for nothing"))
    assert error_of(["evaluate", str(data_csv), "--split", "last", "--cutoff", "2011-05-01"]) == (
        "error: --cutoff only applies to --split time, not --split last"
    )
    missing = tmp_path / "nowhere" / "report.json"
    assert error_of(["evaluate", str(data_csv), "--json", str(missing)]) == (
        f"error: cannot write {missing}: {missing.parent} is not a writable folder"
    )
    assert error_of(["tune", str(data_csv), "--output", str(tmp_path)]) == (
        f"error: cannot write {tmp_path}: it is a folder"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user,item\n", "not a JSON parameters file: Expecting value"),
        ('{"model_params": [1]}', "model_params must be an object, not [1]"),
        ('{"weighting": "x"}', "weighting must be an object, not 'x'"),
        ('{"rules": {"min_lift": null}}', "rules: min_lift must be a number, not None"),
        ('{"blend": {"popular": "a"}}', "blend: popular must be a number, not 'a'"),
        ('{"popular_days": [30]}', "popular_days must be a number, not [30]"),
        ('{"popular_days": true}', "popular_days must be a number, not True"),
        ('{"weighting": {"half_life_days": "NaN"}}', "weighting: half_life_days must be > 0"),
        ('{"weighting": {"half_life_days": "soon"}}', "weighting: half_life_days must be a number"),
        ('{"weighting": {"kind_weights": [5]}}', "weighting: kind_weights must be an object of"),
        ('{"weighting": {"kind_weights": {"view": true}}}', "weighting: kind_weights.view must be"),
        (
            '{"weighting": {"purchase_kinds": "purchase"}}',
            "weighting: purchase_kinds must be a list",
        ),
        (
            '{"weighting": {"log_scale_totals": "no"}}',
            "weighting: log_scale_totals must be true or",
        ),
        ('{"content": {"neighbours": 2.5}}', "content: neighbours must be a whole number, not 2.5"),
    ],
)
def test_a_bad_params_file_ends_with_a_message_naming_it(
    data_csv: Path, tmp_path: Path, content: str, message: str
) -> None:
    params = tmp_path / "params.json"
    params.write_text(content)
    error = error_of(["evaluate", str(data_csv), "--params", str(params)])
    assert error.startswith(f"error: {params}: {message}")


@pytest.mark.parametrize("delimiter", ["", ";;", "\\t"])
def test_a_delimiter_of_more_or_less_than_one_character_ends_with_a_message(
    data_csv: Path, delimiter: str
) -> None:
    assert error_of(["evaluate", str(data_csv), "--delimiter", delimiter]) == (
        f"error: the delimiter must be one character, not {delimiter!r}"
    )
