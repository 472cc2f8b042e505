"""Least-squares fold-in for factor models: a user vector from a row of weights.

For a row with confidences c_j = alpha * w_j on items j, the user vector x solves
(YᵀY + λI + Σ_j (c_j - 1) y_j y_jᵀ) x = Σ_j c_j y_j, as in implicit's ALS
(`recalculate_user`). Writing A for the matrix on the left, the score of item i splits into
one term per row item: y_iᵀ x = Σ_j c_j (y_iᵀ A⁻¹ y_j), which is what implicit's
`AlternatingLeastSquares.explain` reports; `contributions` computes those terms for many
items at once.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix


def _system(
    item_factors: np.ndarray,
    gram: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    regularization: float,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (A, b, factors of the row's items, confidences) for one row."""
    confidence = alpha * weights.astype(np.float64)
    factors = item_factors[indices].astype(np.float64)
    a = gram + regularization * np.eye(gram.shape[0])
    a += (factors * (confidence - 1.0)[:, None]).T @ factors
    b = factors.T @ confidence
    return a, b, factors, confidence


def fold_in(
    item_factors: np.ndarray,
    gram: np.ndarray,
    user_items: csr_matrix,
    regularization: float,
    alpha: float,
) -> np.ndarray:
    """Return one user vector per row of user_items (zeros for an empty row)."""
    vectors = np.zeros((user_items.shape[0], item_factors.shape[1]), dtype=np.float32)
    for r in range(user_items.shape[0]):
        start, end = user_items.indptr[r], user_items.indptr[r + 1]
        if start == end:
            continue
        a, b, _, _ = _system(
            item_factors,
            gram,
            user_items.indices[start:end],
            user_items.data[start:end],
            regularization,
            alpha,
        )
        vectors[r] = np.linalg.solve(a, b)
    return vectors


def contributions(
    item_factors: np.ndarray,
    gram: np.ndarray,
    row: csr_matrix,
    items: np.ndarray,
    regularization: float,
    alpha: float,
) -> np.ndarray:
    """Return len(items) x nnz(row): c_j * y_iᵀ A⁻¹ y_j for each target i and row item j."""
    if row.nnz == 0:
        return np.zeros((len(items), 0))
    a, _, factors, confidence = _system(
        item_factors, gram, row.indices, row.data, regularization, alpha
    )
    solved = cho_solve(cho_factor(a), item_factors[items].astype(np.float64).T)
    return (factors @ solved).T * confidence[None, :]


def gram_matrix(item_factors: np.ndarray) -> np.ndarray:
    """YᵀY in float64."""
    factors = item_factors.astype(np.float64)
    return factors.T @ factors


def cosine_neighbours(
    item_factors: np.ndarray, norms: np.ndarray, item: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k items whose factors have the highest cosine with item's, item itself left out."""
    from recommender.models.base import top_k

    scores = (item_factors @ item_factors[item]) / (norms * norms[item])
    mask = np.zeros(len(scores), dtype=bool)
    mask[item] = True
    return top_k(scores.astype(np.float32), k, mask)


def safe_norms(item_factors: np.ndarray) -> np.ndarray:
    """Row norms, with zeros replaced by a tiny value so they can divide."""
    norms = np.linalg.norm(item_factors, axis=1)
    norms[norms == 0] = 1e-10
    return norms
