"""Instances shared by the Nash test modules (one definition, imported by each)."""

from __future__ import annotations

import numpy as np

from mdps.preference_generators import uniform_tournament


def norm(w):
    """Normalise along the last axis."""
    return w / w.sum(axis=-1, keepdims=True)


def seeded_game(seed, K, *, random_ref=True):
    """A uniform tournament with ``K`` responses and (by default) a Dirichlet(2) reference, from one seed."""
    rng = np.random.default_rng(seed)
    ref = rng.dirichlet(np.ones(K) * 2.0) if random_ref else None
    return uniform_tournament(K, rng=rng, ref=ref)
