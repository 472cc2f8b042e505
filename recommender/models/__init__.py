"""Models behind one interface: ALS (default), BPR, item k-NN and popularity."""

from __future__ import annotations

from typing import Any

from recommender.models.als import ALSModel
from recommender.models.base import Model, Progress, top_k
from recommender.models.bpr import BPRModel
from recommender.models.knn import ItemKNNModel
from recommender.models.popularity import PopularityModel

MODELS: dict[str, type[Model]] = {
    cls.name: cls for cls in (ALSModel, BPRModel, ItemKNNModel, PopularityModel)
}
DEFAULT_MODEL = ALSModel.name


def model_class(name: str) -> type[Model]:
    """Return the model class registered under name; raise ValueError for an unknown name."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None


def create_model(name: str = DEFAULT_MODEL, **params: Any) -> Model:
    """Return a new, unfitted model of the given kind with params."""
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for {name!r}: {exc}") from None


__all__ = [
    "DEFAULT_MODEL",
    "MODELS",
    "ALSModel",
    "BPRModel",
    "ItemKNNModel",
    "Model",
    "PopularityModel",
    "Progress",
    "create_model",
    "model_class",
    "top_k",
]
