r"""Numba kernels of UCRL2 and its span-bounded variant (:mod:`algorithms.average_reward.ucrl`).

:func:`evi` is extended value iteration (Jaksch, Ortner, Auer 2010, section 3.1.2) with two
options: the aperiodicity transform ``tau`` and the span truncation ``span_c`` of SCAL
(Fruit, Pirotta, Lazaric, Ortner 2018, arXiv:1802.04020). Its inner step,
:math:`\max_{\|p - \hat p\|_1 \le d} \langle p, u\rangle = -\min_{\|p - \hat p\|_1 \le d}
\langle p, -u\rangle`, is the exact L1 inner problem of :mod:`mdps.robust`
(``mdps.robust.l1_inner_kernel``) applied to ``-u``, sorted once per sweep.

:func:`run_ucrl` is one learning run: the doubling episodes, the confidence widths, the planning
and the environment (CSR kernel, inverse-CDF sampling, Bernoulli or deterministic rewards) with
its own SplitMix64 stream (:func:`algorithms.exploration._kernels.next_u64`).

Small loop kernels, ``cache=True``, no ``fastmath``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import sample_row, uniform
from mdps.robust import l1_inner_kernel as l1_inner


@nb.njit(cache=True)
def evi(P_hat, r_tilde, radius, eps, span_c, tau, max_iter, u, pol, q_out):
    r"""Extended value iteration from ``u`` (modified in place) until ``sp(v - u) < eps``.

    One sweep: ``q(s, a) = r_tilde(s, a) + max_{|p - P_hat(s, a)|_1 <= radius(s, a)} <p, u>``,
    ``v(s) = tau max_a q(s, a) + (1 - tau) u(s)``; with a finite ``span_c`` the iterate is then
    truncated, ``v <- min(v, min v + span_c)``; the stopping test is
    ``sp(v - u) < eps * tau``. ``pol`` receives the greedy action of the last sweep (ties to
    the lowest action), ``q_out`` its ``q``. ``u`` ends as the last ``v`` shifted so that its
    minimum is 0. Returns ``(n_sweeps, converged, lo, hi)`` with ``[lo, hi] = [min, max] (v -
    u) / tau`` of the last sweep: the Odoni bracket of the optimistic gain.
    """
    S, A = r_tilde.shape
    v = np.empty(S)
    neg = np.empty(S)
    dummy = np.empty(0)
    lo = 0.0
    hi = 0.0
    for it in range(max_iter):
        for s in range(S):
            neg[s] = -u[s]
        order = np.argsort(neg, kind="mergesort")
        for s in range(S):
            best = -np.inf
            for a in range(A):
                q = r_tilde[s, a] - l1_inner(P_hat[s, a], neg, order, radius[s, a], dummy, False)
                q_out[s, a] = q
                if q > best:
                    best = q
                    pol[s] = a
            v[s] = tau * best + (1.0 - tau) * u[s]
        if span_c < np.inf:
            m = v.min()
            for s in range(S):
                if v[s] > m + span_c:
                    v[s] = m + span_c
        lo = np.inf
        hi = -np.inf
        for s in range(S):
            d = v[s] - u[s]
            lo = min(lo, d)
            hi = max(hi, d)
        m = v.min()
        for s in range(S):
            u[s] = v[s] - m
        if hi - lo < eps * tau:
            return it + 1, True, lo / tau, hi / tau
    return max_iter, False, lo / tau, hi / tau


@nb.njit(cache=True)
def confidence(N, Nsas, Rsum, t, delta, p_scale, r_scale, P_hat, r_tilde, radius):
    """UCRL2's optimistic rewards and L1 radii at time ``t`` (Jaksch et al. 2010, eq. (3)-(4)):
    ``radius = p_scale sqrt(14 S log(2 A t / delta) / max(1, N))`` and
    ``r_tilde = min(1, r_hat + r_scale sqrt(7 log(2 S A t / delta) / (2 max(1, N))))``;
    ``P_hat`` is the empirical kernel (uniform where ``N = 0``), ``r_hat`` the observed mean."""
    S, A = N.shape
    lp = math.log(2.0 * A * t / delta)
    lr = math.log(2.0 * S * A * t / delta)
    for s in range(S):
        for a in range(A):
            n = N[s, a]
            m = max(1.0, n)
            radius[s, a] = p_scale * math.sqrt(14.0 * S * lp / m)
            r_hat = Rsum[s, a] / n if n > 0 else 0.0
            r_tilde[s, a] = min(1.0, r_hat + r_scale * math.sqrt(7.0 * lr / (2.0 * m)))
            for x in range(S):
                P_hat[s, a, x] = Nsas[s, a, x] / n if n > 0 else 1.0 / S


@nb.njit(cache=True)
def run_ucrl(state, p_indptr, p_indices, p_cdf, R, s0, T, delta, span_c, tau, eps_scale, max_iter,
             bernoulli, p_scale, r_scale, states, actions, rewards, ep_start, ep_hi, ep_lo, ep_iter, ep_conv):
    """One run of ``T`` steps from ``s0``; fills ``states, actions, rewards`` (T,) and the per-episode
    arrays (start step, optimistic gain bracket, EVI sweeps, converged). Returns the episode count.

    Episode ``k`` starts at step ``t_k`` (1-based) with ``N_k = N``; it plans by :func:`evi` to
    accuracy ``eps_scale / sqrt(t_k)`` (warm-started from the previous episode's ``u``) and ends
    before the step whose pair ``(s, a)`` has ``nu_k(s, a) >= max(1, N_k(s, a))`` (doubling)."""
    S, A = R.shape
    N = np.zeros((S, A))
    Nsas = np.zeros((S, A, S))
    Rsum = np.zeros((S, A))
    nu = np.zeros((S, A))
    Nk = np.zeros((S, A))
    P_hat = np.empty((S, A, S))
    r_tilde = np.empty((S, A))
    radius = np.empty((S, A))
    q = np.empty((S, A))
    u = np.zeros(S)
    pol = np.zeros(S, dtype=np.int64)
    s = s0
    t = 1
    k = 0
    while t <= T:
        confidence(N, Nsas, Rsum, t, delta, p_scale, r_scale, P_hat, r_tilde, radius)
        n_it, conv, lo, hi = evi(P_hat, r_tilde, radius, eps_scale / math.sqrt(t), span_c, tau, max_iter, u, pol, q)
        if k < ep_start.shape[0]:
            ep_start[k] = t
            ep_hi[k] = hi
            ep_lo[k] = lo
            ep_iter[k] = n_it
            ep_conv[k] = conv
        k += 1
        for i in range(S):
            for j in range(A):
                nu[i, j] = 0.0
                Nk[i, j] = N[i, j]
        while t <= T:
            a = pol[s]
            if nu[s, a] >= max(1.0, Nk[s, a]):
                break
            r = R[s, a]
            if bernoulli:
                r = 1.0 if uniform(state) < R[s, a] else 0.0
            nxt = sample_row(p_indptr, p_indices, p_cdf, s * A + a, uniform(state))
            states[t - 1] = s
            actions[t - 1] = a
            rewards[t - 1] = r
            nu[s, a] += 1.0
            N[s, a] += 1.0
            Nsas[s, a, nxt] += 1.0
            Rsum[s, a] += r
            s = nxt
            t += 1
    return k


@nb.njit(cache=True, parallel=True)
def run_ucrl_batch(seeds, p_indptr, p_indices, p_cdf, R, rho_cdf, T, delta, span_c, tau, eps_scale, max_iter,
                   bernoulli, p_scale, r_scale, states, actions, rewards, ep_start, ep_hi, ep_lo, ep_iter, ep_conv,
                   n_episodes):
    """``seeds.shape[0]`` independent runs of :func:`run_ucrl`, one per ``prange`` iteration.

    Run ``i`` owns the SplitMix64 stream seeded by ``seeds[i]``: its first uniform draws the start state
    (inverse CDF on ``rho_cdf``), the rest drive :func:`run_ucrl`, which allocates the run's statistics; it
    writes only row ``i`` of the outputs (``states, actions, rewards`` (n, T), the per-episode arrays
    (n, cap), ``n_episodes[i]``). No state is shared between runs, so row ``i`` is the same bit for bit
    whatever the batch size, the thread count or the scheduling."""
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        s0 = np.searchsorted(rho_cdf, uniform(state), side="right")
        n_episodes[i] = run_ucrl(state, p_indptr, p_indices, p_cdf, R, s0, T, delta, span_c, tau, eps_scale,
                                 max_iter, bernoulli, p_scale, r_scale, states[i], actions[i], rewards[i],
                                 ep_start[i], ep_hi[i], ep_lo[i], ep_iter[i], ep_conv[i])
