"""Instances and exact distances shared by the Nash-learning checks.

Games come from :mod:`mdps` (random tournaments, rock-paper-scissors, cycles), references are
``softmax(N(0, 4 I))`` (non-uniform with full support, docs/theory/nash.md, section 'KL conventions'), and every
distance is computed here from the iterates an algorithm returned, never read from the
algorithm: ``KL(pi*, pi_t)`` with the exact equilibrium first.
"""

from __future__ import annotations

import numpy as np

import mdps
from mdps import preference_generators as pg

#: float64 KL bottoms out near 1e-15 (docs/theory/nash.md, section 'Numerical floor'): rates are read above this floor.
KL_FLOOR = 1e-12


def game(kind: str, K: int, rng):
    """A preference game of a named kind: ``"tournament"`` (uniform random), ``"rps"``, ``"cycle"``."""
    if kind == "tournament":
        return pg.uniform_tournament(K, rng=rng)
    if kind == "rps":
        return pg.rock_paper_scissors(1.0)
    if kind == "cycle":
        return pg.cycle(K, 0.9)
    raise ValueError(f"unknown game kind {kind!r}")


def random_ref(K: int, rng) -> np.ndarray:
    """``mu = softmax(N(0, 4 I))``: a non-uniform, full-support reference."""
    return mdps.softmax(2.0 * rng.standard_normal(K))


def kl_path(pi_star, policies) -> np.ndarray:
    """``KL(pi*, pi_t)`` for every iterate ``t``; round-off negatives (about 1e-16) clipped to 0,
    so an exact fixed point gives 0, never a negative number a log fit would choke on."""
    return np.maximum(mdps.kl(np.asarray(pi_star)[None, :], policies), 0.0)
