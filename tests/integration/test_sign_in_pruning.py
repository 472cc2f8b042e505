"""Ended sign-ins of every account are deleted once they are older than the retention
period, in short batches: `flask accounts prune-sign-ins` and `make run`'s daily job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shop import devservices
from shop.accounts import sign_ins
from shop.accounts.models import SignIn
from shop.db import db, utcnow
from tests import factories

NOW = datetime(2026, 11, 20, 12, 0)
DAY = timedelta(days=1)


def _sign_ins(session: Session, now: datetime = NOW) -> dict[str, int]:
    """Two accounts' sign-ins, by label: which ended when, and which are still live (used
    yesterday, or made a week ago)."""
    ann = factories.user(session, "ann@example.com", "Ann")
    bob = factories.user(session, "bob@example.com", "Bob")
    rows = {
        "ann live for a year": (ann.id, now - 365 * DAY, None, now - DAY),
        "ann ended 31 days ago": (ann.id, now - 60 * DAY, now - 31 * DAY, None),
        "ann ended 29 days ago": (ann.id, now - 60 * DAY, now - 29 * DAY, None),
        "ann ended today": (ann.id, now - 2 * DAY, now - timedelta(hours=1), None),
        "bob ended 90 days ago": (bob.id, now - 100 * DAY, now - 90 * DAY, None),
        "bob ended 40 days ago": (bob.id, now - 50 * DAY, now - 40 * DAY, None),
        "bob live for a week": (bob.id, now - 7 * DAY, None, None),
    }
    made = {}
    for n, (label, (user_id, created, ended, seen)) in enumerate(rows.items()):
        row = SignIn(
            user_id=user_id,
            key_hash=f"{n:064d}",
            browser=label,
            created_at=created,
            last_seen_at=seen,
            ended_at=ended,
        )
        session.add(row)
        session.flush()
        made[label] = row.id
    session.commit()
    return made


def _left(session: Session) -> set[str]:
    session.rollback()
    return set(session.scalars(select(SignIn.browser)))


KEPT = {
    "ann live for a year",
    "ann ended 29 days ago",
    "ann ended today",
    "bob live for a week",
}


def test_only_sign_ins_ended_longer_ago_than_the_retention_are_deleted(
    app: Flask, session: Session
) -> None:
    _sign_ins(session)
    with app.app_context():
        assert sign_ins.prune_ended(db.transaction, now=NOW) == 3
        assert sign_ins.prune_ended(db.transaction, now=NOW) == 0  # nothing left to do
    assert _left(session) == KEPT


def test_deletes_go_in_batches_each_in_its_own_transaction(app: Flask, session: Session) -> None:
    _sign_ins(session)
    deleted_per_transaction: list[int] = []

    @contextmanager
    def counting() -> Iterator[Session]:
        with db.transaction() as tx:
            before = len(list(tx.scalars(select(SignIn.id))))
            yield tx
            tx.flush()
            deleted_per_transaction.append(before - len(list(tx.scalars(select(SignIn.id)))))

    with app.app_context():
        assert sign_ins.prune_ended(counting, now=NOW, batch_size=2) == 3
    # The first transaction ends the idle sign-ins (none here), then deletes go two by two.
    assert deleted_per_transaction == [0, 2, 1]
    assert _left(session) == KEPT


def test_a_full_last_batch_ends_with_an_empty_one(app: Flask, session: Session) -> None:
    _sign_ins(session)
    with app.app_context():
        assert sign_ins.prune_ended(db.transaction, now=NOW, batch_size=3) == 3
    assert _left(session) == KEPT


def test_the_command_prunes_with_the_default_retention_and_says_how_many(
    app: Flask, session: Session
) -> None:
    _sign_ins(session, now=utcnow())
    runner = app.test_cli_runner()

    result = runner.invoke(args=["accounts", "prune-sign-ins"])
    assert result.exit_code == 0, result.output
    assert result.output == "Deleted 3 sign-in(s) that ended more than 30 day(s) ago.\n"
    assert _left(session) == KEPT

    result = runner.invoke(args=["accounts", "prune-sign-ins", "--days", "0"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 sign-in(s) that ended more than 0 day(s) ago." in result.output
    assert _left(session) == {"ann live for a year", "bob live for a week"}


def test_the_command_refuses_a_negative_retention(app: Flask, session: Session) -> None:
    _sign_ins(session, now=utcnow())
    result = app.test_cli_runner().invoke(args=["accounts", "prune-sign-ins", "--days", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--days'" in result.output
    assert len(_left(session)) == 7


def test_make_run_prunes_sign_ins_daily(app: Flask, session: Session) -> None:
    jobs = {job.name: job for job in devservices.dev_jobs()}
    job = jobs["sign-in pruning"]
    assert (job.every_s, job.retry_s) == (
        devservices.DAILY_EVERY_S,
        devservices.HOUSEKEEPING_EVERY_S,
    )

    _sign_ins(session, now=utcnow())
    job.run_if_due(app, 1000.0)
    assert job.due_at == 1000.0 + devservices.DAILY_EVERY_S  # it worked
    assert _left(session) == KEPT


def test_signing_in_still_prunes_that_accounts_own_ended_sign_ins(
    app: Flask, session: Session
) -> None:
    made = _sign_ins(session, now=utcnow())
    session.execute(delete(SignIn).where(SignIn.id == made["bob ended 90 days ago"]))
    session.commit()
    ann = session.scalar(select(SignIn.user_id).where(SignIn.id == made["ann live for a year"]))
    assert ann is not None
    with app.app_context(), db.transaction() as tx:
        sign_ins.start(tx, ann, "a new browser")
    assert _left(session) == KEPT | {"bob ended 40 days ago", "a new browser"}


def test_sign_ins_unused_for_30_days_end_then_and_are_deleted_30_days_later(
    app: Flask, session: Session
) -> None:
    ann = factories.user(session, "ann@example.com", "Ann")
    for n, (label, created, seen) in enumerate(
        (
            ("used 29 days ago", NOW - 200 * DAY, NOW - 29 * DAY),
            ("used 45 days ago", NOW - 200 * DAY, NOW - 45 * DAY),
            ("used 70 days ago", NOW - 200 * DAY, NOW - 70 * DAY),
            ("made 31 days ago, never used since", NOW - 31 * DAY, None),
            ("made 29 days ago, never used since", NOW - 29 * DAY, None),
        )
    ):
        session.add(
            SignIn(
                user_id=ann.id,
                key_hash=f"{n:064d}",
                browser=label,
                created_at=created,
                last_seen_at=seen,
            )
        )
    session.commit()

    with app.app_context():
        assert sign_ins.prune_ended(db.transaction, now=NOW) == 1

    session.rollback()
    ended = dict(session.execute(select(SignIn.browser, SignIn.ended_at)).all())
    # Each idle one ended when it stopped working: its last use plus 30 days.
    assert ended == {
        "used 29 days ago": None,
        "used 45 days ago": NOW - 15 * DAY,
        "made 31 days ago, never used since": NOW - DAY,
        "made 29 days ago, never used since": None,
    }  # "used 70 days ago" ended 40 days ago: deleted
