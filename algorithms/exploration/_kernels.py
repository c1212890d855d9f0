r"""Numba kernels of the compiled exploration engine (:mod:`algorithms.exploration.engine`).

One call of :func:`run_batch` runs ``n`` independent learning runs of ``K`` episodes each,
agent and environment both compiled, one run per ``prange`` iteration. Every run owns its
statistics and its random stream (:func:`next_u64`, SplitMix64 seeded by a per-run ``uint64``
that the caller derives from a child :class:`numpy.random.SeedSequence`), and the arithmetic
of a run never depends on another, so a run's output is the same bit for bit whatever the batch
size, the thread count or the scheduling.

Layouts. The true kernel is a CSR table over rows ``(hp * S + s) * A + a`` (``hp = h`` for a
stage-dependent ``P``, else 0) of its positive entries: ``p_indices`` (outcomes), ``p_probs``
(probabilities) and ``p_cdf`` (running sums, for inverse-CDF sampling). ``R`` is ``(H, S, A)``
(expected rewards; the environment pays them deterministically). The agent's statistics are
indexed by ``hh = h`` (stage-dependent estimates) or ``hh = 0`` (pooled over stages,
``pooled=True``): visit counts ``N[hh, s, a]``, transition counts ``Nsas[hh, s, a, s']`` and the
list of successors seen so far, ``succ[hh, s, a, :nsucc[hh, s, a]]``, so an empirical backup
costs the number of distinct successors seen, not ``S``.

Small loop kernels, ``cache=True``, no ``fastmath``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: algorithm codes of :func:`run_batch`
OPTIMISTIC, PSRL = 0, 1
#: bonus codes of :func:`run_batch`
NO_BONUS, HOEFFDING, BERNSTEIN = 0, 1, 2


@nb.njit(cache=True)
def next_u64(state):
    """SplitMix64 (Steele, Lea, Flood 2014): advance ``state[0]`` and return 64 mixed bits."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True)
def uniform(state):
    """A uniform double in ``[0, 1)`` from the top 53 bits of :func:`next_u64`."""
    return float(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def standard_normal(state):
    """Box-Muller (one of the pair); ``1 - u`` keeps the logarithm finite."""
    u1 = 1.0 - uniform(state)
    u2 = uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@nb.njit(cache=True)
def standard_gamma(state, alpha):
    """Gamma(alpha, 1) by Marsaglia & Tsang (2000); ``alpha < 1`` by ``G(alpha+1) U^(1/alpha)``."""
    if alpha < 1.0:
        u = 1.0 - uniform(state)
        return standard_gamma(state, alpha + 1.0) * u ** (1.0 / alpha)
    d = alpha - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = standard_normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = 1.0 - uniform(state)
        if math.log(u) < 0.5 * x * x + d - d * v + d * math.log(v):
            return d * v


@nb.njit(cache=True)
def sample_row(indptr, indices, cdf, row, u):
    """Inverse-CDF sample of CSR row ``row`` (linear scan; the last positive entry on round-off)."""
    last = indptr[row + 1] - 1
    for k in range(indptr[row], last):
        if cdf[k] > u:
            return indices[k]
    return indices[last]


@nb.njit(cache=True)
def bernstein_bonus(coef, L, H, var, corr, nf):
    r"""UCBVI-BF's bonus (Azar et al. 2017, Algorithm 4) at one ``(h, s, a)`` with ``nf = max(1, N)``
    visits: :math:`c\,[\sqrt{8 L \mathrm{Var}/n} + 14 H L/(3 n) + \sqrt{8\, \mathrm{corr}/n}]`, where
    ``var`` is the empirical variance :math:`\mathrm{Var}_{\hat P}(\bar V_{h+1})` of the next optimistic
    values and ``corr`` :math:`= \sum_y \hat P(y) \min(84^2 H^3 S'^2 A L^2 / \max(1, N'_{h+1}(y)), H^2)`.
    Shared by the UCBVI engine and the regularised BPI kernels (one expression, so both agents'
    plans are the same arithmetic)."""
    return coef * (math.sqrt(8.0 * L * var / nf) + 14.0 * H * L / (3.0 * nf) + math.sqrt(8.0 * corr / nf))


@nb.njit(cache=True)
def record_transition(Nsas, succ, nsucc, N, hh, s, a, s2):
    """Count one observed transition ``(s, a) -> s2`` at estimate stage ``hh``; the first visit of
    ``s2`` from ``(s, a)`` appends it to the successor list the planners back up over."""
    if Nsas[hh, s, a, s2] == 0:
        succ[hh, s, a, nsucc[hh, s, a]] = s2
        nsucc[hh, s, a] += 1
    Nsas[hh, s, a, s2] += 1
    N[hh, s, a] += 1


@nb.njit(cache=True)
def evaluate_deterministic(p_indptr, p_indices, p_probs, n_p_stages, R, pi, rho, V):
    """Exact value of the deterministic policy ``pi[h, s]`` on the true model, from ``rho``.

    ``V`` is ``(H + 1, S)`` work space; ``V[H] = 0`` and ``V[h] = r_{pi_h} + P_{pi_h} V[h+1]``
    (the finite-horizon evaluation recursion). Cost ``O(H * nnz per row * S)``.
    """
    H, S = pi.shape
    A = R.shape[2]
    for s in range(S):
        V[H, s] = 0.0
    for h in range(H - 1, -1, -1):
        hp = h if n_p_stages > 1 else 0
        for s in range(S):
            a = pi[h, s]
            row = (hp * S + s) * A + a
            acc = 0.0
            for k in range(p_indptr[row], p_indptr[row + 1]):
                acc += p_probs[k] * V[h + 1, p_indices[k]]
            V[h, s] = R[h, s, a] + acc
    out = 0.0
    for s in range(S):
        out += rho[s] * V[0, s]
    return out


@nb.njit(cache=True, parallel=True)
def run_batch_record(seeds, p_indptr, p_indices, p_probs, p_cdf, n_p_stages, R, rho, rho_cdf, K, algo, bonus,
                     coef, L, pooled, known_rewards, prior, values_out, returns_out, policies_out, optimistic_out,
                     states_out):
    """Run ``seeds.shape[0]`` independent learning runs of ``K`` episodes (one per ``prange`` step).

    Optimistic planning (``algo = OPTIMISTIC``), per episode, ``h = H-1, ..., 0``:
    ``Q(h,s,a) = min(H - h, r^(h,s,a) + P^_h V_{h+1}(s,a) + b(h,s,a))``, ``V_h = max_a Q``,
    ``pi_h = argmax_a Q`` (ties to the lowest action), with ``P^`` the empirical kernel
    (uniform where ``N = 0``), ``n = max(1, N)`` and the bonus ``b``:

    * ``NO_BONUS``: 0 (certainty-equivalence, the greedy control);
    * ``HOEFFDING``: ``coef * 7 H L sqrt(1 / n)`` (UCBVI-CH);
    * ``BERNSTEIN``: ``coef * [sqrt(8 L Var_{P^}(V_{h+1}) / n) + 14 H L / (3 n)
      + sqrt(8 sum_y P^(y) min(84^2 H^3 S'^2 A L^2 / max(1, N'_{h+1}(y)), H^2) / n)]`` (UCBVI-BF),
      ``S' = S`` pooled, ``S H`` for stage-dependent estimates (as inside ``L``),
      ``N'_{h+1}(y)`` the visits to ``y`` at stage ``h + 1`` (pooled: all visits to ``y``).

    Posterior sampling (``algo = PSRL``): per ``(hh, s, a)`` a kernel drawn from
    ``Dirichlet(prior + Nsas[hh, s, a, :])``, rewards known, the plan is greedy for the draw.

    Rewards: ``known_rewards`` plans with the true ``R``; otherwise with ``r^ = Rsum / N``
    (0 where ``N = 0``). Writes, per run ``i`` and episode ``k``: ``values_out[i, k]`` the exact
    value of the played policy from ``rho``, ``returns_out[i, k]`` the realised return, the
    policy into ``policies_out[i, k]`` when ``policies_out.shape[1] == K``, and the plan's own
    value ``rho . Vbar_0`` (optimistic for UCBVI, the draw's optimum for PSRL) into
    ``optimistic_out[i, k]`` when ``optimistic_out.shape[1] == K``, and the visited states
    ``s_0, ..., s_H`` of episode ``k`` into ``states_out[i, k]`` when ``states_out.shape[1] == K``.

    Scheduling: one run per ``prange`` iteration; each run allocates its statistics and scratch
    once (none inside the episode loop), and writes only row ``i`` of the outputs.

    Work skipped, exactly: the played policy is evaluated only when the plan changed some
    ``pi[h, s]`` (an unchanged deterministic policy has the same exact value, bit for bit), and
    the uniform kernel's mean / variance / correction at a stage is computed only when the stage
    has an unvisited pair.

    Bernstein correction table. ``C[hh, y] = min(84^2 H^3 S'^2 A L^2 / max(1, N'(hh, y)), H^2)``
    is kept per visited state and refreshed when ``N'(hh, y)`` changes (``H`` entries per
    episode) instead of being recomputed per successor per episode; its value is the same
    expression, so the plans are unchanged.
    """
    H, S, A = R.shape
    Hs = 1 if pooled else H
    keep = policies_out.shape[1] == K
    keep_opt = optimistic_out.shape[1] == K
    keep_states = states_out.shape[1] == K
    s_eff = float(S if pooled else S * H)  # S' of the layered MDP for stage-dependent estimates
    big = 84.0 * 84.0 * H * H * H * s_eff * s_eff * A * L * L
    for i in nb.prange(seeds.shape[0]):
        state = np.empty(1, dtype=np.uint64)
        state[0] = seeds[i]
        N = np.zeros((Hs, S, A), dtype=np.int64)
        Nsas = np.zeros((Hs, S, A, S), dtype=np.int64)
        succ = np.zeros((Hs, S, A, S), dtype=np.int64)
        nsucc = np.zeros((Hs, S, A), dtype=np.int64)
        Rsum = np.zeros((Hs, S, A))
        Nstate = np.zeros((Hs, S), dtype=np.int64)
        HH = float(H * H)
        C = np.empty((Hs, S))
        for hh in range(Hs):
            for y in range(S):
                C[hh, y] = min(big, HH)
        Vbar = np.zeros((H + 1, S))
        Vpi = np.zeros((H + 1, S))
        pi = np.zeros((H, S), dtype=np.int64)
        ptil = np.empty(S)
        changed = True  # whether pi differs from the last evaluated policy
        last_value = 0.0
        for k in range(K):
            # ---- plan
            for h in range(H - 1, -1, -1):
                hh = 0 if pooled else h
                hn = 0 if pooled else h + 1  # stage of N'_{h+1}
                # the uniform kernel of unvisited pairs: its mean, variance and correction, computed
                # at the stage's first unvisited pair (none once every pair has been visited)
                have_u = False
                mean_next = 0.0
                var_u = 0.0
                corr_u = 0.0
                cap = float(H - h)
                for s in range(S):
                    best = -1.0
                    best_a = 0
                    for a in range(A):
                        n = N[hh, s, a]
                        if known_rewards:
                            r = R[h, s, a]
                        elif n > 0:
                            r = Rsum[hh, s, a] / n
                        else:
                            r = 0.0
                        if algo == PSRL:
                            tot = 0.0
                            for y in range(S):
                                g = standard_gamma(state, prior + Nsas[hh, s, a, y])
                                ptil[y] = g
                                tot += g
                            pv = 0.0
                            for y in range(S):
                                pv += ptil[y] * Vbar[h + 1, y]
                            q = r + pv / tot
                        else:
                            nf = float(max(n, 1))
                            if n == 0 and not have_u:
                                have_u = True
                                for y in range(S):
                                    mean_next += Vbar[h + 1, y]
                                mean_next /= S
                                if bonus == BERNSTEIN and h < H - 1:
                                    for y in range(S):
                                        d = Vbar[h + 1, y] - mean_next
                                        var_u += d * d / S
                                        corr_u += C[hn, y] / S
                            pv = 0.0
                            m = nsucc[hh, s, a]
                            if n > 0:
                                for j in range(m):
                                    y = succ[hh, s, a, j]
                                    pv += Nsas[hh, s, a, y] * Vbar[h + 1, y]
                                pv /= n
                            else:
                                pv = mean_next
                            b = 0.0
                            if bonus == HOEFFDING:
                                b = coef * 7.0 * H * L * math.sqrt(1.0 / nf)
                            elif bonus == BERNSTEIN and h == H - 1:
                                b = coef * 14.0 * H * L / (3.0 * nf)  # V_H = 0: no variance terms
                            elif bonus == BERNSTEIN:
                                var = var_u
                                corr = corr_u
                                if n > 0:
                                    var = 0.0
                                    corr = 0.0
                                    for j in range(m):
                                        y = succ[hh, s, a, j]
                                        w = Nsas[hh, s, a, y] / n
                                        d = Vbar[h + 1, y] - pv
                                        var += w * d * d
                                        corr += w * C[hn, y]
                                b = bernstein_bonus(coef, L, H, var, corr, nf)
                            q = r + pv + b
                        q = min(q, cap)
                        if q > best:
                            best = q
                            best_a = a
                    Vbar[h, s] = best
                    if pi[h, s] != best_a:
                        pi[h, s] = best_a
                        changed = True
            if keep_opt:
                acc = 0.0
                for s in range(S):
                    acc += rho[s] * Vbar[0, s]
                optimistic_out[i, k] = acc
            # ---- exact value of the played policy on the true model
            # (the evaluation is deterministic: an unchanged policy has the value of the last episode)
            if changed:
                last_value = evaluate_deterministic(p_indptr, p_indices, p_probs, n_p_stages, R, pi, rho, Vpi)
                changed = False
            values_out[i, k] = last_value
            if keep:
                for h in range(H):
                    for s in range(S):
                        policies_out[i, k, h, s] = pi[h, s]
            # ---- play one episode in the true model and update the statistics
            u = uniform(state)
            s = S - 1
            for y in range(S):
                if rho_cdf[y] > u:
                    s = y
                    break
            ret = 0.0
            for h in range(H):
                if keep_states:
                    states_out[i, k, h] = s
                a = pi[h, s]
                hh = 0 if pooled else h
                hp = h if n_p_stages > 1 else 0
                ret += R[h, s, a]
                s2 = sample_row(p_indptr, p_indices, p_cdf, (hp * S + s) * A + a, uniform(state))
                record_transition(Nsas, succ, nsucc, N, hh, s, a, s2)
                Nstate[hh, s] += 1
                C[hh, s] = min(big / max(1.0, float(Nstate[hh, s])), HH)
                Rsum[hh, s, a] += R[h, s, a]
                s = s2
            if keep_states:
                states_out[i, k, H] = s
            returns_out[i, k] = ret


def run_batch(seeds, p_indptr, p_indices, p_probs, p_cdf, n_p_stages, R, rho, rho_cdf, K, algo, bonus,
              coef, L, pooled, known_rewards, prior, values_out, returns_out, policies_out):
    """:func:`run_batch_record` without the per-episode plan values (the original signature)."""
    run_batch_record(seeds, p_indptr, p_indices, p_probs, p_cdf, n_p_stages, R, rho, rho_cdf, K, algo, bonus,
                     coef, L, pooled, known_rewards, prior, values_out, returns_out, policies_out,
                     np.empty((seeds.shape[0], 0)), np.empty((seeds.shape[0], 0, R.shape[0] + 1), dtype=np.int16))
