"""A model version described on the activate and roll-back confirmation pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shop.analytics.offline import METRIC_NAMES, summarise
from shop.merchandising.version_reviews import describe_version


@dataclass(frozen=True)
class Saved:
    id: str
    created_at: str
    metadata: dict[str, Any]
    active: bool = False


def _row(view: str, model: str, precision: float) -> dict[str, Any]:
    return {
        "view": view,
        "model": model,
        "users": 50,
        **dict.fromkeys(METRIC_NAMES, 0.1),
        "precision": precision,
    }


def _described(metadata: dict[str, Any]) -> str:
    version = Saved("v2", "2026-11-20T09:00:00+00:00", metadata)
    return describe_version(summarise(version), metadata)


def test_an_evaluated_version_gives_its_precision_against_popularity() -> None:
    evaluation = {
        "k": 10,
        "results": [
            _row("new", "model", 0.1154),
            _row("new", "popularity", 0.0565),
            _row("all", "model", 0.3472),
            _row("all", "popularity", 0.1170),
        ],
    }
    text = _described(
        {"source": "console", "trained_at": "2026-11-21T10:15:30", "evaluation": evaluation}
    )
    assert text == (
        "version v2, retrained from the console 2026-11-21 10:15 UTC; precision@10 new items "
        "0.1154 (2.04\N{MULTIPLICATION SIGN} popularity), all items 0.3472 "
        "(2.97\N{MULTIPLICATION SIGN} popularity)"
    )


def test_a_version_without_or_with_a_broken_evaluation_says_so() -> None:
    assert _described({"source": "command"}) == (
        "version v2, trained with the train command 2026-11-20 09:00 UTC; not evaluated"
    )
    assert _described({"evaluation": {"results": []}}).endswith(
        "trained 2026-11-20 09:00 UTC; its evaluation cannot be read"
    )
