"""A trained recommender: ranked item keys with scores and reasons, cheap per request."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from recommender import reasons
from recommender._blas import single_threaded_blas
from recommender.association import BasketRules
from recommender.blending import blend, normalise_rows, popularity_factor
from recommender.content import ContentIndex
from recommender.errors import ArtifactError
from recommender.interactions import Interaction, Interactions, Timestamp
from recommender.keys import IdMap, Key
from recommender.models import Model, model_class, top_k
from recommender.models.base import check_k
from recommender.neighbours import NeighbourIndex, Peers
from recommender.params import TrainingParams
from recommender.profile import UserProfile
from recommender.reasons import Recommendation
from recommender.similar import blended_neighbours, content_weight

FORMAT_VERSION = 1
InteractionsLike = Interactions | Iterable[Interaction | tuple[Any, ...]]


class Recommender:
    """A fitted model with its catalogue, popularity, co-purchase rules and re-buy rates.

    Build one with `recommender.train`, or load one with `Recommender.load` (or a
    `ModelStore`). All methods take and return item keys; unknown keys are ignored.

    Parameters
    ----------
    model : Model
        Fitted on a matrix whose columns are `items`.
    items, users : IdMap
        Column and row keys of the training matrix.
    params : TrainingParams
        How it was trained (weighting, buy-again and rule settings are used when serving).
    popularity : numpy.ndarray
        Recent popularity of each item.
    rules : BasketRules
    rebuy_rates : numpy.ndarray
        Each item's smoothed repurchase rate.
    info : mapping
        Training facts (counts, data window, seconds), saved with the model.
    content : ContentIndex, optional
        Item-item content similarity from item features (blended by
        `params.blend.content`); None when trained without features.
    neighbours : NeighbourIndex, optional
        Training users' rows and recent purchases for the shoppers-like-you signal (blended
        by `params.blend.neighbours`); None when that weight is 0.
    item_users : numpy.ndarray, optional
        Per item, the training users who interacted with it (for
        `params.blend.popularity_penalty`, and for how much `similar_items` leans on
        content, `params.similar`); zeros when not given, and `similar_items` then uses the
        model alone.
    """

    def __init__(
        self,
        model: Model,
        items: IdMap,
        users: IdMap,
        params: TrainingParams,
        popularity: np.ndarray,
        rules: BasketRules,
        rebuy_rates: np.ndarray,
        info: Mapping[str, Any] | None = None,
        content: ContentIndex | None = None,
        *,
        neighbours: NeighbourIndex | None = None,
        item_users: np.ndarray | None = None,
    ) -> None:
        n = len(items)
        self._counts_known = item_users is not None
        if item_users is None:
            item_users = np.zeros(n, dtype=np.int64)
        for what, size in (
            ("the model", model.n_items),
            ("popularity", len(popularity)),
            ("rules", rules.n_items),
            ("rebuy_rates", len(rebuy_rates)),
            ("content", n if content is None else content.n_items),
            ("neighbours", n if neighbours is None else neighbours.n_items),
            ("item_users", len(item_users)),
        ):
            if size != n:
                raise ValueError(f"{what} covers {size} items but the catalogue has {n}")
        self.model = model
        self.items = items
        self.users = users
        self.params = params
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self.rules = rules
        self.rebuy_rates = np.asarray(rebuy_rates, dtype=np.float32)
        self.info = dict(info or {})
        self.content = content
        self.neighbours = neighbours
        self.item_users = np.asarray(item_users, dtype=np.int64)
        self._penalty = popularity_factor(self.item_users, params.blend.popularity_penalty)

    # --- serving ----------------------------------------------------------------------------

    def profile(self, interactions: InteractionsLike, now: Timestamp = None) -> UserProfile:
        """Weight one user's (or one session's) interactions into a row over the catalogue."""
        return UserProfile.build(
            Interactions.coerce(interactions),
            self.items,
            self.params.weighting,
            now=time.time() if now is None else now,
            repurchase_half_life_days=self.params.blend.buy_again_half_life_days,
        )

    def for_user(
        self,
        interactions: InteractionsLike = (),
        *,
        k: int = 10,
        exclude: Iterable[Key] = (),
        repurchase: bool = False,
        exclude_seen: bool = True,
        now: Timestamp = None,
    ) -> list[Recommendation]:
        """Recommend items for a shopper from all of their interactions, however recent.

        The shopper's vector is recomputed from these interactions at request time, so a
        click a minute ago changes the next page. Pass a known customer's whole history, or
        an anonymous session's interactions: both are scored the same way.

        Parameters
        ----------
        interactions : Interactions or iterable of Interaction or tuple
            The shopper's interactions. When they all carry one user key that was in the
            training data, that user's own training row is not counted among the
            shoppers like them.
        k : int
            Number of items.
        exclude : iterable of item keys
            Never recommend these (out of stock, in the cart, ...).
        repurchase : bool
            Let items the shopper bought come back, ranked by a "buy it again" blend of their
            own purchase frequency and recency with the model's scores.
        exclude_seen : bool
            Leave out items the shopper interacted with but did not buy.
        now : timestamp, optional
            The moment interactions fade back from (default: the current time).

        Returns
        -------
        list of Recommendation
            Best first. With no usable signal at all: recently popular items, with the
            reason "Popular right now".

        Notes
        -----
        BLAS runs single-threaded during the call: for matrices this small, waking BLAS
        threads costs more than it saves (and implicit runs its own threads).
        """
        check_k(k)
        with single_threaded_blas():
            return self._for_user(interactions, k, exclude, repurchase, exclude_seen, now)

    def _for_user(
        self,
        interactions: InteractionsLike,
        k: int,
        exclude: Iterable[Key],
        repurchase: bool,
        exclude_seen: bool,
        now: Timestamp,
    ) -> list[Recommendation]:
        data = Interactions.coerce(interactions)
        profile = self.profile(data, now)
        excluded = self._mask(exclude)
        if profile.is_empty:
            return self._popular(k, excluded)
        # A row can be empty while purchases exist when purchases weigh nothing.
        scores = self.model.score(profile.row)[0] if profile.row.nnz else self.popularity.copy()
        bought = np.zeros(len(self.items), dtype=bool)
        bought[profile.purchased] = True
        if exclude_seen:
            excluded[profile.items[~bought[profile.items]]] = True
        rebuy = np.zeros(len(self.items), dtype=np.float32)
        if repurchase:
            rebuy[profile.purchased] = (
                profile.purchase_recency * self.rebuy_rates[profile.purchased]
            )
        else:
            excluded |= bought
        params = self.params.blend
        similar = None
        if self.content is not None and params.content > 0 and profile.row.nnz:
            similar = self.content.scores(profile.row)
        peers = self._peers(profile, data)
        like_you, buyers = None, np.zeros(len(self.items), dtype=np.int64)
        if peers is not None and self.neighbours is not None:
            peer_scores, buyers = self.neighbours.bought_by(peers)
            like_you = peer_scores[None, :]
        blended = blend(
            scores[None, :],
            params,
            popularity=self.popularity,
            rebuy=rebuy[None, :] if repurchase else None,
            content=similar,
            neighbours=like_you,
            penalty=self._penalty,
        )[0]
        ids, values = top_k(blended, k, excluded)
        quoted, links = self._peer_reasons(peers, like_you, buyers, scores, ids)
        return self._explain(profile, ids, values, rebuy, quoted, links)

    def _peer_reasons(
        self,
        peers: Peers | None,
        like_you: np.ndarray | None,
        buyers: np.ndarray,
        scores: np.ndarray,
        ids: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per item, the peers to quote (0 where the peers' part does not outweigh the
        model's) and the shopper's item to name with them (-1: none, and the count quoted
        is then every peer who bought the item)."""
        links = np.full(len(self.items), -1)
        if peers is None or like_you is None or self.neighbours is None:
            return np.zeros(len(self.items), dtype=np.int64), links
        part = self.params.blend.neighbours * like_you[0] / max(float(like_you.max()), 1e-12)
        quoted = np.where(part > normalise_rows(scores[None, :])[0], buyers, 0)
        led = ids[quoted[ids] > 0]
        if len(led):
            named, holders = self.neighbours.links(peers, led)
            links[led] = named
            quoted[led] = np.where(named >= 0, holders, quoted[led])
        return quoted, links

    def _peers(self, profile: UserProfile, data: Interactions) -> Peers | None:
        """The shopper's most similar training users (None when that signal is off)."""
        if self.neighbours is None or self.params.blend.neighbours <= 0 or not profile.row.nnz:
            return None
        return self.neighbours.peers(profile.row, self._own_row(data))

    def _own_row(self, data: Interactions) -> int:
        """The training row of the shopper these interactions belong to, or -1."""
        keys = np.unique(data.users)
        index = self.users.index_of(keys[0]) if len(keys) == 1 else None
        return -1 if index is None else index

    def _explain(
        self,
        profile: UserProfile,
        ids: np.ndarray,
        values: np.ndarray,
        rebuy: np.ndarray,
        peers: np.ndarray,
        links: np.ndarray,
    ) -> list[Recommendation]:
        """Attach a reason to each recommended item (peers: per item, the peers to quote, 0
        where the peers' part does not lead; links: the shopper's item to name with them)."""
        if profile.row.nnz:
            contributors, _ = self.model.top_contributors(profile.row, ids)
        else:
            contributors = np.full(len(ids), -1)
        weight = self.params.blend.buy_again
        best_rebuy = rebuy.max(initial=0.0)
        results = []
        for item, value, source in zip(ids, values, contributors, strict=True):
            key = self.items.key_of(int(item))
            details: dict[str, float] = {}
            if rebuy[item] > 0 and weight * rebuy[item] / best_rebuy >= 0.5 * value:
                reason = reasons.buy_again(key)
            elif peers[item] > 0:
                link = int(links[item])
                named = self.items.key_of(link) if link >= 0 else None
                kind = profile.kind_of(link) if link >= 0 else None
                reason = reasons.like_you(int(peers[item]), named, kind)
                details = {"peers": float(peers[item])}
            elif source >= 0:
                reason = reasons.because(self.items.key_of(int(source)), profile.kind_of(source))
            else:
                reason = reasons.popular()
            results.append(Recommendation(key, float(value), reason, details))
        return results

    def popular(self, k: int = 10, exclude: Iterable[Key] = ()) -> list[Recommendation]:
        """The k most popular items of the recent window, labelled "Popular right now"."""
        check_k(k)
        return self._popular(k, self._mask(exclude))

    def _popular(self, k: int, excluded: np.ndarray) -> list[Recommendation]:
        ids, values = top_k(self.popularity, k, excluded)
        return [
            Recommendation(self.items.key_of(int(i)), float(v), reasons.popular())
            for i, v in zip(ids, values, strict=True)
        ]

    def similar_items(
        self, item: Key, k: int = 10, *, exclude: Iterable[Key] = ()
    ) -> list[Recommendation]:
        """Items most similar to item, reason "similar to item" (empty when item is unknown).

        By the model's item similarity; with item features and per-item user counts, the
        content similarity is mixed in with the share 1 / (1 + users / tau)
        (`params.similar.content_buyers`), so an item few shoppers bought gets items like it
        rather than its poorly determined factors' neighbours (`recommender.similar`).
        """
        check_k(k)
        index = self.items.index_of(item)
        if index is None:
            return []
        excluded = self._mask(exclude)
        weight = self._content_share(index)
        with single_threaded_blas():
            if weight > 0:
                assert self.content is not None
                rows = self.content.similarity
                start, stop = rows.indptr[index], rows.indptr[index + 1]
                ids, values = blended_neighbours(
                    self.model,
                    index,
                    k,
                    excluded,
                    rows.indices[start:stop],
                    rows.data[start:stop],
                    weight,
                )
            else:
                ids, values = self.model.similar_items(index, k + int(excluded.sum()))
                keep = ~excluded[ids]
                ids, values = ids[keep][:k], values[keep][:k]
        reason = reasons.similar_to(self.items.key_of(index))
        return [
            Recommendation(self.items.key_of(int(i)), float(v), reason)
            for i, v in zip(ids, values, strict=True)
        ]

    def _content_share(self, index: int) -> float:
        """The content share of similar_items for one item (0: the model alone)."""
        if self.content is None or not self._counts_known:
            return 0.0
        rows = self.content.similarity
        if rows.indptr[index] == rows.indptr[index + 1]:  # no content neighbours
            return 0.0
        return content_weight(float(self.item_users[index]), self.params.similar.content_buyers)

    def bought_together(
        self, items: Key | Iterable[Key], k: int = 10, *, exclude: Iterable[Key] = ()
    ) -> list[Recommendation]:
        """Items often bought with one product or a whole cart, by co-purchase rules.

        Each candidate is ranked by its strongest rule (confidence, then lift) from any of
        the given items; the reason names that item. Details carry support, confidence and
        lift. Returns fewer than k (possibly none) when too few rules pass the thresholds.
        """
        check_k(k)
        keys = [items] if isinstance(items, str | int) else list(items)
        indices = self.items.indices_of(keys)
        indices = indices[indices >= 0]
        excluded = np.flatnonzero(self._mask(exclude))
        results = []
        for rule in self.rules.recommend(indices, k, excluded):
            details = {"support": rule.support, "confidence": rule.confidence, "lift": rule.lift}
            results.append(
                Recommendation(
                    self.items.key_of(rule.consequent),
                    rule.confidence,
                    reasons.bought_with(self.items.key_of(rule.antecedent)),
                    details,
                )
            )
        return results

    def _mask(self, keys: Iterable[Key]) -> np.ndarray:
        mask = np.zeros(len(self.items), dtype=bool)
        indices = self.items.indices_of(list(keys))
        mask[indices[indices >= 0]] = True
        return mask

    # --- persistence ------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes held by the loaded arrays (model, key maps, popularity, rules, rates, content)."""
        return sum(a.nbytes for a in self._arrays().values())

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"model.{k}": v for k, v in self.model.to_arrays().items()}
        arrays |= {f"rules.{k}": v for k, v in self.rules.to_arrays().items()}
        if self.content is not None:
            arrays |= {f"content.{k}": v for k, v in self.content.to_arrays().items()}
        if self.neighbours is not None:
            arrays |= {f"neighbours.{k}": v for k, v in self.neighbours.to_arrays().items()}
        arrays |= {
            "item_users": self.item_users,
            "items": self.items.keys,
            "users": self.users.keys,
            "popularity": self.popularity,
            "rebuy_rates": self.rebuy_rates,
        }
        return arrays

    def save(self, file: str | Path | BinaryIO) -> None:
        """Write everything to one .npz file: numpy arrays and a JSON header, no pickle."""
        header = {
            "format": FORMAT_VERSION,
            "model": self.model.name,
            "model_params": self.model.get_params(),
            "params": self.params.to_dict(),
            "info": self.info,
            "content": None if self.content is None else self.content.params.to_dict(),
            "neighbours": None if self.neighbours is None else self.neighbours.params.to_dict(),
        }
        np.savez(file, __header__=np.array(json.dumps(header)), **self._arrays())

    @classmethod
    def load(cls, file: str | Path | BinaryIO | bytes) -> Recommender:
        """Read a recommender written by `save`.

        Raises
        ------
        ArtifactError
            When the file is missing, truncated, corrupt or not a saved recommender.
        """
        source = io.BytesIO(file) if isinstance(file, bytes) else file
        try:
            with np.load(source, allow_pickle=False) as data:
                header = json.loads(str(data["__header__"]))
                arrays = {key: data[key] for key in data.files if key != "__header__"}
            if header.get("format") != FORMAT_VERSION:
                raise ArtifactError(f"unsupported artifact format {header.get('format')!r}")
            model = model_class(header["model"]).from_arrays(
                header["model_params"], _prefixed(arrays, "model.")
            )
            content = None
            if header.get("content") is not None:
                content = ContentIndex.from_arrays(header["content"], _prefixed(arrays, "content."))
            neighbours = None
            if header.get("neighbours") is not None:
                neighbours = NeighbourIndex.from_arrays(
                    header["neighbours"], _prefixed(arrays, "neighbours.")
                )
            return cls(
                model,
                IdMap(arrays["items"]),
                IdMap(arrays["users"]),
                TrainingParams.from_dict(header["params"]),
                arrays["popularity"],
                BasketRules.from_arrays(_prefixed(arrays, "rules.")),
                arrays["rebuy_rates"],
                header.get("info", {}),
                content,
                neighbours=neighbours,
                item_users=arrays.get("item_users"),
            )
        except ArtifactError:
            raise
        except FileNotFoundError as exc:
            raise ArtifactError(f"model artifact not found: {exc.filename}") from exc
        except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ArtifactError(f"unreadable model artifact: {type(exc).__name__}: {exc}") from exc

    def __repr__(self) -> str:
        content = f", content={self.content!r}" if self.content is not None else ""
        if self.neighbours is not None:
            content += f", neighbours={self.neighbours!r}"
        return (
            f"Recommender({self.model!r}, items={len(self.items)}, users={len(self.users)}, "
            f"rules={self.rules.n_rules}{content})"
        )


def _prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
