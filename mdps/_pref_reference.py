"""Plain NumPy references for every kernel in :mod:`mdps._pref_kernels` (used by the tests)."""

from __future__ import annotations



def duel_outcomes(Pref, ctx, i, j, u, noise):
    a = 1.0 - 2.0 * noise
    return u < a * Pref[ctx, i, j] + noise
