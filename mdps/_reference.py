"""Plain NumPy references for every kernel in :mod:`mdps._kernels` (used by the tests).

The serial twins of the sparse kernels (``csr_matvec_serial``, ``csr_bellman_max_serial``,
``csr_policy_backup_serial``) share these references: the tests check them bit for bit against
the parallel kernels, which are checked against the functions below.
"""

from __future__ import annotations

import numpy as np


def greedy_max(PV, R, gamma, feasible=None):
    Q = R + gamma * PV.reshape(R.shape)
    if feasible is not None:
        Q = np.where(feasible, Q, -np.inf)
    return Q.max(axis=1), Q.argmax(axis=1)


def csr_matvec(indptr, indices, data, V):
    out = np.zeros(indptr.shape[0] - 1)
    for r in range(out.shape[0]):
        sl = slice(indptr[r], indptr[r + 1])
        out[r] = np.dot(data[sl], V[indices[sl]])
    return out


def csr_bellman_max(indptr, indices, data, R, V, gamma, feasible=None):
    return greedy_max(csr_matvec(indptr, indices, data, V), R, gamma, feasible)


def dense_policy_backup(P2, R, V, sigma, gamma):
    S, A = R.shape
    rows = np.arange(S) * A + sigma
    return R[np.arange(S), sigma] + gamma * (P2[rows] @ V)


def csr_policy_backup(indptr, indices, data, R, V, sigma, gamma):
    S, A = R.shape
    PV = csr_matvec(indptr, indices, data, V)
    return R[np.arange(S), sigma] + gamma * PV[np.arange(S) * A + sigma]


def csr_policy_sweeps(indptr, indices, data, R, V, sigma, gamma, n_sweeps):
    V = np.array(V, dtype=np.float64)
    for _ in range(n_sweeps):
        V = csr_policy_backup(indptr, indices, data, R, V, sigma, gamma)
    return V


def sup_diff(x, y):
    return float(np.abs(np.asarray(x) - np.asarray(y)).max()) if len(x) else 0.0


def diff_range(x, y):
    if len(x) == 0:
        return 0.0, 0.0
    d = np.asarray(x) - np.asarray(y)
    return float(d.min()), float(d.max())
