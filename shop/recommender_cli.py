"""`flask recommender ...`: train, evaluate and tune on the shop's data; manage versions."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from shop.analytics.offline import SavedVersion, summarise
from shop.db import db
from shop.merchandising import model_versions, revisions
from shop.merchandising.training_jobs import evaluate_for_version
from shop.personalization import live_training_params, service
from shop.recommendation_data import dataset_instant, item_features, load_interactions
from shop.recommendation_types import TUNED_PARAMS
from shop.recommendations import (
    Interactions,
    ModelUnavailableError,
    TrainingParams,
    Trial,
    evaluate,
    time_split,
    tune,
)

recommender_cli = AppGroup("recommender", help="Train, evaluate, tune and version the recommender.")


def progress_printer() -> Callable[[str, int, int], None]:
    """A progress callback printing one line per stage change, and the stage's share done."""
    state: dict[str, object] = {"stage": None, "shown": -1}

    def report(stage: str, done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        shown = int(state["shown"])  # type: ignore[call-overload]
        if stage != state["stage"] or percent >= shown + 10 or done == total:
            click.echo(f"  {stage:<12} {percent:3d}%", err=True)
            state.update(stage=stage, shown=percent)

    return report


@recommender_cli.command("train")
@click.option("--no-activate", is_flag=True, help="Save the version without activating it.")
@click.option(
    "--no-evaluate",
    is_flag=True,
    help="Skip the evaluation on a time split kept with the version (about as long again).",
)
def train_command(no_activate: bool, no_evaluate: bool) -> None:
    """Evaluate on a time split, then train on every recorded view, cart addition and
    purchase; save the version with its figures and activate it.

    Uses the parameters chosen by `flask recommender tune` when there are any.
    """
    started = time.perf_counter()
    params = _params(None)
    metadata: dict[str, object] = {"source": "command"}
    if not no_evaluate:
        report = evaluate_for_version(_session, params, progress_printer())
        if report is None:
            click.echo("Too few purchases to evaluate on a time split; training without.")
        else:
            metadata["evaluation"] = report.to_dict()
    with _session() as session:
        try:
            version = service().train(
                session,
                params,
                activate=not no_activate,
                metadata=metadata,
                progress=progress_printer(),
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    state = "saved" if no_activate else "saved and activated"
    click.echo(f"Model version {version} {state} in {time.perf_counter() - started:.1f} s.")
    saved = next(v for v in service().store.versions() if v.id == version)
    click.echo(f"  {describe_version(saved)}")


def _session() -> Session:
    assert db.session_factory is not None
    return db.session_factory()


def _dataset_cutoff(cutoff: datetime) -> float:
    """The cutoff as an instant in the shop's dates: shifted like the imported data."""
    with _session() as session:
        return dataset_instant(session, cutoff)


def _features() -> dict[int, str]:
    with _session() as session:
        return item_features(session)


def _purchases() -> Interactions:
    with _session() as session:
        return load_interactions(session).of_kinds(["purchase"])


def _params(path: str | None) -> TrainingParams:
    if path is None:
        with _session() as session:
            return live_training_params(session)
    chosen = Path(path)
    if not chosen.exists():
        raise click.ClickException(f"no parameters file at {chosen}")
    try:
        return TrainingParams.load(chosen)
    except (ValueError, KeyError) as exc:  # names the file and what is wrong in it
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {chosen}: {exc.strerror or exc}") from exc


def cutoff_option(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The --cutoff option, a date in the dataset's own dates (the import shifts them)."""
    return click.option(
        "--cutoff",
        type=click.DateTime(["%Y-%m-%d"]),
        default="2011-09-01",
        show_default=True,
        help=f"{help_text} A date in the dataset's own dates.",
    )


@recommender_cli.command("evaluate")
@cutoff_option("Train on purchases before this date, test on those after it.")
@click.option("--k", type=click.IntRange(min=1), default=10, show_default=True, help="List length.")
@click.option("--params", "params_path", help="A parameters file (default: the tuned one).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write JSON here.")
def evaluate_command(
    cutoff: datetime, k: int, params_path: str | None, json_path: str | None
) -> None:
    """Evaluate the model against popularity and item-kNN on the shop's purchases.

    Two views: only items new to each customer, and all items including re-purchases.
    """
    if json_path:
        _check_writable(Path(json_path))
    purchases = _purchases()
    if not len(purchases):
        raise click.ClickException("there are no purchases to evaluate on yet")
    split = time_split(purchases, _dataset_cutoff(cutoff))
    day = cutoff.date().isoformat()  # strftime drops the zeros of years before 1000
    if not len(split.train):
        raise click.ClickException(f"there are no purchases before the cutoff {day} to train on")
    if not len(split.test):
        raise click.ClickException(
            f"there are no test purchases: none on or after the cutoff {day} "
            "by a customer who bought before it"
        )
    try:
        report = evaluate(
            split, _params(params_path), k=k, progress=progress_printer(), item_features=_features()
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.to_table())
    if json_path:
        _write(Path(json_path), json.dumps(report.to_dict(), indent=2) + "\n")
        click.echo(f"JSON written to {json_path}")


def _check_writable(path: Path) -> None:
    """End with a message before any work when a file could not be written at path."""
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise click.ClickException(f"cannot write {path}: {folder} is not a writable folder")


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failure to write `path` (or its folder) into a message naming it."""
    try:
        yield
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write(path: Path, text: str) -> None:
    with _writing(path):
        path.write_text(text)


@recommender_cli.command("tune")
@cutoff_option("Tune only on purchases before this date: the test period is never seen.")
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=24,
    show_default=True,
    help="Parameter sets to try.",
)
@click.option("--seed", default=0, show_default=True)
def tune_command(cutoff: datetime, trials: int, seed: int) -> None:
    """Search factors, regularization, alpha and iterations; store the chosen parameters."""
    target = service().store.directory / TUNED_PARAMS
    with _writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)  # none yet before the first training
    _check_writable(target)
    training = _purchases().before(_dataset_cutoff(cutoff))
    if not len(training):
        raise click.ClickException("there are no purchases before the cutoff to tune on")

    def report(trial: Trial, done: int, total: int) -> None:
        click.echo(f"  trial {done}/{total}: {trial.stage} {trial.metrics}", err=True)

    try:
        result = tune(
            training,
            _params(None),
            trials=trials,
            seed=seed,
            progress=report,
            item_features=_features(),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with _writing(target):
        result.save(target)
    click.echo(f"Chosen parameters written to {target}: {result.params.to_dict()}")
    published = _published_training()
    if published is not None and published != result.params.to_dict():
        click.echo(
            "Note: the training settings published in the console differ from these; "
            "`flask recommender train` uses the published ones. Enter these in the console's "
            "recommendation settings and publish them to train with them."
        )


def _published_training() -> dict[str, object] | None:
    """The training parameters of the live published settings, when they set any (they
    then take the place of the tuned ones)."""
    with _session() as session:
        live = revisions.live_revision(session)
        training = live.data.get("training") if live is not None else None
    return TrainingParams.from_dict(training).to_dict() if training else None


@recommender_cli.command("versions")
def versions_command() -> None:
    """List the trained versions, newest first; the active one is marked."""
    store = service().store
    problem = store.pointer_error()
    if problem is not None:
        click.secho(
            f"Warning: {problem}. No version is active; `flask recommender activate VERSION`"
            " repairs it.",
            fg="yellow",
            err=True,
        )
    active_problem = model_versions.active_problem(store)
    if active_problem is not None:
        click.secho(
            f"Warning: the active version {store.active()} cannot be served: {active_problem}."
            " The shop serves best sellers wherever it loads the model; `flask recommender"
            " activate VERSION` or `rollback` switches to a usable one.",
            fg="yellow",
            err=True,
        )
    versions = store.versions()
    if not versions:
        click.echo("No trained versions yet: run `flask recommender train`.")
        return
    for version in reversed(versions):
        mark = "*" if version.active else " "
        click.echo(f"{mark} {version.id}  {describe_version(version)}")


def describe_version(version: SavedVersion) -> str:
    """Model, creation time, counts, training time and, when evaluated, precision on new items
    (or why the version cannot be used)."""
    metadata = version.metadata
    if isinstance(metadata.get("error"), str):  # listed so it can be seen and removed
        return f"cannot be used: {metadata['error']}"
    training = metadata.get("training")
    training = training if isinstance(training, dict) else {}
    parts = [str(metadata.get("model", "?")), version.created_at or "?"]
    counts = [
        f"{training[name]:,} {name}"
        for name in ("users", "items", "interactions")
        if isinstance(training.get(name), int)
    ]
    if counts:
        parts.append(", ".join(counts))
    seconds = training.get("training_seconds")
    if isinstance(seconds, int | float):
        parts.append(f"trained in {seconds:.1f} s")
    summary = summarise(version)
    precision = summary.headline("new")
    if summary.evaluation is not None and precision is not None:
        text = f"precision@{summary.evaluation.k} new {precision:.4f}"
        lift = summary.evaluation.lift.get("new")
        if lift is not None and math.isfinite(lift):
            text += f" ({lift:.2f}x popularity)"
        parts.append(text)
    return "  ".join(parts)


@recommender_cli.command("activate")
@click.argument("version")
def activate_command(version: str) -> None:
    """Make VERSION the active model (running apps pick it up without a restart)."""
    try:
        service().store.activate(version)
    except ModelUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Activated {version}.")


@recommender_cli.command("rollback")
def rollback_command() -> None:
    """Re-activate the version that was active before the current one."""
    try:
        version = service().store.rollback()
    except ModelUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Rolled back to {version}.")
