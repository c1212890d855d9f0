"""Bellman backups on either transition layout, behind one signature.

These are the only functions solvers call to apply ``P``: the dense layout does one BLAS
matrix-vector product over the ``(S*A, S)`` view (streaming ``P`` once, the memory-bandwidth
bound) followed by a compiled per-state max; the sparse layout runs a fused compiled CSR pass.
Inputs are trusted (validated by :class:`mdps.TabularMDP`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mdps import _kernels

__all__ = ["apply_P", "q_values", "bellman_max", "policy_backup", "PARALLEL_MIN_NNZ"]

#: Sparse kernels run their parallel (``prange``) loop from this many stored entries on, and
#: their serial twin below it: a parallel region costs about a millisecond to launch on two
#: cores, the time of a serial pass over ~1e6 entries. Both loops give the same bits.
PARALLEL_MIN_NNZ = 1 << 20


def _parallel(P2) -> bool:
    return P2.nnz >= PARALLEL_MIN_NNZ


def apply_P(P2, V: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``(P @ V)`` as a flat ``(S*A,)`` array, for a dense ``(S*A, S)`` array or a CSR matrix."""
    if out is None:
        out = np.empty(P2.shape[0])
    if sp.issparse(P2):
        kernel = _kernels.csr_matvec if _parallel(P2) else _kernels.csr_matvec_serial
        kernel(P2.indptr, P2.indices, P2.data, V, out)
    else:
        np.dot(P2, V, out=out)
    return out


def q_values(P2, R: np.ndarray, V: np.ndarray, gamma: float, feasible=None) -> np.ndarray:
    """``Q[s, a] = R[s, a] + gamma * sum_s' P[s, a, s'] V[s']``, shape ``(S, A)``.

    With a mask ``feasible`` (bool ``(S, A)``), ``Q`` is set to ``-inf`` at the infeasible pairs
    (an explicit assignment, never ``-inf`` arithmetic), so ``max``/``argmax`` see feasible
    actions only.
    """
    PV = apply_P(P2, V)
    Q = R + gamma * PV.reshape(R.shape)
    if feasible is not None:
        Q[~feasible] = -np.inf
    return Q


def bellman_max(P2, R, V, gamma, V_out=None, sigma_out=None, work=None, feasible=None):
    """One Bellman optimality backup ``T V`` and its greedy policy (ties to the lowest action).

    ``work`` is an optional ``(S*A,)`` scratch buffer for the dense product; ``feasible`` an
    optional bool ``(S, A)`` mask (the max runs over feasible actions). Returns
    ``(V_out, sigma_out)``.
    """
    S = R.shape[0]
    if V_out is None:
        V_out = np.empty(S)
    if sigma_out is None:
        sigma_out = np.empty(S, dtype=np.int64)
    if sp.issparse(P2):
        kernel = _kernels.csr_bellman_max if _parallel(P2) else _kernels.csr_bellman_max_serial
        kernel(P2.indptr, P2.indices, P2.data, R, V, float(gamma), V_out, sigma_out, feasible)
    else:
        PV = apply_P(P2, V, work)
        _kernels.greedy_max(PV, R, float(gamma), V_out, sigma_out, feasible)
    return V_out, sigma_out


def policy_backup(P2, R, V, sigma, gamma, out=None):
    """``T^sigma V``: ``out[s] = R[s, sigma[s]] + gamma * P[s, sigma[s], :] @ V`` for a
    deterministic policy ``sigma`` (int64, shape ``(S,)``), on either layout. Returns ``out``."""
    if out is None:
        out = np.empty(R.shape[0])
    if sp.issparse(P2):
        kernel = _kernels.csr_policy_backup if _parallel(P2) else _kernels.csr_policy_backup_serial
        kernel(P2.indptr, P2.indices, P2.data, R, V, sigma, float(gamma), out)
    else:
        _kernels.dense_policy_backup(P2, R, V, sigma, float(gamma), out)
    return out
