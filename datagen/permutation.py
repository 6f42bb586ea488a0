"""Seeded permutations of 0 … n - 1 that are computed element by element, in O(1) memory.

Unique keys at 1e8+ rows cannot come from ``np.random.permutation`` of the whole range (one
process would hold all of it, and every chunk would need it). A permutation ``p`` instead
maps any position to its image on demand: a chunk of rows ``i … j`` computes ``p(i) … p(j)``
and the chunks together cover every value exactly once.

``p`` is a bijective integer hash over the ``b``-bit integers, ``2**(b-1) < n <= 2**b``,
restricted to ``0 … n - 1`` by cycle walking (an image of n or more is hashed again until it
falls in range; as the hash is a bijection the walk ends, and the restriction is a bijection
too). Each of three rounds xors a seeded constant, multiplies by a seeded odd number modulo
``2**b`` and xors the value with itself shifted right by half its width, all invertible
steps. At least half the ``b``-bit integers lie in range, so a walk takes two hashes on
average.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 3
BLOCK = 1 << 14  # elements per pass, so the rounds' temporaries stay in the CPU cache


class Permutation:
    """A seeded bijection of ``0 … size - 1``, as a vectorised function."""

    def __init__(self, size: int, draw: np.random.Generator) -> None:
        if size < 1:
            raise ValueError(f"a permutation needs at least one element, not {size}")
        self.size = size
        bits = max(1, (size - 1).bit_length())
        self.dtype = np.uint32 if bits <= 32 else np.uint64
        self.mask = self.dtype((1 << bits) - 1)
        self.shift = self.dtype((bits + 1) // 2)
        self.rounds = [
            (self.dtype(draw.integers(0, 1 << bits)), self.dtype(draw.integers(0, 1 << bits) | 1))
            for _ in range(ROUNDS)
        ]

    def _hash(self, values: np.ndarray) -> None:
        """Hash ``values`` in place (multiplication wraps modulo the dtype's width)."""
        scratch = np.empty_like(values)
        for constant, multiplier in self.rounds:
            values ^= constant
            values *= multiplier
            values &= self.mask
            np.right_shift(values, self.shift, out=scratch)
            values ^= scratch

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """The images of ``positions`` (each in 0 … size - 1), as int64."""
        out = positions.astype(self.dtype)
        limit = self.dtype(self.size)
        for start in range(0, len(out), BLOCK):
            block = out[start : start + BLOCK]
            self._hash(block)
            outside = np.flatnonzero(block >= limit)
            while outside.size:
                walked = block[outside]
                self._hash(walked)
                block[outside] = walked
                outside = outside[walked >= limit]
        return out.astype(np.int64)
