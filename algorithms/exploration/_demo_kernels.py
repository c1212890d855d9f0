r"""Numba kernels of optimistic KL-regularised best-policy identification
(:mod:`algorithms.exploration.demo_bpi`).

The statistics, the random stream and the transition sampler are the exploration engine's
(:mod:`algorithms.exploration._kernels`: :func:`record_transition`, :func:`sample_row`,
:func:`uniform`, SplitMix64 per run), so a run's output is the same bit for bit whatever the batch
size or the thread count. Layouts as there: the true kernel is a CSR table over rows
``(hp * S + s) * A + a``; statistics are indexed by ``hh = h`` (stage-dependent) or ``0`` (pooled).

Small loop kernels, ``cache=True``, no ``fastmath``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from algorithms.exploration._kernels import (BERNSTEIN, HOEFFDING, bernstein_bonus, record_transition, sample_row,
                                             uniform)


@nb.njit(cache=True)
def soft_row(q, log_ref, lam, pol_out):
    r"""The regularised (``lam > 0``) or hard (``lam == 0``) maximum of one state's ``q``.

    ``lam > 0``: returns :math:`\lambda \log \sum_a \tilde\pi(a) e^{q_a/\lambda}`, computed as
    ``lam * (m + log sum exp(z - m))`` with logits :math:`z_a = \log\tilde\pi(a) + q_a/\lambda`,
    ``m = max z`` (actions with :math:`\tilde\pi(a) = 0` have :math:`z_a = -\infty` and weight 0),
    and writes the soft-greedy law :math:`e^{z_a - \mathrm{lse}}` into ``pol_out``.
    ``lam == 0``: returns ``max_a q_a`` and writes the greedy one-hot law (ties to the lowest action).
    """
    A = q.shape[0]
    if lam > 0.0:
        m = -np.inf
        for a in range(A):
            z = log_ref[a] + q[a] / lam
            if z > m:
                m = z
        tot = 0.0
        for a in range(A):
            e = math.exp(log_ref[a] + q[a] / lam - m) if log_ref[a] > -np.inf else 0.0
            pol_out[a] = e
            tot += e
        for a in range(A):
            pol_out[a] /= tot
        return lam * (m + math.log(tot))
    best = -np.inf
    best_a = 0
    for a in range(A):
        if q[a] > best:
            best = q[a]
            best_a = a
    for a in range(A):
        pol_out[a] = 0.0
    pol_out[best_a] = 1.0
    return best


@nb.njit(cache=True)
def kl_row(pol, log_ref):
    """``KL(pol || ref)`` of one state (``0 log 0 = 0``)."""
    out = 0.0
    for a in range(pol.shape[0]):
        if pol[a] > 0.0:
            out += pol[a] * (math.log(pol[a]) - log_ref[a])
    return out


@nb.njit(cache=True)
def empirical_mean(Nsas, succ, nsucc, N, hh, s, a, V, S):
    """``P^_h V (s, a)``: the empirical mean over the successors seen, uniform where ``N = 0``."""
    n = N[hh, s, a]
    acc = 0.0
    if n == 0:
        for y in range(S):
            acc += V[y]
        return acc / S
    for j in range(nsucc[hh, s, a]):
        y = succ[hh, s, a, j]
        acc += Nsas[hh, s, a, y] * V[y]
    return acc / n


@nb.njit(cache=True)
def evaluate_stochastic(p_indptr, p_indices, p_probs, n_p_stages, R, pol, log_ref, lam, rho, V, Vreg):
    """Exact value and exact regularised value of the Markov policy ``pol[h, s, a]`` from ``rho``.

    ``V[h] = sum_a pol (R_h + P_h V[h+1])`` and ``Vreg[h] = sum_a pol (R_h + P_h Vreg[h+1]) -
    lam KL(pol_h(s) || ref_h(s))`` (work space ``(H + 1, S)``); returns ``(rho . V[0], rho . Vreg[0])``.
    """
    H, S, A = pol.shape
    for s in range(S):
        V[H, s] = 0.0
        Vreg[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hp = h if n_p_stages > 1 else 0
        for s in range(S):
            v = 0.0
            vr = 0.0
            for a in range(A):
                w = pol[h, s, a]
                if w == 0.0:
                    continue
                row = (hp * S + s) * A + a
                acc = 0.0
                accr = 0.0
                for k in range(p_indptr[row], p_indptr[row + 1]):
                    acc += p_probs[k] * V[h + 1, p_indices[k]]
                    accr += p_probs[k] * Vreg[h + 1, p_indices[k]]
                v += w * (R[h, s, a] + acc)
                vr += w * (R[h, s, a] + accr)
            V[h, s] = v
            Vreg[h, s] = vr - lam * kl_row(pol[h, s], log_ref[h, s])
    out = 0.0
    outr = 0.0
    for s in range(S):
        out += rho[s] * V[0, s]
        outr += rho[s] * Vreg[0, s]
    return out, outr


@nb.njit(cache=True)
def bernstein_moments(Nsas, succ, nsucc, N, hh, hn, s, a, V, pv, big, cap2, S):
    r"""The two data terms of UCBVI-BF's bonus at ``(hh, s, a)`` for next values ``V`` with empirical
    mean ``pv``: :math:`\mathrm{Var}_{\hat P}(V) = \sum_y \hat P(y)(V(y) - pv)^2` and
    :math:`\sum_y \hat P(y) \min(\mathrm{big} / \max(1, N'_{hn}(y)), \mathrm{cap2})`, with
    :math:`N'_{hn}(y) = \sum_b N[hn, y, b]` the visits to ``y`` at stage ``hn``; the uniform kernel
    where ``N = 0``. Returns ``(var, corr)``."""
    n = N[hh, s, a]
    A = N.shape[2]
    var = 0.0
    corr = 0.0
    if n == 0:
        for y in range(S):
            d = V[y] - pv
            ny = 0
            for b in range(A):
                ny += N[hn, y, b]
            var += d * d / S
            corr += min(big / max(1.0, float(ny)), cap2) / S
        return var, corr
    for j in range(nsucc[hh, s, a]):
        y = succ[hh, s, a, j]
        w = Nsas[hh, s, a, y] / n
        d = V[y] - pv
        ny = 0
        for b in range(A):
            ny += N[hn, y, b]
        var += w * d * d
        corr += w * min(big / max(1.0, float(ny)), cap2)
    return var, corr


@nb.njit(cache=True)
def optimistic_soft_plan(Nsas, succ, nsucc, N, pooled, R, log_ref, lam, bonus, coef, L, Vbar, B, pol, q):
    r"""One optimistic regularised backward induction on the agent's statistics.

    For ``h = H-1, ..., 0``: :math:`b_h = c \cdot 7 H L / \sqrt{\max(1, N_h)}` (``HOEFFDING``), UCBVI-BF's
    :func:`~algorithms.exploration._kernels.bernstein_bonus` with the variance of the regularised
    :math:`\bar V_{h+1}` under :math:`\hat P_h` (``BERNSTEIN``; :func:`bernstein_moments`; at the last
    stage :math:`\bar V_H = 0` and only :math:`14 H L / (3 n)` remains, as in the engine), else 0,
    :math:`\bar Q_h = \min(H - h, R_h + \hat P_h \bar V_{h+1} + b_h)`, :math:`\bar V_h =` the
    regularised maximum of :math:`\bar Q_h` (:func:`soft_row`), ``pol[h]`` the soft-greedy law.
    Writes ``Vbar (H + 1, S)`` (``Vbar[H] = 0``), the bonuses ``B (H, S, A)`` and ``pol (H, S, A)``.
    """
    H, S, A = R.shape
    s_eff = float(S if pooled else S * H)  # S' inside L, as in the engine
    big = 84.0 * 84.0 * H * H * H * s_eff * s_eff * A * L * L
    cap2 = float(H * H)
    for s in range(S):
        Vbar[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hh = 0 if pooled else h
        hn = 0 if pooled else h + 1  # stage of N'_{h+1}
        cap = float(H - h)
        for s in range(S):
            for a in range(A):
                pv = empirical_mean(Nsas, succ, nsucc, N, hh, s, a, Vbar[h + 1], S)
                nf = float(max(N[hh, s, a], 1))
                b = 0.0
                if bonus == HOEFFDING:
                    b = coef * 7.0 * H * L / math.sqrt(nf)
                elif bonus == BERNSTEIN and h == H - 1:
                    b = bernstein_bonus(coef, L, H, 0.0, 0.0, nf)  # V_H = 0: no variance terms
                elif bonus == BERNSTEIN:
                    var, corr = bernstein_moments(Nsas, succ, nsucc, N, hh, hn, s, a, Vbar[h + 1], pv, big, cap2, S)
                    b = bernstein_bonus(coef, L, H, var, corr, nf)
                B[h, s, a] = b
                q[a] = min(cap, R[h, s, a] + pv + b)
            Vbar[h, s] = soft_row(q, log_ref[h, s], lam, pol[h, s])


@nb.njit(cache=True)
def pessimistic_soft_evaluation(Nsas, succ, nsucc, N, pooled, R, log_ref, lam, B, pol, Vlow):
    r"""Pessimistic regularised evaluation of ``pol`` on the agent's statistics.

    ``Vlow[H] = 0``; for ``h = H-1, ..., 0``:
    :math:`\underline Q_h = \max(R_h + \hat P_h \underline V_{h+1} - b_h,\; R_h + f_{h+1})`,
    :math:`\underline V_h(s) = \sum_a \pi_h(a|s) \underline Q_h(s,a) - \lambda \mathrm{KL}(\pi_h(\cdot|s)
    \| \tilde\pi_h(\cdot|s))`, with the floor :math:`f_{h+1} = -\lambda \sum_{h' > h} \max_s
    \mathrm{KL}(\pi_{h'}(\cdot|s) \| \tilde\pi_{h'}(\cdot|s))`, a lower bound on
    :math:`V^\pi_{\lambda, h+1}` that holds for every model (rewards are nonnegative).
    """
    H, S, A = R.shape
    floor = 0.0
    for s in range(S):
        Vlow[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hh = 0 if pooled else h
        worst_kl = 0.0
        for s in range(S):
            acc = 0.0
            for a in range(A):
                w = pol[h, s, a]
                if w == 0.0:
                    continue
                ql = R[h, s, a] + empirical_mean(Nsas, succ, nsucc, N, hh, s, a, Vlow[h + 1], S) - B[h, s, a]
                ql = max(ql, R[h, s, a] + floor)
                acc += w * ql
            kl = kl_row(pol[h, s], log_ref[h, s])
            if kl > worst_kl:
                worst_kl = kl
            Vlow[h, s] = acc - lam * kl
        floor -= lam * worst_kl


@nb.njit(cache=True, parallel=True)
def run_demo_batch(seeds, p_indptr, p_indices, p_probs, p_cdf, n_p_stages, R, rho, rho_cdf, log_ref, lam, K, bonus,
                   coef, L, pooled, ckpt, values_out, reg_values_out, upper_out, lower_out, policies_out):
    """``seeds.shape[0]`` independent runs of ``K`` episodes of optimistic regularised BPI.

    Per episode ``k``: :func:`optimistic_soft_plan` gives :math:`\\bar V` and the soft-greedy
    :math:`\\pi^k`; :func:`pessimistic_soft_evaluation` gives :math:`\\underline V^{\\pi^k}`; the run
    writes ``upper_out[i, k] = rho . Vbar_0``, ``lower_out[i, k] = rho . Vlow_0`` (the algorithm's
    own stopping statistic is their difference), the exact value and exact regularised value of
    :math:`\\pi^k` on the true model (``values_out``, ``reg_values_out``), copies :math:`\\pi^k` into
    ``policies_out[i, j]`` when ``k == ckpt[j]``, then plays :math:`\\pi^k` (actions drawn by
    inverse CDF from one uniform per step) and counts the transitions. ``lam == 0`` is the
    unregularised control (hard max, greedy policies, no KL term).
    """
    H, S, A = R.shape
    Hs = 1 if pooled else H
    n_ck = ckpt.shape[0]
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        N = np.zeros((Hs, S, A), dtype=np.int64)
        Nsas = np.zeros((Hs, S, A, S), dtype=np.int64)
        succ = np.zeros((Hs, S, A, S), dtype=np.int64)
        nsucc = np.zeros((Hs, S, A), dtype=np.int64)
        Vbar = np.zeros((H + 1, S))
        Vlow = np.zeros((H + 1, S))
        Vw = np.zeros((H + 1, S))
        Vrw = np.zeros((H + 1, S))
        B = np.zeros((H, S, A))
        pol = np.zeros((H, S, A))
        q = np.empty(A)
        j = 0
        for k in range(K):
            optimistic_soft_plan(Nsas, succ, nsucc, N, pooled, R, log_ref, lam, bonus, coef, L, Vbar, B, pol, q)
            pessimistic_soft_evaluation(Nsas, succ, nsucc, N, pooled, R, log_ref, lam, B, pol, Vlow)
            up = 0.0
            lo = 0.0
            for s in range(S):
                up += rho[s] * Vbar[0, s]
                lo += rho[s] * Vlow[0, s]
            upper_out[i, k] = up
            lower_out[i, k] = lo
            v, vr = evaluate_stochastic(p_indptr, p_indices, p_probs, n_p_stages, R, pol, log_ref, lam, rho, Vw, Vrw)
            values_out[i, k] = v
            reg_values_out[i, k] = vr
            while j < n_ck and ckpt[j] == k:
                for h in range(H):
                    for s in range(S):
                        for a in range(A):
                            policies_out[i, j, h, s, a] = pol[h, s, a]
                j += 1
            # ---- play pi^k for one episode in the true model
            u = uniform(state)
            s = S - 1
            for y in range(S):
                if rho_cdf[y] > u:
                    s = y
                    break
            for h in range(H):
                u = uniform(state)
                a = A - 1
                c = 0.0
                for b in range(A):
                    c += pol[h, s, b]
                    if c > u and pol[h, s, b] > 0.0:
                        a = b
                        break
                if pol[h, s, a] == 0.0:  # round-off past the last positive entry
                    for b in range(A - 1, -1, -1):
                        if pol[h, s, b] > 0.0:
                            a = b
                            break
                hh = 0 if pooled else h
                hp = h if n_p_stages > 1 else 0
                s2 = sample_row(p_indptr, p_indices, p_cdf, (hp * S + s) * A + a, uniform(state))
                record_transition(Nsas, succ, nsucc, N, hh, s, a, s2)
                s = s2
