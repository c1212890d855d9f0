r"""Numba kernels of conservative exploration (:mod:`algorithms.exploration.conservative`).

One call of :func:`run_conservative` runs ``n`` independent StepMix or EpsMix runs of ``K``
episodes, one per ``prange`` iteration. The random stream (:func:`~._kernels.next_u64`,
SplitMix64 per run), the row sampler and the exact evaluation of a deterministic policy are the
engine's (:mod:`algorithms.exploration._kernels`); the statistics use the engine's layout
(``N[hh, s, a]``, ``Nsas[hh, s, a, s']``, the successor lists ``succ``/``nsucc``; ``hh = 0``
when pooled over stages). Rewards are known (the environment pays ``R_h(s, a)``).

Per episode: optimistic plan (UCBVI-CH, Hoeffding bonus, the engine's formula) -> ``pi_o``;
pessimistic evaluation of mixtures of ``pi_o`` and the baseline (:func:`bounded_value`); the
mixture weight ``w`` (StepMix: largest certified per-step weight by bisection; EpsMix: closed
form on the linear episode-level value); exact value of the played (mixture) policy on the true
model; one episode played.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import evaluate_deterministic, record_transition, sample_row, uniform

#: mixing codes of :func:`run_conservative`
STEPMIX, EPSMIX = 0, 1


@nb.njit(cache=True)
def plan_optimistic(N, Nsas, succ, nsucc, R, coef, L, pooled, Vbar, pi):
    """UCBVI-CH optimistic backward pass with known rewards: ``Q = min(H - h, R + P^ Vbar + b)``,
    ``b = coef * 7 H L / sqrt(max(1, N))``, ``P^`` uniform where ``N = 0``; ties to the lowest action."""
    H, S, A = R.shape
    for s in range(S):
        Vbar[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hh = 0 if pooled else h
        mean_next = 0.0
        for y in range(S):
            mean_next += Vbar[h + 1, y]
        mean_next /= S
        cap = float(H - h)
        for s in range(S):
            best = -1.0
            best_a = 0
            for a in range(A):
                n = N[hh, s, a]
                pv = mean_next
                if n > 0:
                    pv = 0.0
                    for j in range(nsucc[hh, s, a]):
                        y = succ[hh, s, a, j]
                        pv += Nsas[hh, s, a, y] * Vbar[h + 1, y]
                    pv /= n
                q = min(R[h, s, a] + pv + coef * 7.0 * H * L * math.sqrt(1.0 / max(n, 1)), cap)
                if q > best:
                    best = q
                    best_a = a
            Vbar[h, s] = best
            pi[h, s] = best_a


@nb.njit(cache=True)
def bounded_value(N, Nsas, succ, nsucc, R, pi_o, pib, w, pcoef, Lp, pooled, sign, rho, V):
    r"""Pessimistic (``sign = +1``) or optimistic (``sign = -1``) value of the per-step mixture
    ``w * pi_o + (1 - w) * pib`` on the empirical model, from ``rho``.

    ``V[H] = 0``; ``x_h(s) = sum_a pi_h(a|s) [R_h(s,a) + P^_h V_{h+1}(s,a) - sign * b_h(s,a)]``,
    ``V_h = max(0, x)`` (pessimistic) or ``min(H - h, x)`` (optimistic), with the L1 bonus
    ``b = pcoef * sp(V_{h+1}) / 2 * min(2, sqrt(2 Lp / N))`` (2 where ``N = 0``).
    """
    H, S, A = R.shape
    for s in range(S):
        V[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hh = 0 if pooled else h
        lo = V[h + 1, 0]
        hi = V[h + 1, 0]
        mean_next = 0.0
        for y in range(S):
            lo = min(lo, V[h + 1, y])
            hi = max(hi, V[h + 1, y])
            mean_next += V[h + 1, y]
        mean_next /= S
        half_span = 0.5 * (hi - lo)
        for s in range(S):
            x = 0.0
            for a in range(A):
                p = (1.0 - w) * pib[h, s, a]
                if a == pi_o[h, s]:
                    p += w
                if p == 0.0:
                    continue
                n = N[hh, s, a]
                pv = mean_next
                width = 2.0
                if n > 0:
                    pv = 0.0
                    for j in range(nsucc[hh, s, a]):
                        y = succ[hh, s, a, j]
                        pv += Nsas[hh, s, a, y] * V[h + 1, y]
                    pv /= n
                    width = min(2.0, math.sqrt(2.0 * Lp / n))
                b = pcoef * half_span * width
                x += p * (R[h, s, a] + pv - sign * b)
            if sign > 0:
                V[h, s] = max(0.0, x)
            else:
                V[h, s] = min(float(H - h), x)
    out = 0.0
    for s in range(S):
        out += rho[s] * V[0, s]
    return out


@nb.njit(cache=True)
def evaluate_mixture(p_indptr, p_indices, p_probs, n_p_stages, R, pi_o, pib, w, rho, V):
    """Exact value on the true model of the per-step mixture ``w * pi_o + (1 - w) * pib``."""
    H, S, A = R.shape
    for s in range(S):
        V[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hp = h if n_p_stages > 1 else 0
        for s in range(S):
            x = 0.0
            for a in range(A):
                p = (1.0 - w) * pib[h, s, a]
                if a == pi_o[h, s]:
                    p += w
                if p == 0.0:
                    continue
                row = (hp * S + s) * A + a
                acc = 0.0
                for k in range(p_indptr[row], p_indptr[row + 1]):
                    acc += p_probs[k] * V[h + 1, p_indices[k]]
                x += p * (R[h, s, a] + acc)
            V[h, s] = x
    out = 0.0
    for s in range(S):
        out += rho[s] * V[0, s]
    return out


@nb.njit(cache=True)
def mixture_weight(mix, lo_o, lo_b, thr, N, Nsas, succ, nsucc, R, pi_o, pib, pcoef, Lp, pooled, rho, V,
                   n_bisect):
    """The certified weight on ``pi_o``: 1 if ``lo_o >= thr``; 0 if the baseline end is not certified
    (``lo_b < thr``); else EpsMix ``(lo_b - thr) / (lo_b - lo_o)`` (the lower bound is linear in
    ``w``), StepMix the bisection (``n_bisect`` halvings) keeping a certified lower end."""
    if lo_o >= thr:
        return 1.0
    if lo_b < thr:
        return 0.0
    if mix == EPSMIX:
        return (lo_b - thr) / (lo_b - lo_o)
    lo = 0.0
    hi = 1.0
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        if bounded_value(N, Nsas, succ, nsucc, R, pi_o, pib, mid, pcoef, Lp, pooled, 1.0, rho, V) >= thr:
            lo = mid
        else:
            hi = mid
    return lo


@nb.njit(cache=True, parallel=True)
def run_conservative(seeds, p_indptr, p_indices, p_probs, p_cdf, n_p_stages, R, rho, rho_cdf, pib, pib_cdf, K,
                     mix, coef, L, pcoef, Lp, pooled, kappa, vb_known, vb_true, n_bisect,
                     values_out, returns_out, weights_out, thr_out, policies_out):
    """Run ``seeds.shape[0]`` StepMix (``mix = STEPMIX``) or EpsMix (``EPSMIX``) runs.

    ``vb_known >= 0``: the baseline value is known to the agent (threshold ``(1 - kappa) vb_known``;
    EpsMix's baseline end is ``vb_known``); ``vb_known < 0``: estimated (threshold ``(1 - kappa)``
    times the optimistic value of the baseline; lower end its pessimistic value). ``vb_true`` is
    the exact baseline value (for EpsMix's exact mixture value). Writes per run ``i``, episode
    ``k``: ``values_out`` the exact value of the played (mixture) policy, ``returns_out`` the
    realised return, ``weights_out`` the weight ``w``, ``thr_out`` the agent's threshold, and the
    optimistic policy into ``policies_out[i, k]`` when ``policies_out.shape[1] == K``.
    """
    n_runs = seeds.shape[0]
    H, S, A = R.shape
    Hs = 1 if pooled else H
    keep = policies_out.shape[1] == K
    for i in nb.prange(n_runs):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        N = np.zeros((Hs, S, A), dtype=np.int64)
        Nsas = np.zeros((Hs, S, A, S), dtype=np.int64)
        succ = np.zeros((Hs, S, A, S), dtype=np.int64)
        nsucc = np.zeros((Hs, S, A), dtype=np.int64)
        Vbar = np.zeros((H + 1, S))
        Vw = np.zeros((H + 1, S))
        pi = np.zeros((H, S), dtype=np.int64)
        for k in range(K):
            plan_optimistic(N, Nsas, succ, nsucc, R, coef, L, pooled, Vbar, pi)
            lo_o = bounded_value(N, Nsas, succ, nsucc, R, pi, pib, 1.0, pcoef, Lp, pooled, 1.0, rho, Vw)
            if vb_known >= 0.0:
                thr = (1.0 - kappa) * vb_known
                lo_b = vb_known
                if mix == STEPMIX:
                    lo_b = bounded_value(N, Nsas, succ, nsucc, R, pi, pib, 0.0, pcoef, Lp, pooled, 1.0, rho, Vw)
            else:
                thr = (1.0 - kappa) * bounded_value(N, Nsas, succ, nsucc, R, pi, pib, 0.0, pcoef, Lp, pooled,
                                                    -1.0, rho, Vw)
                lo_b = bounded_value(N, Nsas, succ, nsucc, R, pi, pib, 0.0, pcoef, Lp, pooled, 1.0, rho, Vw)
            if mix == EPSMIX and thr <= lo_b and lo_o < thr:  # the lower bound is linear in w
                w = (lo_b - thr) / (lo_b - lo_o)
            else:
                w = mixture_weight(mix, lo_o, lo_b, thr, N, Nsas, succ, nsucc, R, pi, pib, pcoef, Lp, pooled, rho,
                                   Vw, n_bisect)
            weights_out[i, k] = w
            thr_out[i, k] = thr
            if mix == EPSMIX:
                v_o = evaluate_deterministic(p_indptr, p_indices, p_probs, n_p_stages, R, pi, rho, Vw)
                values_out[i, k] = w * v_o + (1.0 - w) * vb_true
            else:
                values_out[i, k] = evaluate_mixture(p_indptr, p_indices, p_probs, n_p_stages, R, pi, pib, w, rho, Vw)
            if keep:
                for h in range(H):
                    for s in range(S):
                        policies_out[i, k, h, s] = pi[h, s]
            # ---- play one episode
            follow = uniform(state) < w  # EpsMix: the episode's branch
            u = uniform(state)
            s = S - 1
            for y in range(S):
                if rho_cdf[y] > u:
                    s = y
                    break
            ret = 0.0
            for h in range(H):
                if mix == STEPMIX:
                    follow = uniform(state) < w
                if follow:
                    a = pi[h, s]
                else:
                    u = uniform(state)
                    a = A - 1
                    for b in range(A):
                        if pib_cdf[h, s, b] > u:
                            a = b
                            break
                hh = 0 if pooled else h
                hp = h if n_p_stages > 1 else 0
                ret += R[h, s, a]
                s2 = sample_row(p_indptr, p_indices, p_cdf, (hp * S + s) * A + a, uniform(state))
                record_transition(Nsas, succ, nsucc, N, hh, s, a, s2)
                s = s2
            returns_out[i, k] = ret
