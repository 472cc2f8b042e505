"""Blend the model's scores with recent popularity, content similarity (when item features
were given), what similar shoppers bought recently and, when re-buying is allowed, with the
shopper's own purchase history ("buy it again").

Each part is divided by its best value for the user, so every part's best item scores 1:

    discovery = model / max(model) + popular x popularity / max(popularity)
                + content x content_score / max(content_score)   (only with item features)
                + neighbours x like_you / max(like_you)          (`recommender.neighbours`)
    final = discovery x (users of the item + 1) ^ -popularity_penalty
            + buy_again x rebuy / max(rebuy)                     (only when re-buying is allowed)

The penalty leans the list away from the items everyone already has (the users of an item
are the training users who interacted with it); it does not touch the re-buy part.
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
    neighbours : float
        Weight of what the most similar shoppers bought recently (`recommender.neighbours`;
        0: off).
    popularity_penalty : float
        Exponent of the (users of the item + 1) ^ -penalty factor on the discovery part
        (0: off).
    """

    popular: float = 0.0
    buy_again: float = 1.0
    buy_again_half_life_days: float | None = 90.0
    content: float = 0.0
    neighbours: float = 0.0
    popularity_penalty: float = 0.0

    def __post_init__(self) -> None:
        check_positive(self.popular, "popular blend weight", allow_zero=True)
        check_positive(self.content, "content blend weight", allow_zero=True)
        check_positive(self.buy_again, "buy_again blend weight", allow_zero=True)
        check_positive(self.neighbours, "neighbours blend weight", allow_zero=True)
        check_positive(self.popularity_penalty, "popularity_penalty", allow_zero=True)
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


def _add_scaled(out: np.ndarray, weight: float, part: np.ndarray) -> None:
    part = np.asarray(part, dtype=np.float32)
    best = part.max(axis=1, keepdims=True)
    out += (weight * part / np.where(best > 0, best, 1.0)).astype(np.float32)


def popularity_factor(item_users: np.ndarray, penalty: float) -> np.ndarray:
    """(users of the item + 1) ^ -penalty, per item."""
    return ((np.asarray(item_users, dtype=np.float64) + 1.0) ** -penalty).astype(np.float32)


def blend(
    model_scores: np.ndarray,
    params: BlendParams,
    *,
    popularity: np.ndarray | None = None,
    rebuy: np.ndarray | csr_matrix | None = None,
    content: np.ndarray | None = None,
    neighbours: np.ndarray | None = None,
    penalty: np.ndarray | None = None,
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
    neighbours : numpy.ndarray, optional
        Rows x items shoppers-like-you scores (>= 0); used when params.neighbours > 0.
    penalty : numpy.ndarray, optional
        Per item, `popularity_factor(users of the item, params.popularity_penalty)`; used
        when params.popularity_penalty > 0.
    """
    use_content = content is not None and params.content > 0
    use_neighbours = neighbours is not None and params.neighbours > 0
    use_penalty = penalty is not None and params.popularity_penalty > 0
    use_rebuy = rebuy is not None and params.buy_again > 0
    if params.popular <= 0 and not (use_rebuy or use_content or use_neighbours or use_penalty):
        return model_scores
    out = normalise_rows(model_scores)
    if params.popular > 0 and popularity is not None:
        top = float(popularity.max(initial=0.0))
        if top > 0:
            out += (params.popular / top) * popularity.astype(np.float32)[None, :]
    if use_content:
        _add_scaled(out, params.content, content)
    if use_neighbours:
        _add_scaled(out, params.neighbours, neighbours)
    if use_penalty:
        out *= np.asarray(penalty, dtype=np.float32)[None, :]
    if use_rebuy:
        dense = rebuy.toarray() if isinstance(rebuy, csr_matrix) else np.asarray(rebuy)
        _add_scaled(out, params.buy_again, dense)
    return out
