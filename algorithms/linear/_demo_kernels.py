r"""Numba kernel of demonstration-regularised LSVI (:mod:`algorithms.linear.demo`).

The regressions, widths and rank-one updates are LSVI-UCB's own (:mod:`algorithms.linear._lsvi_kernels`:
``init_stats``, ``regression``, ``optimistic_q``, ``observe``); only the backup differs: the maximum
over actions is replaced by the :math:`\lambda`-log-sum-exp under the reference policy, and the
soft-greedy (stochastic) policy is played.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import uniform
from algorithms.linear._lsvi_kernels import _sample, init_stats, observe, optimistic_q, regression


@nb.njit(cache=True)
def soft_backup(q_row, log_ref_row, reg, pol_row):
    r"""One state's soft backup: returns :math:`\bar V = \lambda\log\sum_a \tilde\pi(a) e^{\bar Q(a)/\lambda}`
    (stably, shifted by the largest admissible ``Q``) and writes
    :math:`\pi(a) = \tilde\pi(a) e^{(\bar Q(a) - \bar V)/\lambda}` into ``pol_row``; actions with
    :math:`\tilde\pi(a) = 0` (``log_ref = -inf``) get probability 0."""
    A = q_row.shape[0]
    m = -np.inf
    for a in range(A):
        if log_ref_row[a] > -np.inf and q_row[a] > m:
            m = q_row[a]
    acc = 0.0
    for a in range(A):
        if log_ref_row[a] > -np.inf:
            acc += math.exp(log_ref_row[a] + (q_row[a] - m) / reg)
    v = m + reg * math.log(acc)
    for a in range(A):
        if log_ref_row[a] > -np.inf:
            pol_row[a] = math.exp(log_ref_row[a] + (q_row[a] - v) / reg)
        else:
            pol_row[a] = 0.0
    return v


@nb.njit(cache=True)
def run_soft(seed, phi, P_cdf, R, rho, rho_cdf, log_ref, K, ridge, beta, cap, reg,
             policies, Qs, optimistic, states, actions):
    r"""One run of ``K`` episodes of demonstration-regularised LSVI.

    Per episode, backward over ``h``: :math:`w_h = \Lambda_h^{-1}(\sum\phi r + M_h \bar V_{h+1})`,
    :math:`\bar Q_h = \min(\phi^\top w_h + \beta\|\phi\|_{\Lambda_h^{-1}}, \mathrm{cap})`,
    :math:`\bar V_h`, :math:`\pi_h` by :func:`soft_backup`; then one episode of the stochastic
    policy. Writes the played policies ``(K, H, S, A)``, ``Q̄`` ``(K, H, S, A)`` when ``Qs`` has room,
    the plan's own :math:`\rho^\top \bar V_0`, the visited states ``(K, H+1)`` and actions ``(K, H)``.
    """
    S, A, d = phi.shape
    H = R.shape[0]
    keep_q = Qs.shape[0] == K
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    Linv, Lam, W2, racc, M, n_upd = init_stats(phi, ridge, H)
    Vn = np.zeros(S)
    Vh = np.zeros(S)
    q_row = np.empty(A)
    for k in range(K):
        for s in range(S):
            Vn[s] = 0.0
        for h in range(H - 1, -1, -1):
            w = regression(Linv[h], racc[h], M[h], Vn)
            for s in range(S):
                for a in range(A):
                    q_row[a] = optimistic_q(phi[s, a], w, beta, W2[h, s, a], cap)
                    if keep_q:
                        Qs[k, h, s, a] = q_row[a]
                Vh[s] = soft_backup(q_row, log_ref[h, s], reg, policies[k, h, s])
            for s in range(S):
                Vn[s] = Vh[s]
        opt = 0.0
        for s in range(S):
            opt += rho[s] * Vn[s]
        optimistic[k] = opt
        s = _sample(rho_cdf, uniform(state))
        states[k, 0] = s
        for h in range(H):
            u = uniform(state)
            acc = 0.0
            a = -1
            last = 0
            for b in range(A):
                if policies[k, h, s, b] > 0.0:
                    last = b
                    acc += policies[k, h, s, b]
                    if a < 0 and u < acc:
                        a = b
            if a < 0:  # round-off above the last positive mass
                a = last
            r = R[h, s, a]
            s2 = _sample(P_cdf[h, s, a], uniform(state))
            observe(h, phi[s, a], r, s2, phi, Linv, Lam, W2, racc, M, n_upd)
            actions[k, h] = a
            states[k, h + 1] = s2
            s = s2
