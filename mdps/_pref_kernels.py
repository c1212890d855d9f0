"""Numba kernels of the preference games (:mod:`mdps.preference`).

Sampling uses pre-drawn uniforms: the caller draws them with its own
:class:`numpy.random.Generator` (no Numba RNG, so outcomes do not depend on the backend) and
the kernels only compare. Small loop kernels, ``cache=True``, no ``fastmath``, results written
into caller arrays, inputs trusted (validated in :mod:`mdps.preference`). Plain NumPy twins
live in :mod:`mdps._pref_reference`; the tests check they agree exactly.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True)
def duel_outcomes(Pref, ctx, i, j, u, noise, out):
    """Bernoulli duels: ``out[n] = u[n] < (1 - 2 noise) * Pref[ctx[n], i[n], j[n]] + noise``.

    ``Pref`` is ``(X, K, K)``; ``ctx``, ``i``, ``j`` are int arrays and ``u`` uniforms on
    ``[0, 1)``, all of length ``n``. ``out[n]`` is True when ``y_i`` wins. With ``noise = eps``
    the success probability is ``(1 - 2 eps) p + eps``, the law of a clean ``Bern(p)`` duel
    whose outcome is flipped with probability ``eps``.
    """
    a = 1.0 - 2.0 * noise
    for n in range(u.shape[0]):
        p = Pref[ctx[n], i[n], j[n]]
        out[n] = u[n] < a * p + noise
