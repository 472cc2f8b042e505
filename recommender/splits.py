"""Train/test splits: by time, random per user, and leave-last-out.

The test side keeps only users who also appear in the training side (a model cannot
personalise for a stranger; popularity handles them in the shop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from recommender.interactions import Interactions, Timestamp, to_epoch_seconds

SPLITS = ("time", "random", "last")


@dataclass(frozen=True, eq=False)
class Split:
    """A train part, a test part and how they were made.

    Attributes
    ----------
    train, test : Interactions
    method : str
        "time", "random" or "last".
    description : str
    now : float or None
        The end of the training data (weights fade back from here).
    """

    train: Interactions
    test: Interactions
    method: str
    description: str
    now: float | None


def _known_users(train: Interactions, test: Interactions) -> Interactions:
    return test.select(np.isin(test.users, np.unique(train.users)))


def _end(train: Interactions) -> float | None:
    span = train.time_span
    return span[1] if span else None


def time_split(interactions: Interactions, cutoff: Timestamp) -> Split:
    """Train on everything before cutoff, test on what known users did from cutoff on."""
    moment = to_epoch_seconds(cutoff)
    if np.isnan(moment):
        raise ValueError("a time split needs a cutoff")
    if np.all(np.isnan(interactions.timestamps)):
        raise ValueError("a time split needs timestamps, and these interactions have none")
    train = interactions.select(interactions.timestamps < moment)
    test = _known_users(train, interactions.select(interactions.timestamps >= moment))
    return Split(train, test, "time", f"time split at {_moment_text(moment)}", moment)


def _moment_text(moment: float) -> str:
    """An instant as ISO 8601, or as seconds when it is past what datetime holds (year 9999)."""
    try:
        return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return f"{moment:.0f} seconds after 1970-01-01"


def random_split(interactions: Interactions, ratio: float = 0.2, seed: int = 0) -> Split:
    """Per user, put a share (ratio) of their distinct items into the test part.

    A user with a single item stays in training only; every user with two or more items
    keeps at least one in training and gives at least one to the test.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be between 0 and 1, not {ratio!r}")
    _, user_codes = np.unique(interactions.users, return_inverse=True)
    _, item_codes = np.unique(interactions.items, return_inverse=True)
    pairs, pair_of_row = np.unique(
        np.stack([user_codes.reshape(-1), item_codes.reshape(-1)], axis=1),
        axis=0,
        return_inverse=True,
    )
    pair_of_row = pair_of_row.reshape(-1)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(pairs)), pairs[:, 0]))
    users_sorted = pairs[order, 0]
    starts = np.r_[0, np.flatnonzero(users_sorted[1:] != users_sorted[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(order)])
    position = np.arange(len(order)) - np.repeat(starts, counts)
    share = np.where(counts >= 2, np.clip(np.floor(ratio * counts), 1, counts - 1), 0)
    in_test = np.zeros(len(pairs), dtype=bool)
    in_test[order] = position < np.repeat(share, counts)
    test_rows = in_test[pair_of_row]
    train = interactions.select(~test_rows)
    return Split(
        train,
        interactions.select(test_rows),
        "random",
        f"random {ratio:g} of each user's items (seed {seed})",
        _end(train),
    )


def leave_last_out(interactions: Interactions) -> Split:
    """Per user, test on the items of their latest moment (a whole basket, if it was one).

    Users with a single moment stay in training only. Without timestamps, the last row of
    each user in input order is their latest.
    """
    times = interactions.timestamps
    order_key = np.where(np.isnan(times), np.arange(len(times), dtype=np.float64), times)
    _, user_codes = np.unique(interactions.users, return_inverse=True)
    user_codes = user_codes.reshape(-1)
    latest = np.full(user_codes.max() + 1 if len(user_codes) else 0, -np.inf)
    np.maximum.at(latest, user_codes, order_key)
    earliest = np.full(len(latest), np.inf)
    np.minimum.at(earliest, user_codes, order_key)
    is_last = (order_key == latest[user_codes]) & (earliest[user_codes] < latest[user_codes])
    train = interactions.select(~is_last)
    return Split(train, interactions.select(is_last), "last", "leave last out", _end(train))


def make_split(
    interactions: Interactions,
    method: str,
    *,
    cutoff: Timestamp = None,
    ratio: float = 0.2,
    seed: int = 0,
) -> Split:
    """Split by method name ("time" needs cutoff)."""
    if method == "time":
        return time_split(interactions, cutoff)
    if method == "random":
        return random_split(interactions, ratio, seed)
    if method == "last":
        return leave_last_out(interactions)
    raise ValueError(f"unknown split {method!r}; choose one of {SPLITS}")


def validation_split(
    split: Split, *, days: float | None = None, fraction: float = 0.2, seed: int = 1
) -> Split:
    """Carve a validation split out of split.train only, the same way split was made.

    For a time split the validation period is the last `days` (or `fraction` of the span) of
    the training data; the test part of split is never looked at.
    """
    train = split.train
    if split.method == "time":
        span = train.time_span
        if span is None:
            raise ValueError("the training part has no timestamps")
        length = days * 86_400.0 if days is not None else fraction * (span[1] - span[0])
        if not length > 0:
            raise ValueError("the validation period must be longer than zero")
        if length >= span[1] - span[0]:  # nothing would be left to train on
            raise ValueError(
                f"the validation period of {length / 86_400.0:g} days is not shorter than the "
                f"training data's {(span[1] - span[0]) / 86_400.0:.1f} days"
            )
        return time_split(train, span[1] - length)
    if split.method == "random":
        return random_split(train, fraction, seed)
    return leave_last_out(train)
