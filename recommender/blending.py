"""Blend the model's scores with recent popularity, content similarity (when item features
were given) and, when re-buying is allowed, with the shopper's own purchase history ("buy it
again").

Each part is divided by its best value for the user, so every part's best item scores 1:

    final = model / max(model) + popular x popularity / max(popularity)
            + content x content_score / max(content_score)   (only with item features)
            + buy_again x rebuy / max(rebuy)                  (only when re-buying is allowed)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
from scipy.sparse import csr_matrix

from recommender.models.base import check_positive


@dataclass(frozen=True)
class BlendParams:
    """How the model's scores are mixed with other signals.

    Parameters
    ----------
    popular : float
        Weight of recent popularity (0: off).
    content : float
        Weight of the content-similarity score (`recommender.content`; 0: off). It only
        applies to a recommender trained with item features.
    buy_again : float
        Weight of the shopper's re-buy scores when re-buying is allowed (0: off).
    buy_again_half_life_days : float or None
        Age at which a past purchase counts half in the re-buy score; None: never fades.
    """

    popular: float = 0.0
    buy_again: float = 1.0
    buy_again_half_life_days: float | None = 90.0
    content: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self.popular, "popular blend weight", allow_zero=True)
        check_positive(self.content, "content blend weight", allow_zero=True)
        check_positive(self.buy_again, "buy_again blend weight", allow_zero=True)
        if self.buy_again_half_life_days is not None:
            check_positive(self.buy_again_half_life_days, "buy_again_half_life_days")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters written by `to_dict`."""
        return cls(**data)


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Divide each row by its largest value; a row whose largest value is <= 0 is min-max
    scaled instead. Either way the best item of every row scores 1."""
    scores = np.asarray(scores, dtype=np.float32)
    top = scores.max(axis=1, keepdims=True)
    bottom = scores.min(axis=1, keepdims=True)
    positive = top > 0
    scale = np.where(positive, top, np.maximum(top - bottom, 1e-12))
    shift = np.where(positive, 0.0, bottom)
    return (scores - shift) / scale


def blend(
    model_scores: np.ndarray,
    params: BlendParams,
    *,
    popularity: np.ndarray | None = None,
    rebuy: np.ndarray | csr_matrix | None = None,
    content: np.ndarray | None = None,
) -> np.ndarray:
    """Return the blended scores, rows x items (see the module docstring).

    Parameters
    ----------
    model_scores : numpy.ndarray
        Rows x items.
    params : BlendParams
    popularity : numpy.ndarray, optional
        Per item; used when params.popular > 0.
    rebuy : numpy.ndarray or scipy.sparse.csr_matrix, optional
        Rows x items re-buy scores (0 for items never bought); pass it only when re-buying
        is allowed.
    content : numpy.ndarray, optional
        Rows x items content-similarity scores (>= 0); used when params.content > 0.
    """
    use_content = content is not None and params.content > 0
    if params.popular <= 0 and (rebuy is None or params.buy_again <= 0) and not use_content:
        return model_scores
    out = normalise_rows(model_scores)
    if params.popular > 0 and popularity is not None:
        top = float(popularity.max(initial=0.0))
        if top > 0:
            out += (params.popular / top) * popularity.astype(np.float32)[None, :]
    if use_content:
        similar = np.asarray(content, dtype=np.float32)
        best = similar.max(axis=1, keepdims=True)
        out += (params.content * similar / np.where(best > 0, best, 1.0)).astype(np.float32)
    if rebuy is not None and params.buy_again > 0:
        dense = rebuy.toarray() if isinstance(rebuy, csr_matrix) else np.asarray(rebuy)
        best = dense.max(axis=1, keepdims=True)
        out += (params.buy_again * dense / np.where(best > 0, best, 1.0)).astype(np.float32)
    return out
