"""The console's retraining bar only moves forward, whatever the library reports."""

from __future__ import annotations

from typing import Any

from shop.merchandising.training_jobs import EVALUATION_PARTS, TRAINING_PARTS, _Progress


class _Recorded(_Progress):
    def __init__(self) -> None:
        super().__init__(sessions=lambda: None, job_id=1)  # type: ignore[arg-type,return-value]
        self.rows: list[dict[str, Any]] = []

    def write(self, **values: Any) -> None:
        self.rows.append(values)


def _bars(progress: _Recorded, report: Any, steps: list[tuple[str, int, int]]) -> list[float]:
    for stage, done, total in steps:
        progress.written = -1e9  # write every report, as if time had passed
        report(stage, done, total)
    return [row["progress"] for row in progress.rows]


def test_each_library_stage_moves_the_bar_within_its_own_share() -> None:
    progress = _Recorded()
    report = progress.stage(0.0, 1.0, "eval", EVALUATION_PARTS)
    steps = [("als", 15, 30), ("als", 30, 30), ("evaluate", 0, 7), ("evaluate", 7, 7)]
    assert _bars(progress, report, steps) == [0.25, 0.5, 0.5, 1.0]
    assert progress.rows[2]["message"] == "eval: evaluate 0/7"
    # Training: a one-step "matrix" stage no longer fills the whole band before the fit.
    progress = _Recorded()
    report = progress.stage(0.0, 1.0, "train", TRAINING_PARTS)
    steps = [("matrix", 1, 1), ("als", 3, 30), ("als", 30, 30), ("rules", 1, 1)]
    assert _bars(progress, report, steps) == [0.05, 0.13, 0.85, 1.0]


def test_reports_in_between_writes_still_count() -> None:
    progress = _Recorded()
    progress(0.5, "half", force=True)
    progress(0.7, "skipped: written too soon")
    progress(0.1, "later stage restarted", force=True)
    assert [row["progress"] for row in progress.rows] == [0.5, 0.7]
