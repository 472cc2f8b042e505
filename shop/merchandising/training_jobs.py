"""Retraining from the console: one job at a time, run in a background thread.

The job row is the progress bar's source: the thread writes its stage and progress in
short transactions, and the page polls it. `running_slot` is 1 (and unique) while a job
runs, so a second start fails at the database, not only in a check.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shop.accounts.models import User
from shop.console import audit
from shop.console.models import TrainingJob
from shop.db import utcnow
from shop.merchandising.model_versions import active_version
from shop.merchandising.revisions import draft_data, live_data
from shop.recommendation_data import dataset_instant, item_features, load_interactions
from shop.recommendations import (
    EvaluationReport,
    RecommendationService,
    TrainingParams,
    evaluate,
    time_split,
)

log = logging.getLogger(__name__)

# The evaluation protocol of docs/RECOMMENDER.md: the Online Retail cutoff, in its own dates.
DATASET_CUTOFF = datetime(2011, 9, 1)
# A running job's thread writes a heartbeat every HEARTBEAT_EVERY_S; one silent for
# STALE_AFTER died with its server (a restart, a crash) and no longer blocks retraining.
HEARTBEAT_EVERY_S = 30.0
STALE_AFTER = timedelta(minutes=5)
PROGRESS_EVERY_S = 0.5
INTERRUPTED = "interrupted: the server stopped while it ran; start it again"


class TrainingBusy(ValueError):
    """A retrain was asked for while another one runs."""


def start_training(
    session: Session,
    actor: audit.Actor,
    recs: RecommendationService,
    *,
    settings: str = "draft",
    activate: bool = False,
) -> TrainingJob:
    """Record a new running job with the draft's (or live) training settings."""
    fail_interrupted(session)
    data = draft_data(session) if settings == "draft" else live_data(session)
    params = recs.config_from(data).training
    job = TrainingJob(
        status="running",
        running_slot=1,
        params={"training": dict(params), "settings": settings, "activate": activate},
        message="Waiting to start",
        started_by=actor.id,
    )
    running = session.scalar(select(TrainingJob).where(TrainingJob.running_slot == 1))
    if running is not None:
        raise TrainingBusy(
            f"A retrain is already running since {running.started_at:%H:%M} UTC; "
            "wait for it to finish."
        )
    session.add(job)
    try:
        session.flush()
    except IntegrityError as exc:  # another start won the race for the running slot
        session.rollback()
        raise TrainingBusy("A retrain is already running; wait for it to finish.") from exc
    audit.record(session, actor, "model.train", f"job {job.id}", None, job.params)
    return job


def _silent_since(now: datetime) -> Any:
    last_sign = func.coalesce(TrainingJob.heartbeat_at, TrainingJob.started_at)
    return (TrainingJob.running_slot == 1) & (last_sign < now - STALE_AFTER)


def fail_interrupted(session: Session) -> int:
    """Mark failed the running job whose heartbeat stopped; how many there were."""
    now = utcnow()
    ended = session.execute(
        update(TrainingJob)
        .where(_silent_since(now))
        .values(status="failed", running_slot=None, error=INTERRUPTED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(ended, "rowcount", 0) or 0)


def any_interrupted(session: Session) -> bool:
    """True when a job still marked running has stopped beating (a cheap read first)."""
    return (
        session.scalar(select(TrainingJob.id).where(_silent_since(utcnow())).limit(1)) is not None
    )


def end_interrupted(session: Session, transaction: Callable[[], Any]) -> None:
    """Before showing jobs: mark failed, in a write transaction, any that stopped beating."""
    if any_interrupted(session):
        session.rollback()  # end the read snapshot, so the jobs read next are current
        with transaction() as tx:
            fail_interrupted(tx)


def latest_jobs(session: Session, limit: int = 10) -> list[TrainingJob]:
    """The newest jobs first."""
    return list(session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit)))


class _Progress:
    """Writes a job's progress, at most every PROGRESS_EVERY_S, in its own transactions.

    The bar only moves forward: the library reports each of its stages (fitting, then each
    evaluation) from 0 to 1 again, and mapping every one onto the same band made it jump back.
    """

    def __init__(self, sessions: Callable[[], Session], job_id: int) -> None:
        self.sessions, self.job_id, self.written = sessions, job_id, -1e9
        self.reached = 0.0

    def __call__(self, fraction: float, message: str, *, force: bool = False) -> None:
        self.reached = max(self.reached, min(max(fraction, 0.0), 1.0))
        now = time.monotonic()
        if not force and now - self.written < PROGRESS_EVERY_S:
            return
        self.written = now
        self.write(progress=round(self.reached, 3), message=message[:200])

    def write(self, **values: Any) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                update(TrainingJob)
                .where(TrainingJob.id == self.job_id)
                .values(heartbeat_at=utcnow(), **values)
            )

    def beat_until(self, stop: threading.Event, every_s: float = HEARTBEAT_EVERY_S) -> None:
        """Write the heartbeat every `every_s` until `stop` is set (in its own thread)."""
        while not stop.wait(every_s):
            try:
                self.write()
            except Exception:  # a missed beat is harmless; the next one may succeed
                log.exception("training job %s: heartbeat not written", self.job_id)

    def stage(
        self, start: float, end: float, label: str, parts: Mapping[str, float]
    ) -> Callable[[str, int, int], None]:
        """A library progress callback mapped onto [start, end] of the bar.

        `parts` gives each library stage its share of the band, in the order the library
        runs them; a stage not named there is the model's own fit ("als", "bpr"...), which
        takes the share of `FIT`.
        """
        offsets, offset = {}, 0.0
        for name, share in parts.items():
            offsets[name], offset = offset, offset + share

        def report(stage: str, done: int, total: int) -> None:
            name = stage if stage in parts else FIT
            within = done / total if total else 0.0
            fraction = offsets[name] + parts[name] * within
            self(start + (end - start) * fraction, f"{label}: {stage} {done}/{total}")

        return report


FIT = "fit"
# Rough shares of the library's stages in an evaluation and in training (Online Retail).
EVALUATION_PARTS = {FIT: 0.5, "evaluate": 0.5}
TRAINING_PARTS = {"matrix": 0.05, FIT: 0.8, "rules": 0.15}


def evaluation_cutoff(session: Session, timestamps: np.ndarray) -> float:
    """Where to split purchases for the version's evaluation.

    The documented Online Retail cutoff when the demo data is loaded; otherwise the
    instant four fifths of the way through the shop's purchase history.
    """
    cutoff = dataset_instant(session, DATASET_CUTOFF)
    if len(timestamps) and timestamps.min() < cutoff < timestamps.max():
        return cutoff
    return float(np.quantile(timestamps, 0.8)) if len(timestamps) else cutoff


def evaluate_for_version(
    sessions: Callable[[], Session],
    params: TrainingParams,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvaluationReport | None:
    """Evaluate `params` at k = 10 on the shop's purchases split at `evaluation_cutoff`, for
    a new version's metadata; None when there is too little data to evaluate."""
    with sessions() as session:
        purchases = load_interactions(session).of_kinds(["purchase"])
        cutoff = evaluation_cutoff(session, purchases.timestamps)
        features = item_features(session)
    split = time_split(purchases, cutoff) if len(purchases) else None
    if split is None or not len(split.train) or not len(split.test):
        return None
    try:
        return evaluate(split, params, k=10, progress=progress, item_features=features)
    except ValueError as exc:  # too little data to evaluate: the version is still trained
        log.warning("no evaluation for the new version: %s", exc)
        return None


def run_training(sessions: Callable[[], Session], recs: RecommendationService, job_id: int) -> None:
    """Train, evaluate and save a version for the job; record success or failure."""
    progress = _Progress(sessions, job_id)
    stop = threading.Event()
    threading.Thread(
        target=progress.beat_until, args=(stop,), name=f"train-{job_id}-heartbeat", daemon=True
    ).start()
    try:
        _run(sessions, recs, job_id, progress)
    finally:
        stop.set()


def _run(
    sessions: Callable[[], Session], recs: RecommendationService, job_id: int, progress: _Progress
) -> None:
    try:
        with sessions() as session:
            job = session.get(TrainingJob, job_id)
            assert job is not None
            params = TrainingParams.from_dict(job.params["training"])
            activate = bool(job.params.get("activate"))
        progress(0.05, "Evaluating on a time split", force=True)
        report = evaluate_for_version(
            sessions, params, progress.stage(0.05, 0.6, "eval", EVALUATION_PARTS)
        )
        progress(0.6, "Training on all interactions", force=True)
        metadata = {"source": "console", "job": job_id}
        if report is not None:
            metadata["evaluation"] = report.to_dict()
        lift = report.lift("new") if report is not None else None
        go_live = activate and (lift is None or lift >= 1.0)
        with sessions() as session:
            before = active_version(recs.store)
            version = recs.train(
                session,
                params,
                activate=go_live,
                metadata=metadata,
                progress=progress.stage(0.6, 0.98, "train", TRAINING_PARTS),
            )
            if go_live:
                _audit_activation(session, job_id, before, version)
                session.commit()
        summary = _summary(report) if report is not None else None
        done = " and activated it" if go_live else ""
        if activate and not go_live:
            done = (
                f". Not activated: on the evaluation it recommends new items worse than "
                f"popularity ({lift:.2f}x); activate it below if you still want it"
            )
        progress.write(
            status="succeeded",
            running_slot=None,
            progress=1.0,
            message=f"Saved version {version}{done}",
            version_id=version,
            metrics=summary,
            finished_at=utcnow(),
        )
    except Exception as exc:  # the job must end, whatever went wrong
        log.exception("training job %s failed", job_id)
        progress.write(
            status="failed",
            running_slot=None,
            message="Failed",
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=utcnow(),
        )


def _audit_activation(session: Session, job_id: int, before: str | None, version: str) -> None:
    """Audit the version a job made live, as the person who started the job."""
    job = session.get(TrainingJob, job_id)
    starter = session.get(User, job.started_by) if job and job.started_by else None
    actor = audit.Actor.of(starter) if starter is not None else audit.CLI_ACTOR
    audit.record(session, actor, "model.activate", f"version {version}", before, version)


def _summary(report: EvaluationReport) -> dict[str, float | None]:
    """Headline figures; a lift over a zero baseline is None (JSON has no infinity)."""
    figures = {
        "precision_new": report.metric("new", "model", "precision"),
        "lift_new": report.lift("new"),
        "precision_all": report.metric("all", "model", "precision"),
        "lift_all": report.lift("all"),
    }
    return {k: v if math.isfinite(v) else None for k, v in figures.items()}


def launch(
    sessions: Callable[[], Session], recs: RecommendationService, job_id: int
) -> threading.Thread:
    """Run the job in a background thread (the request returns at once)."""
    thread = threading.Thread(
        target=run_training, args=(sessions, recs, job_id), name=f"train-{job_id}", daemon=True
    )
    thread.start()
    return thread
