"""The ``ml`` table: a linear regression with known coefficients.

N rows of 16 float64 features ``x01`` … ``x16`` and a target ``y``:

    X = Z L,    y = X beta + intercept + noise,

Z iid standard normal, noise iid normal with standard deviation ``NOISE_SIGMA``. L is fixed
by the seed: U diag(s) V^T with U, V random orthogonal matrices and singular values s from 10
down to 0.1, a constant ratio of 1.36 apart (well separated, condition number 100), so the
features are correlated but the least-squares problem stays well posed. beta ~ N(0, 1) and
intercept ~ U(-5, 5), from the seed. L, s, beta, intercept and the noise sigma are in the
manifest (``table_metadata``), so a fit can be checked against the truth.

X is computed per chunk with a BLAS matrix product: its bytes are the same for any number of
processes, and across machines only where the BLAS kernels round alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array
from datagen.dataset import DatasetSpec
from datagen.features import (
    FEATURES,
    NAMES,
    as_lists,
    feature_arrays,
    feature_fields,
    orthogonal,
    plain,
    product,
)
from datagen.table import CHUNK_STREAM, PLAN_STREAM, Encoding, RowsTable, Span, rng

NAME = "ml"
NOISE_SIGMA = 0.5
SINGULAR_VALUES = 10.0 ** np.linspace(1, -1, FEATURES)
SCHEMA = pa.schema([*feature_fields(), ("y", pa.float64())])


@dataclass(frozen=True, eq=False)
class Model:
    mixing: np.ndarray  # L, 16 x 16
    beta: np.ndarray
    intercept: float


@lru_cache(maxsize=4)
def model(seed: int) -> Model:
    draw = rng(seed, PLAN_STREAM)
    left, right = orthogonal(draw, FEATURES), orthogonal(draw, FEATURES)
    mixing = product(left * SINGULAR_VALUES, right.T)
    beta = draw.standard_normal(FEATURES)
    return Model(mixing, beta, float(draw.uniform(-5, 5)))


class MlTable(RowsTable):
    """The ``ml`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        return SCHEMA

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        return plain(SCHEMA.names)

    def build_chunk(self, spec: DatasetSpec, chunk: Span) -> pa.Table:
        truth = model(spec.seed)
        draw = rng(spec.seed, CHUNK_STREAM, chunk.index)
        features = truth.mixing.T @ draw.standard_normal((FEATURES, chunk.rows))  # X^T = L^T Z^T
        target = truth.beta @ features
        target += truth.intercept
        target += NOISE_SIGMA * draw.standard_normal(chunk.rows)
        return pa.Table.from_arrays([*feature_arrays(features), arrow_array(target)], schema=SCHEMA)

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        truth = model(spec.seed)
        return {
            "features": list(NAMES),
            "target": "y",
            "mixing_matrix": as_lists(truth.mixing),
            "singular_values": as_lists(SINGULAR_VALUES),
            "beta": as_lists(truth.beta),
            "intercept": truth.intercept,
            "noise_sigma": NOISE_SIGMA,
        }


TABLE = MlTable()
