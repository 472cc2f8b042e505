"""`flask recommender ...`: train, evaluate and tune on the shop's data; manage versions."""

from __future__ import annotations

import time
from collections.abc import Callable

import click
from flask.cli import AppGroup

from recommender.errors import ModelUnavailableError
from shop.db import db
from shop.personalization import service

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
def train_command(no_activate: bool) -> None:
    """Train on every recorded view, cart addition and purchase; save and activate a version."""
    started = time.perf_counter()
    assert db.session_factory is not None
    with db.session_factory() as session:
        try:
            version = service().train(
                session, activate=not no_activate, progress=progress_printer()
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    state = "saved" if no_activate else "saved and activated"
    click.echo(f"Model version {version} {state} in {time.perf_counter() - started:.1f} s.")


@recommender_cli.command("versions")
def versions_command() -> None:
    """List the trained versions, newest first; the active one is marked."""
    versions = service().store.versions()
    if not versions:
        click.echo("No trained versions yet: run `flask recommender train`.")
        return
    for version in versions:
        mark = "*" if version.active else " "
        info = version.metadata.get("info", {})
        counts = ", ".join(
            f"{k} {v:,}" for k, v in info.items() if isinstance(v, int) and k.startswith("n_")
        )
        click.echo(f"{mark} {version.id}  {version.created_at}  {counts}")


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
