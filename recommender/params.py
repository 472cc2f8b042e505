"""Everything `train` needs to know, as one JSON-friendly value (what `tune` writes)."""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

from recommender.association import RuleThresholds
from recommender.blending import BlendParams
from recommender.content import ContentParams
from recommender.models import DEFAULT_MODEL, create_model
from recommender.neighbours import NeighbourParams
from recommender.similar import SimilarParams
from recommender.weighting import Weighting


@dataclass(frozen=True)
class TrainingParams:
    """How to train a recommender.

    Parameters
    ----------
    model : str
        "als" (default), "bpr", "item_knn" or "popularity".
    model_params : mapping
        Keyword arguments of the model (e.g. factors, regularization, alpha, iterations).
    weighting : Weighting
        Kind weights, time fading and which kinds are purchases.
    popular_days : float
        The recent window for "popular right now".
    rules : RuleThresholds
        Thresholds for "bought together".
    blend : BlendParams
        How recent popularity, content similarity and, when re-buying is allowed, past
        purchases are mixed in.
    content : ContentParams
        How the content similarity is built when `train` is given item features.
    neighbours : NeighbourParams
        How the shoppers-like-you signal is built (when `blend.neighbours` > 0).
    similar : SimilarParams
        How `similar_items` mixes content similarity in for items with few users (only
        with item features).

    Raises
    ------
    ValueError
        For an unknown model, bad model parameters or a bad window.
    """

    model: str = DEFAULT_MODEL
    model_params: Mapping[str, Any] = field(default_factory=dict)
    weighting: Weighting = field(default_factory=Weighting)
    popular_days: float = 30.0
    rules: RuleThresholds = field(default_factory=RuleThresholds)
    blend: BlendParams = field(default_factory=BlendParams)
    content: ContentParams = field(default_factory=ContentParams)
    neighbours: NeighbourParams = field(default_factory=NeighbourParams)
    similar: SimilarParams = field(default_factory=SimilarParams)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_params", dict(self.model_params))
        create_model(self.model, **self.model_params)  # validates early
        if not (math.isfinite(self.popular_days) and self.popular_days > 0):
            raise ValueError(f"popular_days must be > 0, not {self.popular_days!r}")

    def with_model(self, **model_params: Any) -> Self:
        """A copy with some model parameters changed."""
        return replace(self, model_params={**self.model_params, **model_params})

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "model": self.model,
            "model_params": dict(self.model_params),
            "weighting": self.weighting.to_dict(),
            "popular_days": self.popular_days,
            "rules": self.rules.to_dict(),
            "blend": self.blend.to_dict(),
            "content": self.content.to_dict(),
            "neighbours": self.neighbours.to_dict(),
            "similar": self.similar.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters written by `to_dict`; missing sections keep their defaults."""
        known = {
            "model",
            "model_params",
            "weighting",
            "popular_days",
            "rules",
            "blend",
            "content",
            "neighbours",
            "similar",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training parameters: {sorted(unknown)}")
        values: dict[str, Any] = {k: data[k] for k in ("model", "model_params") if k in data}
        if "model_params" in data and not isinstance(data["model_params"], Mapping):
            raise ValueError(f"model_params must be an object, not {data['model_params']!r}")
        if "popular_days" in data:
            values["popular_days"] = _typed_number(data["popular_days"], "popular_days")
        for name, section in SECTIONS.items():
            if name in data:
                values[name] = _section(name, section, data[name])
        return cls(**values)

    def save(self, path: str | Path) -> None:
        """Write the parameters as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read parameters from a JSON file: either these fields, or a tuning result holding
        them under "params".

        Raises
        ------
        ValueError
            Naming the file, when it is not JSON or holds parameters that cannot be used.
        """
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a JSON parameters file: {exc}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a JSON parameters file: not UTF-8 text") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        try:
            return cls.from_dict(data.get("params", data))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


SECTIONS: dict[str, Any] = {
    "weighting": Weighting,
    "rules": RuleThresholds,
    "blend": BlendParams,
    "content": ContentParams,
    "neighbours": NeighbourParams,
    "similar": SimilarParams,
}


def _section(name: str, section: Any, value: Any) -> Any:
    """One part of the parameters read by its own from_dict; a value of the wrong shape or
    type is a ValueError naming the part, never a TypeError from deep inside it."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be an object, not {value!r}")
    value = _typed_fields(name, section, value)
    try:
        return section.from_dict(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc
    except (TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"bad {name} parameters {dict(value)!r}: {exc}") from exc


def _typed_fields(name: str, section: Any, value: Mapping[str, Any]) -> dict[str, Any]:
    """The section's fields checked against their declared types: numbers (a text holding
    one is read as one), booleans, lists of names and objects of weights."""
    hints = typing.get_type_hints(section)
    checked = dict(value)
    for key, given in value.items():
        hint = hints.get(key)
        if hint is None:
            continue  # an unknown field: from_dict names it
        label = f"{name}: {key}"
        origin = typing.get_origin(hint)
        allowed = set(typing.get_args(hint)) or {hint}
        if origin is Mapping:
            if not isinstance(given, Mapping):
                raise ValueError(f"{label} must be an object of weights, not {given!r}")
            checked[key] = {k: _typed_number(v, f"{label}.{k}") for k, v in given.items()}
        elif origin is tuple:
            if not isinstance(given, list | tuple) or not all(
                isinstance(v, str) and v for v in given
            ):
                raise ValueError(f"{label} must be a list of names, not {given!r}")
        elif given is None and type(None) in allowed:
            continue
        elif allowed & {int, float}:
            checked[key] = _typed_number(given, label, whole=float not in allowed)
        elif bool in allowed and not isinstance(given, bool):
            raise ValueError(f"{label} must be true or false, not {given!r}")
    return checked


def _typed_number(value: Any, label: str, *, whole: bool = False) -> int | float:
    """A JSON number (or a text holding one) as a number; true/false, lists and objects are
    refused, and a whole-number field refuses fractions."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{label} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{label} must be a number, not {value!r}")
    if whole:
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{label} must be a whole number, not {value!r}")
        return int(value)
    return value
