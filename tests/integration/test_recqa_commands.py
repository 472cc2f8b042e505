"""`flask recommender` with odd arguments: a clear message and a non-zero exit, never a
traceback."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shop.db import utcnow
from shop.importer.models import ImportRun
from shop.personalization import service
from shop.tracking.models import Event
from tests import factories
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


def test_tune_when_the_validation_period_only_holds_items_new_since_then_says_so(
    app: Flask, session: Session
) -> None:
    # The last weeks (the validation period) hold purchases, by known customers, but only
    # of products nobody bought before: nothing there can be scored.
    items = factories.small_catalogue(session)
    late = factories.product(session, None, sku="LATE1", name="Late arrival", stock=5)
    users = [factories.user(session, f"t{i}@example.com") for i in range(3)]
    session.commit()
    start = datetime(2011, 1, 1)
    rows = [
        _purchase(user.id, items["heart"].id, start + timedelta(days=n))
        for n, user in enumerate(users)
    ]
    rows.append(_purchase(users[0].id, late.id, start + timedelta(days=200)))
    session.execute(insert(Event), rows)
    session.commit()
    result = app.test_cli_runner().invoke(args=["recommender", "tune", "--trials", "1"])
    output = failed_cleanly(result)
    assert "Error: the validation split has no test purchases of items known before it" in output


def _purchase(user_id: int, product_id: int, when: datetime) -> dict[str, object]:
    return {
        "kind": "purchase",
        "visitor_id": "import",
        "user_id": user_id,
        "product_id": product_id,
        "order_id": None,
        "quantity": 1,
        "created_at": when,
    }
