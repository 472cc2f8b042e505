"""Tuning: a small search on a validation split carved from the training data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from recommender import Interactions, SearchSpace, TrainingParams, Trial, TuningResult, tune

SPACE = SearchSpace(
    model={"factors": (2, 4), "regularization": (0.1,), "alpha": (1.0, 4.0), "iterations": (5,)},
    half_life_days=(None,),
    popular=(0.0, 0.5),
    buy_again=(0.5, 2.0),
    buy_again_half_life_days=(30.0,),
    neighbours=(0.5,),
    neighbour_counts=(5,),
    neighbour_recent_days=(30.0,),
    popularity_penalty=(0.2,),
)
# The neighbours stage: the chosen params first, then 2 popular x 2 weights x 2 penalties.
NEIGHBOUR_TRIALS = 1 + 2 * 2 * 2
TRIALS = 3 + 2 + NEIGHBOUR_TRIALS + 2


def run(interactions: Interactions) -> tuple[TuningResult, list[tuple[int, int]]]:
    """Tune with SPACE, recording progress calls."""
    calls: list[tuple[int, int]] = []

    def progress(_trial: Trial, done: int, total: int) -> None:
        calls.append((done, total))

    result = tune(interactions, TrainingParams(), space=SPACE, trials=3, k=5, progress=progress)
    return result, calls


def test_tune_tries_every_stage_and_reports_progress(interactions: Interactions) -> None:
    result, calls = run(interactions)
    stages = [t.stage for t in result.trials]
    assert stages == (
        ["model"] * 3 + ["popular"] * 2 + ["neighbours"] * NEIGHBOUR_TRIALS + ["buy_again"] * 2
    )
    assert calls == [(i, TRIALS) for i in range(1, TRIALS + 1)]


def test_the_chosen_params_are_the_best_trials(interactions: Interactions) -> None:
    result, _ = run(interactions)
    best_model = result.best("model")
    assert result.params.model_params == best_model.params["model_params"]
    peers = result.best("neighbours").params
    assert result.params.blend.popular == peers["blend"]["popular"]
    assert result.params.blend.neighbours == peers["blend"]["neighbours"]
    assert result.params.blend.popularity_penalty == peers["blend"]["popularity_penalty"]
    assert result.params.blend.buy_again == result.best("buy_again").params["blend"]["buy_again"]
    assert result.params.model_params["factors"] in (2, 4)


def test_the_validation_split_ends_inside_the_given_data(interactions: Interactions) -> None:
    result, _ = run(interactions)
    assert result.validation.startswith("time split at ")
    cutoff = datetime.fromisoformat(result.validation.removeprefix("time split at "))
    span = interactions.time_span
    assert span is not None and span[0] < cutoff.timestamp() < span[1]


def test_result_round_trips_as_params(interactions: Interactions, tmp_path: Path) -> None:
    result, _ = run(interactions)
    path = tmp_path / "params.json"
    result.save(path)
    assert len(json.loads(path.read_text())["trials"]) == TRIALS
    assert TrainingParams.load(path) == result.params
