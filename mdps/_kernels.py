"""Numba kernels for the tabular engines.

Small, loop-based, pure functions: arrays and scalars in, results written into arrays the
caller passes. No globals, ``cache=True``, no ``fastmath`` (these kernels check theorems).
Each kernel has a plain NumPy reference in :mod:`mdps._reference`; Hypothesis tests check
they agree. Debug with ``NUMBA_DISABLE_JIT=1``.

Layouts: a dense kernel sees the ``(S*A, S)`` view of ``P[s, a, s']``, so row ``s*A + a``;
a sparse kernel sees the same matrix as CSR arrays ``(indptr, indices, data)``.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def greedy_max(PV, R, gamma, V_out, sigma_out, feasible=None):
    """``Q = R + gamma * PV`` (PV the ``(S*A,)`` product ``P @ V``); write ``max_a Q`` and the
    lowest maximising action into ``V_out`` and ``sigma_out``.

    ``feasible`` (bool ``(S, A)``, optional): the max runs over the feasible actions only (every
    state has one); ``None`` compiles a specialisation without the test (Numba prunes the
    ``is None`` branch), so the feasible-everywhere path is unchanged.
    """
    S, A = R.shape
    for s in range(S):
        a0 = 0
        if feasible is not None:
            while not feasible[s, a0]:  # the first feasible action (every state has one)
                a0 += 1
        best = R[s, a0] + gamma * PV[s * A + a0]
        arg = a0
        for a in range(a0 + 1, A):
            if feasible is not None:
                if not feasible[s, a]:
                    continue
            q = R[s, a] + gamma * PV[s * A + a]
            if q > best:
                best = q
                arg = a
        V_out[s] = best
        sigma_out[s] = arg


# -- sparse kernels ----------------------------------------------------------------------------
# Each sparse kernel comes as a parallel loop (``prange``, for large matrices) and a serial loop
# (for small ones: launching a parallel region costs ~1 ms on two cores, a thousand times a
# 3-state backup). Both loops call the same per-row helper, so they return the same bits.

@nb.njit(cache=True)
def csr_row_dot(indptr, indices, data, r, V):
    """``P[r, :] @ V`` for row ``r`` of a CSR matrix, summed in storage order (the one order
    every sparse kernel below uses, so that they agree bit for bit)."""
    acc = 0.0
    for k in range(indptr[r], indptr[r + 1]):
        acc += data[k] * V[indices[k]]
    return acc


@nb.njit(cache=True)
def csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible=None):
    """``(max_a Q[s, a], lowest maximiser)`` with ``Q[s, a] = R[s, a] + gamma * P[s, a, :] @ V``,
    over the actions with ``feasible[s, a]`` when a mask is given (as in :func:`greedy_max`)."""
    A = R.shape[1]
    best = -np.inf
    arg = 0
    if feasible is not None:
        while not feasible[s, arg]:  # default to the first feasible action (every state has one)
            arg += 1
    for a in range(A):
        if feasible is not None:
            if not feasible[s, a]:
                continue
        q = R[s, a] + gamma * csr_row_dot(indptr, indices, data, s * A + a, V)
        if q > best:
            best = q
            arg = a
    return best, arg


@nb.njit(cache=True, parallel=True)
def csr_matvec(indptr, indices, data, V, out):
    """``out = P @ V`` for a CSR matrix (one row per state-action pair)."""
    for r in nb.prange(indptr.shape[0] - 1):
        out[r] = csr_row_dot(indptr, indices, data, r, V)


@nb.njit(cache=True)
def csr_matvec_serial(indptr, indices, data, V, out):
    """Serial twin of :func:`csr_matvec` (same bits)."""
    for r in range(indptr.shape[0] - 1):
        out[r] = csr_row_dot(indptr, indices, data, r, V)


@nb.njit(cache=True, parallel=True)
def csr_bellman_max(indptr, indices, data, R, V, gamma, V_out, sigma_out, feasible=None):
    """Fused sparse Bellman optimality backup: ``V_out[s] = max_a R[s,a] + gamma * P[s,a,:] @ V``
    (max over ``feasible[s, :]`` when a mask is given)."""
    for s in nb.prange(R.shape[0]):
        V_out[s], sigma_out[s] = csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible)


@nb.njit(cache=True)
def csr_bellman_max_serial(indptr, indices, data, R, V, gamma, V_out, sigma_out, feasible=None):
    """Serial twin of :func:`csr_bellman_max` (same bits)."""
    for s in range(R.shape[0]):
        V_out[s], sigma_out[s] = csr_bellman_row(indptr, indices, data, R, V, gamma, s, feasible)


@nb.njit(cache=True)
def dense_policy_backup(P2, R, V, sigma, gamma, out):
    """``out[s] = R[s, sigma[s]] + gamma * P[s, sigma[s], :] @ V`` for a deterministic ``sigma``.

    Gathers row ``s*A + sigma[s]`` of the dense ``(S*A, S)`` view: ``O(S^2)`` per call, a
    fraction ``1/A`` of a full backup.
    """
    S, A = R.shape
    n = V.shape[0]
    for s in range(S):
        r = s * A + sigma[s]
        acc = 0.0
        for t in range(n):
            acc += P2[r, t] * V[t]
        out[s] = R[s, sigma[s]] + gamma * acc


@nb.njit(cache=True, parallel=True)
def csr_policy_backup(indptr, indices, data, R, V, sigma, gamma, out):
    """Sparse twin of :func:`dense_policy_backup`: one CSR row per state, ``O(nnz / A)``."""
    S, A = R.shape
    for s in nb.prange(S):
        out[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)


@nb.njit(cache=True)
def csr_policy_backup_serial(indptr, indices, data, R, V, sigma, gamma, out):
    """Serial twin of :func:`csr_policy_backup` (same bits)."""
    S, A = R.shape
    for s in range(S):
        out[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)


@nb.njit(cache=True)
def csr_policy_sweeps(indptr, indices, data, R, V, sigma, gamma, n_sweeps, work):
    """``V <- (T^sigma)^n_sweeps V`` in place (``work``: scratch of shape ``(S,)``).

    The same arithmetic as ``n_sweeps`` calls of :func:`csr_policy_backup`, hence the same bits,
    without a Python call per sweep (modified policy iteration's ``m - 1`` evaluation sweeps).
    """
    S, A = R.shape
    for _ in range(n_sweeps):
        for s in range(S):
            work[s] = R[s, sigma[s]] + gamma * csr_row_dot(indptr, indices, data, s * A + sigma[s], V)
        for s in range(S):
            V[s] = work[s]


@nb.njit(cache=True)
def sup_diff(x, y):
    """``||x - y||_inf`` without allocating (0 for empty vectors)."""
    m = 0.0
    for i in range(x.shape[0]):
        d = abs(x[i] - y[i])
        if d > m:
            m = d
    return m


@nb.njit(cache=True)
def diff_range(x, y):
    """``(min(x - y), max(x - y))`` without allocating (``(0, 0)`` for empty vectors)."""
    if x.shape[0] == 0:
        return 0.0, 0.0
    lo = hi = x[0] - y[0]
    for i in range(1, x.shape[0]):
        d = x[i] - y[i]
        if d < lo:
            lo = d
        elif d > hi:
            hi = d
    return lo, hi
