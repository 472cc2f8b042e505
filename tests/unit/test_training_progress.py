"""The console's retraining bar only moves forward, whatever the library reports."""

from __future__ import annotations

from typing import Any

from shop.merchandising.training_jobs import _Progress


class _Recorded(_Progress):
    def __init__(self) -> None:
        super().__init__(sessions=lambda: None, job_id=1)  # type: ignore[arg-type,return-value]
        self.rows: list[dict[str, Any]] = []

    def write(self, **values: Any) -> None:
        self.rows.append(values)


def test_a_new_library_stage_does_not_move_the_bar_back() -> None:
    progress = _Recorded()
    report = progress.stage(0.05, 0.6, "eval")
    for stage, done, total in (("als", 27, 30), ("evaluate", 0, 7), ("evaluate", 7, 7)):
        progress.written = -1e9  # write every report, as if time had passed
        report(stage, done, total)
    bars = [row["progress"] for row in progress.rows]
    assert bars == [0.545, 0.545, 0.6]
    assert [row["message"] for row in progress.rows] == [
        "eval: als 27/30",
        "eval: evaluate 0/7",
        "eval: evaluate 7/7",
    ]


def test_reports_in_between_writes_still_count() -> None:
    progress = _Recorded()
    progress(0.5, "half", force=True)
    progress(0.7, "skipped: written too soon")
    progress(0.1, "later stage restarted", force=True)
    assert [row["progress"] for row in progress.rows] == [0.5, 0.7]
