"""The background jobs of `make run`: one failing job neither stops nor delays the others."""

from __future__ import annotations

import pytest
from flask import Flask

from shop.devservices import (
    DAILY_EVERY_S,
    HOURLY_EVERY_S,
    HOUSEKEEPING_EVERY_S,
    PeriodicJob,
    dev_jobs,
)


def test_a_failed_job_is_retried_soon_and_does_not_hold_back_the_next_one() -> None:
    runs: list[str] = []

    def broken(app: Flask) -> None:
        runs.append("tiers")
        raise RuntimeError("database is locked")

    def expiry(app: Flask) -> None:
        runs.append("expiry")

    app = Flask(__name__)
    jobs = [PeriodicJob("tiers", broken, 86400, 60), PeriodicJob("expiry", expiry, 86400, 60)]
    for now in (1000.0, 1030.0, 1061.0, 90000.0):
        for job in jobs:
            job.run_if_due(app, now)

    assert runs == ["tiers", "expiry", "tiers", "tiers", "expiry"]
    assert jobs[0].due_at == 90060.0 and jobs[1].due_at == 90000.0 + 86400


def test_make_run_runs_the_daily_jobs_separately_with_a_short_retry() -> None:
    jobs = {job.name: job for job in dev_jobs()}
    assert set(jobs) == {
        "events and mail",
        "housekeeping",
        "tier evaluation",
        "points expiry",
        "sign-in pruning",
        "data retention",
        "returns lapse",
        "launch announcements",
        "stock alerts",
        "segment mailings",
    }
    daily = (
        "tier evaluation",
        "points expiry",
        "sign-in pruning",
        "data retention",
        "returns lapse",
    )
    for name in daily:
        assert (jobs[name].every_s, jobs[name].retry_s) == (DAILY_EVERY_S, HOUSEKEEPING_EVERY_S)
    launches = jobs["launch announcements"]
    assert (launches.every_s, launches.retry_s) == (HOURLY_EVERY_S, HOUSEKEEPING_EVERY_S)
    for name in ("stock alerts", "segment mailings"):
        assert (jobs[name].every_s, jobs[name].retry_s) == (
            HOUSEKEEPING_EVERY_S,
            HOUSEKEEPING_EVERY_S,
        )
    assert all(job.due_at == pytest.approx(0.0) for job in jobs.values())
