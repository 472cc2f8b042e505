"""`flask recommender` with odd arguments: a clear message and a non-zero exit, never a
traceback."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.importer.models import ImportRun
from shop.personalization import service
from tests.integration.test_recommender_commands import failed_cleanly, purchases

__all__ = ["purchases"]  # the fixture, shared with the recommender command tests

FIFTEEN_YEARS_S = 15 * 365 * 86_400


def test_a_cutoff_past_the_last_date_of_the_shifted_dataset_says_so(
    app: Flask, purchases: None, session: Session
) -> None:
    # The demo import moves the 2011 dataset to recent dates; a cutoff near year 9999 then
    # lands after the last date a datetime can hold.
    session.add(
        ImportRun(source="online_retail", finished_at=utcnow(), date_shift_seconds=FIFTEEN_YEARS_S)
    )
    session.commit()
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "9999-12-31"]
    )
    assert (
        "Error: there are no test purchases: none on or after the cutoff 9999-12-31 "
        "by a customer who bought before it"
    ) in failed_cleanly(result)


def test_a_cutoff_in_year_one_is_named_as_typed(app: Flask, purchases: None) -> None:
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "0001-01-01"]
    )
    assert "Error: there are no purchases before the cutoff 0001-01-01 to train on" in (
        failed_cleanly(result)
    )


def test_a_params_file_that_is_not_text_names_the_file(
    app: Flask, purchases: None, tmp_path: Path
) -> None:
    params = tmp_path / "params.json"
    params.write_bytes(b"\xff\xfe{}")
    result = app.test_cli_runner().invoke(
        args=["recommender", "evaluate", "--cutoff", "2011-09-01", "--params", str(params)]
    )
    assert f"Error: {params}: not a JSON parameters file" in failed_cleanly(result)


def test_versions_say_why_a_listed_version_cannot_be_used(app: Flask, purchases: None) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["recommender", "train", "--no-evaluate"]).exit_code == 0
    with app.app_context():
        store = service().store
    (store.versions_dir / "20200101T000000Z-leftover").mkdir()
    listing = runner.invoke(args=["recommender", "versions"])
    assert listing.exit_code == 0
    assert (
        "  20200101T000000Z-leftover  cannot be used: version 20200101T000000Z-leftover: "
        "metadata.json is missing"
    ) in listing.output.splitlines()
