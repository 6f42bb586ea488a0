"""The ``blobs`` table: 16-dimensional Gaussian clusters with known centres, for k-means.

N rows of 16 float64 features ``x01`` … ``x16`` and the true cluster ``label`` (int32,
0 … 7, uniform). A row is its centre plus iid normal noise of standard deviation ``SIGMA``
in every feature. The 8 centres are drawn from the seed, N(0, (3 sigma)^2) in each feature,
and drawn again until every two are at least ``MIN_SEPARATION`` = 10 sigma apart, so the
clusters do not overlap (a row is nearer another centre with probability about 3e-7).
k-means starts from fixed initial centres: each true centre moved 3 sigma in a random
direction, so every engine starts from the same point and converges to the same answer.
Both 8 x 16 matrices are in the manifest (``table_metadata``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np
import pyarrow as pa

from datagen.columns import arrow_array
from datagen.dataset import DatasetSpec
from datagen.features import FEATURES, NAMES, as_lists, feature_arrays, feature_fields, plain
from datagen.table import CHUNK_STREAM, PLAN_STREAM, Encoding, RowsTable, Span, rng

NAME = "blobs"
CENTRES = 8
SIGMA = 1.0
SPREAD = 3.0  # sigma of the centres' coordinates, in units of SIGMA
MIN_SEPARATION = 10.0  # in units of SIGMA
INITIAL_OFFSET = 3.0  # how far each initial centre is from its true centre, in units of SIGMA
SCHEMA = pa.schema([*feature_fields(), ("label", pa.int32())])


@dataclass(frozen=True, eq=False)
class Clusters:
    centres: np.ndarray  # 8 x 16
    initial: np.ndarray  # 8 x 16


def separation(centres: np.ndarray) -> float:
    """The smallest distance between two centres."""
    return min(
        float(np.sqrt(((centres[a] - centres[b]) ** 2).sum()))
        for a, b in combinations(range(len(centres)), 2)
    )


@lru_cache(maxsize=4)
def clusters(seed: int) -> Clusters:
    draw = rng(seed, PLAN_STREAM)
    while True:
        centres = SPREAD * SIGMA * draw.standard_normal((CENTRES, FEATURES))
        if separation(centres) >= MIN_SEPARATION * SIGMA:
            break
    directions = draw.standard_normal((CENTRES, FEATURES))
    directions /= np.sqrt((directions * directions).sum(axis=1, keepdims=True))
    return Clusters(centres, centres + INITIAL_OFFSET * SIGMA * directions)


class BlobsTable(RowsTable):
    """The ``blobs`` table as a :class:`datagen.table.TableGenerator`."""

    name = NAME

    def schema(self, spec: DatasetSpec) -> pa.Schema:
        return SCHEMA

    def encodings(self, spec: DatasetSpec) -> dict[str, Encoding]:
        return {**plain(list(NAMES)), "label": "dictionary"}  # 8 values

    def build_chunk(self, spec: DatasetSpec, chunk: Span) -> pa.Table:
        draw = rng(spec.seed, CHUNK_STREAM, chunk.index)
        label = draw.integers(0, CENTRES, chunk.rows, dtype=np.int32)
        features = draw.standard_normal((FEATURES, chunk.rows))
        features *= SIGMA
        features += clusters(spec.seed).centres.T.take(label, axis=1)
        return pa.Table.from_arrays([*feature_arrays(features), arrow_array(label)], schema=SCHEMA)

    def metadata(self, spec: DatasetSpec) -> dict[str, Any]:
        truth = clusters(spec.seed)
        return {
            "features": list(NAMES),
            "label": "label",
            "sigma": SIGMA,
            "centres": as_lists(truth.centres),
            "initial_centres": as_lists(truth.initial),
            "min_separation": separation(truth.centres),
        }


TABLE = BlobsTable()
