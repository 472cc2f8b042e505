"""Content similarity from item features (e.g. product descriptions).

Each item's features (a text, or a collection of tokens) become a TF-IDF vector over its
tokens: a text is upper-cased and split into runs of letters and digits; tokens of one
character are dropped. Vectors are L2-normalised, so the similarity of two items is the
cosine of their vectors, and for each item only its `neighbours` most similar items are kept
(a sparse items x items matrix, the item itself left out).

A shopper's content score for item i is sum_j w_j · sim(j, i) over the items j of their
row (the same weights the model sees), so a shopper who bought "JUMBO BAG RED RETROSPOT"
scores other RETROSPOT items, including ones with little purchase history.
`recommender.blending` mixes it with the model's scores by `BlendParams.content`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
from scipy.sparse import csr_matrix

from recommender.keys import IdMap, Key
from recommender.models.base import check_k
from recommender.sparse import l2_normalised_rows

ItemFeatures = Mapping[Key, str | Iterable[str]]
"""Item key -> a text (tokenised here) or its tokens."""

_TOKEN = re.compile(r"[A-Z0-9]+")
_CHUNK_CELLS = 1 << 24  # similarity rows computed at once: rows x items


@dataclass(frozen=True)
class ContentParams:
    """How the content similarity is built.

    Parameters
    ----------
    neighbours : int
        Most similar items kept per item.
    """

    neighbours: int = 50

    def __post_init__(self) -> None:
        check_k(self.neighbours, "content neighbours")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters written by `to_dict`."""
        return cls(**data)


def tokenize(features: str | Iterable[str]) -> list[str]:
    """Tokens of one item's features: a text's upper-cased runs of letters and digits (two
    characters or more), or the given tokens as they are."""
    if isinstance(features, str):
        return [t for t in _TOKEN.findall(features.upper()) if len(t) > 1]
    return [str(t) for t in features if str(t)]


def tfidf_matrix(items: IdMap, features: ItemFeatures) -> tuple[csr_matrix, np.ndarray]:
    """Return (items x tokens L2-normalised TF-IDF matrix, token vocabulary).

    Items without features (or unknown to `items`) get an empty row; features of keys
    outside `items` are ignored. IDF is ln(n / df) + 1 over the items that have features.
    """
    keys = list(features)
    indices = items.indices_of(keys) if keys else np.empty(0, dtype=np.int64)
    rows: list[int] = []
    tokens: list[str] = []
    for key, index in zip(keys, indices, strict=True):
        if index < 0:
            continue
        found = tokenize(features[key])
        rows.extend([int(index)] * len(found))
        tokens.extend(found)
    vocabulary, columns = np.unique(np.array(tokens, dtype=str), return_inverse=True)
    shape = (len(items), len(vocabulary))
    counts = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (np.array(rows, dtype=np.int64), columns)),
        shape=shape,
    )
    counts.sum_duplicates()
    return _weigh(counts), vocabulary.astype(str)


def _weigh(counts: csr_matrix) -> csr_matrix:
    """TF-IDF with L2-normalised rows from a items x tokens count matrix."""
    described = int((np.diff(counts.indptr) > 0).sum())
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(max(described, 1) / np.maximum(df, 1)) + 1.0
    weighted = csr_matrix(counts, dtype=np.float32, copy=True)
    weighted.data *= idf[weighted.indices].astype(np.float32)
    return l2_normalised_rows(weighted)


def neighbour_similarity(vectors: csr_matrix, neighbours: int) -> csr_matrix:
    """Items x items cosine similarities, keeping each row's `neighbours` largest positive
    values and never the item itself."""
    n = vectors.shape[0]
    transposed = vectors.T.tocsr()
    keep = min(neighbours, max(n - 1, 0))
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    data, cols, counts = [], [], np.zeros(n, dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        block = (vectors[start:stop] @ transposed).toarray()
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if keep == 0:
            continue
        top = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
        values = np.take_along_axis(block, top, axis=1)
        positive = values > 0
        counts[start:stop] = positive.sum(axis=1)
        data.append(values[positive])
        cols.append(top[positive])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    flat_data = np.concatenate(data).astype(np.float32) if data else np.empty(0, np.float32)
    flat_cols = np.concatenate(cols).astype(np.int32) if cols else np.empty(0, np.int32)
    similarity = csr_matrix((flat_data, flat_cols, indptr), shape=(n, n))
    similarity.sort_indices()
    return similarity


class ContentIndex:
    """Item-item content similarity over a catalogue, and the features it came from.

    Parameters
    ----------
    vectors : scipy.sparse.csr_matrix
        Items x tokens TF-IDF rows (L2-normalised; empty for items without features).
    vocabulary : numpy.ndarray
        The token of each column.
    params : ContentParams
    similarity : scipy.sparse.csr_matrix, optional
        Items x items; computed from vectors when not given.
    """

    def __init__(
        self,
        vectors: csr_matrix,
        vocabulary: np.ndarray,
        params: ContentParams | None = None,
        similarity: csr_matrix | None = None,
    ) -> None:
        self.params = params or ContentParams()
        self.vectors = csr_matrix(vectors, dtype=np.float32)
        self.vocabulary = np.asarray(vocabulary, dtype=str)
        if self.vectors.shape[1] != len(self.vocabulary):
            raise ValueError("vectors and vocabulary disagree on the number of tokens")
        if similarity is None:
            similarity = neighbour_similarity(self.vectors, self.params.neighbours)
        self.similarity = csr_matrix(similarity, dtype=np.float32)
        if self.similarity.shape != (self.n_items, self.n_items):
            raise ValueError("the similarity matrix does not match the catalogue")

    @classmethod
    def build(
        cls, items: IdMap, features: ItemFeatures, params: ContentParams | None = None
    ) -> ContentIndex:
        """The content index of a catalogue from item key -> text (or tokens)."""
        vectors, vocabulary = tfidf_matrix(items, features)
        return cls(vectors, vocabulary, params)

    @property
    def n_items(self) -> int:
        """Items (rows) covered."""
        return int(self.vectors.shape[0])

    @property
    def described(self) -> int:
        """Items that have at least one token."""
        return int((np.diff(self.vectors.indptr) > 0).sum())

    def with_params(self, params: ContentParams) -> ContentIndex:
        """The same features with another similarity (e.g. more neighbours)."""
        if params == self.params:
            return self
        return ContentIndex(self.vectors, self.vocabulary, params)

    def scores(self, user_items: csr_matrix) -> np.ndarray:
        """Rows x items content scores: each row's weights times the item similarities."""
        if user_items.shape[1] != self.n_items:
            raise ValueError(
                f"user_items has {user_items.shape[1]} columns but the index has {self.n_items}"
            )
        return np.asarray((user_items @ self.similarity).toarray(), dtype=np.float32)

    def tokens_of(self, item: int) -> list[str]:
        """The tokens of one item (by index)."""
        row = self.vectors[item]
        return [str(t) for t in self.vocabulary[row.indices]]

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return sum(a.nbytes for a in self.to_arrays().values())

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as named numpy arrays (no objects), for `Recommender.save`."""
        return {
            "vectors.data": self.vectors.data,
            "vectors.indices": self.vectors.indices,
            "vectors.indptr": self.vectors.indptr,
            "vocabulary": self.vocabulary,
            "similarity.data": self.similarity.data,
            "similarity.indices": self.similarity.indices,
            "similarity.indptr": self.similarity.indptr,
        }

    @classmethod
    def from_arrays(cls, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild an index written by `to_arrays`."""
        n = len(arrays["vectors.indptr"]) - 1
        vocabulary = np.asarray(arrays["vocabulary"], dtype=str)
        vectors = csr_matrix(
            (arrays["vectors.data"], arrays["vectors.indices"], arrays["vectors.indptr"]),
            shape=(n, len(vocabulary)),
        )
        similarity = csr_matrix(
            (arrays["similarity.data"], arrays["similarity.indices"], arrays["similarity.indptr"]),
            shape=(n, n),
        )
        return cls(vectors, vocabulary, ContentParams.from_dict(params), similarity)

    def __repr__(self) -> str:
        return (
            f"ContentIndex(items={self.n_items}, described={self.described}, "
            f"tokens={len(self.vocabulary)}, neighbours={self.params.neighbours})"
        )
