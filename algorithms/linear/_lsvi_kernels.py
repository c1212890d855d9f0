r"""Numba kernels of LSVI-UCB (:mod:`algorithms.linear.lsvi`).

One call of :func:`run_batch` runs ``n`` independent runs of ``K`` episodes on a finite-state
linear MDP, one run per ``prange`` step, each with its own SplitMix64 stream
(:mod:`algorithms.exploration._kernels`), so a run is the same bit for bit whatever the batch.

Statistics of a run, per stage ``h``: the inverse Gram matrix :math:`\Lambda_h^{-1}` (rank-one
Sherman-Morrison updates; :math:`\Lambda_h = \lambda I + \sum_\tau \phi_\tau\phi_\tau^\top`, kept too,
so that at every :math:`2^j`-th update of a stage the inverse is recomputed exactly and round-off
cannot accumulate), the squared width :math:`\|\phi(s,a)\|^2_{\Lambda_h^{-1}}` of every pair, which
the same correction updates in ``O(S A d)`` per step
(:math:`\|q\|^2 \mathrel{-}= (q^\top z)^2 / (1 + \phi^\top z)`, :math:`z = \Lambda_h^{-1}\phi`), the
reward moment :math:`\sum_\tau \phi_\tau r_\tau` and the next-state moment matrix
:math:`M_h[:, s'] = \sum_{\tau: s'_\tau = s'} \phi_\tau`. Because the state space is finite,
:math:`\sum_\tau \phi_\tau V_{h+1}(s'_\tau) = M_h V_{h+1}`, so the regression target costs
``O(d S)`` per stage and episode instead of ``O(k d)``: the least-squares weights are exactly
those of the paper's sum over all past episodes.

The statistics are kept by small compiled pieces shared with demonstration-regularised LSVI
(:mod:`algorithms.linear._demo_kernels`): :func:`init_stats`, :func:`regression`,
:func:`optimistic_q` and :func:`observe` (the rank-one update); :func:`run_batch` is their
composition with the greedy backup, bit-identical to the single-kernel version it replaced.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import evaluate_deterministic, uniform


@nb.njit(cache=True)
def _sample(cdf_row, u):
    n = cdf_row.shape[0]
    for j in range(n):
        if u < cdf_row[j]:
            return j
    return n - 1


@nb.njit(cache=True)
def _quad(M, x):
    """``x^T M x`` without temporaries (the width of one feature vector)."""
    acc = 0.0
    for p in range(x.shape[0]):
        row = 0.0
        for q in range(x.shape[0]):
            row += M[p, q] * x[q]
        acc += x[p] * row
    return acc


@nb.njit(cache=True)
def init_stats(phi, lam, H):
    r"""Fresh per-stage statistics: :math:`\Lambda_h^{-1} = I/\lambda`, :math:`\Lambda_h = \lambda I`,
    the squared widths ``W2 (H, S, A)``, the reward moment ``racc (H, d)``, the next-state moment
    ``M (H, d, S)`` and the update counters ``n_upd (H,)``."""
    S, A, d = phi.shape
    Linv = np.zeros((H, d, d))
    for h in range(H):
        for p in range(d):
            Linv[h, p, p] = 1.0 / lam
    Lam = np.zeros((H, d, d))
    W2 = np.empty((H, S, A))  # squared widths ||phi(s, a)||^2 of every pair, per stage
    n_upd = np.zeros(H, dtype=np.int64)
    for h in range(H):
        for p in range(d):
            Lam[h, p, p] = lam
        for s in range(S):
            for a in range(A):
                W2[h, s, a] = _quad(Linv[h], phi[s, a])
    racc = np.zeros((H, d))
    M = np.zeros((H, d, S))
    return Linv, Lam, W2, racc, M, n_upd


@nb.njit(cache=True)
def regression(Linv_h, racc_h, M_h, Vn):
    r"""The ridge weights :math:`w_h = \Lambda_h^{-1}(\sum_\tau \phi_\tau r_\tau + M_h V_{h+1})`."""
    target = racc_h + M_h @ Vn
    return Linv_h @ target


@nb.njit(cache=True)
def optimistic_q(f, w, beta, w2, cap):
    r""":math:`\min(\phi^\top w + \beta \|\phi\|_{\Lambda^{-1}}, \mathrm{cap})` from the squared width ``w2``."""
    q = f @ w + beta * math.sqrt(max(w2, 0.0))
    if q > cap:
        q = cap
    return q


@nb.njit(cache=True)
def observe(h, f, r, s2, phi, Linv, Lam, W2, racc, M, n_upd):
    r"""Add one transition ``(phi = f, r, s')`` at stage ``h``: Sherman-Morrison on
    :math:`\Lambda_h^{-1}` and every squared width, exact re-inversion at the :math:`2^j`-th update."""
    S, A, d = phi.shape
    z = Linv[h] @ f
    den = 1.0 + f @ z
    for p in range(d):
        for q in range(d):
            Linv[h, p, q] -= z[p] * z[q] / den
            Lam[h, p, q] += f[p] * f[q]
        racc[h, p] += f[p] * r
        M[h, p, s2] += f[p]
    n_upd[h] += 1
    if n_upd[h] & (n_upd[h] - 1) == 0:  # at 2^j updates: exact inverse and widths (no drift)
        Linv[h] = np.linalg.inv(Lam[h])
        for s3 in range(S):
            for a3 in range(A):
                W2[h, s3, a3] = _quad(Linv[h], phi[s3, a3])
    else:  # the same rank-one correction for every pair: O(S A d)
        for s3 in range(S):
            for a3 in range(A):
                qz = phi[s3, a3] @ z
                W2[h, s3, a3] -= qz * qz / den


@nb.njit(cache=True, parallel=True)
def run_batch(seeds, phi, P_cdf, p_indptr, p_indices, p_probs, R, rho, rho_cdf, K, lam, beta, cap,
              values, returns, optimistic, policies, states, actions):
    r"""``seeds.shape[0]`` runs of LSVI-UCB for ``K`` episodes.

    ``phi`` ``(S, A, d)``; ``P_cdf`` ``(H, S, A, S)`` running sums of the true kernel (sampling);
    the CSR triple (exact evaluation, stage-dependent layout ``(h * S + s) * A + a``); ``R``
    ``(H, S, A)`` known rewards. Per episode: backward pass
    :math:`w_h = \Lambda_h^{-1}(\sum\phi r + M_h V_{h+1})`,
    :math:`Q_h = \min(\phi^\top w_h + \beta\|\phi\|_{\Lambda_h^{-1}}, \mathrm{cap})`, greedy policy
    (first maximiser), then one episode. Writes the exact value of the played policy, the realised
    return, the plan's own optimistic value :math:`\rho^\top V_0`, and (when the arrays have room)
    the policies, the visited states and the actions.
    """
    S, A, d = phi.shape
    H = R.shape[0]
    keep_pol = policies.shape[1] == K
    keep_traj = states.shape[1] == K
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        Linv, Lam, W2, racc, M, n_upd = init_stats(phi, lam, H)
        pi = np.zeros((H, S), dtype=np.int64)
        Vn = np.zeros(S)
        Vh = np.zeros(S)
        work = np.zeros((H + 1, S))
        for k in range(K):
            for s in range(S):
                Vn[s] = 0.0
            for h in range(H - 1, -1, -1):
                w = regression(Linv[h], racc[h], M[h], Vn)
                for s in range(S):
                    best = -np.inf
                    ab = 0
                    for a in range(A):
                        q = optimistic_q(phi[s, a], w, beta, W2[h, s, a], cap)
                        if q > best:
                            best = q
                            ab = a
                    Vh[s] = best
                    pi[h, s] = ab
                for s in range(S):
                    Vn[s] = Vh[s]
            opt = 0.0
            for s in range(S):
                opt += rho[s] * Vn[s]
            optimistic[i, k] = opt
            values[i, k] = evaluate_deterministic(p_indptr, p_indices, p_probs, H, R, pi, rho, work)
            s = _sample(rho_cdf, uniform(state))
            if keep_traj:
                states[i, k, 0] = s
            ret = 0.0
            for h in range(H):
                a = pi[h, s]
                r = R[h, s, a]
                ret += r
                s2 = _sample(P_cdf[h, s, a], uniform(state))
                observe(h, phi[s, a], r, s2, phi, Linv, Lam, W2, racc, M, n_upd)
                if keep_traj:
                    actions[i, k, h] = a
                    states[i, k, h + 1] = s2
                s = s2
            returns[i, k] = ret
            if keep_pol:
                for h in range(H):
                    for s in range(S):
                        policies[i, k, h, s] = pi[h, s]
