"""Plain NumPy references for every kernel in :mod:`mdps._kernels` (used by the tests)."""

from __future__ import annotations

import numpy as np


def greedy_max(PV, R, gamma):
    Q = R + gamma * PV.reshape(R.shape)
    return Q.max(axis=1), Q.argmax(axis=1)


def csr_matvec(indptr, indices, data, V):
    out = np.zeros(indptr.shape[0] - 1)
    for r in range(out.shape[0]):
        sl = slice(indptr[r], indptr[r + 1])
        out[r] = np.dot(data[sl], V[indices[sl]])
    return out


def csr_bellman_max(indptr, indices, data, R, V, gamma):
    return greedy_max(csr_matvec(indptr, indices, data, V), R, gamma)
