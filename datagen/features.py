"""What the ``ml`` and ``blobs`` tables share: 16 float64 feature columns drawn chunk-wise.

Fixed matrices (the mixing matrix, centres) are built from the seed with elementwise numpy
only, no LAPACK, so they are the same on every machine. Each chunk is drawn feature-major
(16 rows of a chunk's length), so every feature column is one contiguous array handed to
Arrow without a copy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array
from datagen.table import Encoding

FEATURES = 16
NAMES = tuple(f"x{number:02d}" for number in range(1, FEATURES + 1))


def feature_fields() -> list[tuple[str, pa.DataType]]:
    return [(name, pa.float64()) for name in NAMES]


def plain(names: list[str]) -> dict[str, Encoding]:
    """Continuous values: no dictionary would ever pay."""
    return dict.fromkeys(names, "plain")


def feature_arrays(features: np.ndarray) -> list[pa.Array]:
    """One Arrow array per row of a (16, rows) feature-major block."""
    return [arrow_array(column) for column in features]


def product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left @ right`` for small matrices, by elementwise products and numpy's sums, so the
    result does not depend on the machine's BLAS."""
    return (left[:, :, None] * right[None, :, :]).sum(axis=1)


def orthogonal(draw: np.random.Generator, size: int) -> np.ndarray:
    """A random orthogonal matrix: a product of ``size`` Householder reflections."""
    matrix = np.eye(size)
    for _ in range(size):
        normal = draw.standard_normal(size)
        normal /= np.sqrt((normal * normal).sum())
        matrix = matrix - 2 * np.outer(product(matrix, normal[:, None])[:, 0], normal)
    return matrix


def as_lists(matrix: np.ndarray) -> list:
    """A matrix or vector as JSON lists of floats (which round-trip exactly)."""
    return matrix.tolist()
