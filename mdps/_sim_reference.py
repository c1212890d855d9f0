"""Plain NumPy references for :mod:`mdps._sim_kernels` (used by the tests).

They work on the dense arrays directly (``np.cumsum`` + ``np.searchsorted``), not on the CSR
CDF tables, so agreement with the kernels also checks the table construction. Cumulative sums
are sequential in both, and adding an exact zero leaves a running sum unchanged, so the
dense and compact tables hold identical numbers at the positive entries.
"""

from __future__ import annotations

import numpy as np


def row_cumsum(indptr, data):
    out = np.empty_like(data)
    for r in range(indptr.shape[0] - 1):
        sl = slice(indptr[r], indptr[r + 1])
        out[sl] = np.cumsum(data[sl])
    return out


def sample(p, u):
    """Inverse-CDF sample of the dense probability vector ``p`` for the uniform ``u``."""
    i = int(np.searchsorted(np.cumsum(p), u, side="right"))
    if i >= p.shape[0]:
        i = int(np.flatnonzero(p > 0)[-1])
    return i


def rollout(P, pi, rho, R, u):
    """Reference rollouts.

    ``P`` dense ``(HP, S, A, S)``, ``pi`` ``(Hpi, S, A)``, ``rho`` ``(S,)``, ``R``
    ``(HR, S, A)`` (leading axes 1 or ``H``), ``u`` ``(K, 1 + 2H)`` as in the kernel.
    """
    K = u.shape[0]
    H = (u.shape[1] - 1) // 2
    states = np.empty((K, H + 1), dtype=np.int64)
    actions = np.empty((K, H), dtype=np.int64)
    rewards = np.empty((K, H))
    for k in range(K):
        s = sample(rho, u[k, 0])
        states[k, 0] = s
        for h in range(H):
            a = sample(pi[h if pi.shape[0] > 1 else 0, s], u[k, 1 + 2 * h])
            actions[k, h] = a
            rewards[k, h] = R[h if R.shape[0] > 1 else 0, s, a]
            s = sample(P[h if P.shape[0] > 1 else 0, s, a], u[k, 2 + 2 * h])
            states[k, h + 1] = s
    return states, actions, rewards
