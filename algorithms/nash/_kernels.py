"""Numba kernels for :mod:`algorithms.nash` (the fused geometric prox step).

Small loop-based pure functions writing into caller-provided arrays; ``cache=True``, no
``fastmath`` (these kernels check theorems). The plain NumPy reference is
:func:`algorithms.nash._prox._geometric_numpy`; a Hypothesis test checks they agree. Debug with
``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def geometric_normalize(a, log_p, b, log_anchor, c, v, z_out, pi_out):
    """Row-wise ``z = a log_p + b log_anchor + c v``; write ``z - logsumexp(z)`` into ``z_out``
    and ``softmax(z)`` into ``pi_out`` (all arrays ``(X, K)``; ``log_p``/``log_anchor``/``v``
    are read only when ``a != 0`` / ``b != 0`` / ``c != 0``)."""
    X, K = log_p.shape
    for x in range(X):
        m = -np.inf
        for y in range(K):
            zz = 0.0
            if a != 0.0:  # pi^0 = 1 even where pi = 0 (log_p = -inf): no 0 * inf
                zz = a * log_p[x, y]
            if b != 0.0:
                zz += b * log_anchor[x, y]
            if c != 0.0:
                zz += c * v[x, y]
            z_out[x, y] = zz
            if zz > m:
                m = zz
        s = 0.0
        for y in range(K):
            e = np.exp(z_out[x, y] - m)
            pi_out[x, y] = e
            s += e
        ls = np.log(s)
        for y in range(K):
            pi_out[x, y] /= s
            z_out[x, y] -= m + ls
