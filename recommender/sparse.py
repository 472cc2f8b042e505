"""Small helpers on scipy CSR matrices that more than one part of the library needs."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix


def l2_normalised_rows(matrix: csr_matrix) -> csr_matrix:
    """A float32 copy of matrix whose non-empty rows have unit L2 norm."""
    matrix = csr_matrix(matrix, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    matrix.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(matrix.indptr)).astype(
        np.float32
    )
    return matrix


def gather_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the given rows' entries in a CSR matrix's indices and data, and the
    position in rows each entry belongs to."""
    starts = indptr[rows]
    lengths = indptr[np.asarray(rows) + 1] - starts
    owner = np.repeat(np.arange(len(lengths)), lengths)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.arange(int(lengths.sum())) + offsets, owner
