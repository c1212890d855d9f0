r"""Numba kernels for s-rectangular KL and chi-square balls: the exact robust Bellman operator at one state.

The set at state ``s`` couples the actions through one budget:
:math:`U_s = \{(p_a)_a : p_a \in \Delta_S,\ \sum_a D(p_a \| \hat p_{s,a}) \le r_s\}` with
``D`` = KL (``KIND_KL``) or the chi-square divergence :math:`\sum_i (p_i - \hat p_i)^2 / \hat p_i`
(``KIND_CHI2``; the convention of the (s,a)-rectangular chi-square ball); zeros of :math:`\hat p` force
zeros of ``p`` for both. The operator is
:math:`(TV)(s) = \max_{\pi \in \Delta_A} \min_{P \in U_s} \sum_a \pi_a q_a(P)`, :math:`q_a(P) = R_a + \gamma
\langle p_a, v\rangle`. The objective is bilinear in ``(pi, P)`` and both sets are convex and compact, so by
Sion's minimax theorem it equals :math:`\min_{P \in U_s} \max_a q_a(P)`, i.e. the smallest ``t`` with
:math:`\sum_a c_a(t) \le r_s` where

.. math:: c_a(t) = \min\{D(p \| \hat p_a) : p \in \Delta_S,\ R_a + \gamma \langle p, v\rangle \le t\}

is action ``a``'s *projection cost*: 0 for :math:`t \ge R_a + \gamma \hat p_a \cdot v`, :math:`+\infty` below
:math:`R_a + \gamma \min_{\mathrm{supp}\,\hat p_a} v`, convex and non-increasing in ``t`` (the value function of
a convex program in its right-hand side).

Projection cost, exactly (target :math:`b = (t - R_a)/\gamma` on :math:`\langle p, v\rangle`)
-----------------------------------------------------------------------------------------------
* **KL.** Lagrange: the minimiser is the tilt :math:`p_\theta \propto \hat p\, e^{-\theta v}` with the
  :math:`\theta \ge 0` solving :math:`\langle p_\theta, v\rangle = b` (the tilted mean decreases in
  :math:`\theta`: its derivative is :math:`-\mathrm{Var}_{p_\theta}(v)`), and
  :math:`c = \mathrm{KL}(p_\theta\|\hat p)`. Envelope theorem: :math:`dc/db = -\theta`. The kernel finds
  :math:`\lambda = 1/\theta` by safeguarded Newton on :math:`\log\lambda` and evaluates the tilt with the
  (s,a)-rectangular kernel's :func:`mdps._robust_kernels._kl_stats` (log-shifted weights for large tilts,
  centred series for small ones: no cancellation, overflow or loss of subnormal masses). It keeps the
  bracket end where the computed mean is ``<= b`` and returns the cost and the row *of that end*.
  At :math:`b = \min_{\mathrm{supp}} v` the cost is :math:`\log(1/\hat p(\arg\min))` (all mass on the
  minimisers, :math:`\theta = \infty`).
* **Chi-square.** KKT: :math:`p \propto \hat p\,(\alpha - v)_+`. On the set ``K`` of support states below
  :math:`\alpha` (normalised nominal mass :math:`m_K`, :math:`\hat p`-mean :math:`\mu_K`, variance
  :math:`s_K^2`), the mean of ``p`` is :math:`\mu_K - s_K^2/(\alpha - \mu_K)`, so
  :math:`\alpha - \mu_K = s_K^2 / (\mu_K - b)` and
  :math:`c = \chi^2(p\|\hat p) = (1 + s_K^2/(\alpha - \mu_K)^2)/m_K - 1 = ((1 - m_K) + (\mu_K - b)^2/s_K^2)/m_K`
  (the last form has no cancellation; with ``K`` the whole support it is the classical
  :math:`(\mu - b)^2 / \mathrm{Var}_{\hat p}(v)`). ``K`` is found by a scan in increasing ``v``: the mean at
  :math:`\alpha` = the next value is :math:`\mu_K - s_K^2/(v_{next} - \mu_K)`, increasing along the scan;
  the first ``K`` where it reaches ``b`` is the one. The multiplier of :math:`\langle p, v\rangle \le b` is
  :math:`\theta = 2/\sum_K \hat p(\alpha - v) = 2(\mu_K - b)/(m_K s_K^2)` (``= -dc/db``, derived from the
  formula for ``c``). The kernel returns the divergence of the row it builds, summed directly (the closed
  form agrees with it only to ~1e-8 relative when a nominal mass of 1e-16 receives mass). At :math:`b = \min_{\mathrm{supp}} v` the cost is :math:`1/\hat p(\arg\min) - 1`.

The outer problem and the policy
--------------------------------
:math:`G(t) = \sum_a c_a(t) - r` is convex and non-increasing on
:math:`[t_{lo}, t_{hi}] = [\max_a R_a + \gamma \min_{\mathrm{supp}} v,\ \max_a R_a + \gamma \hat p_a \cdot v]`
(every cost is finite at :math:`t_{lo}`, zero at :math:`t_{hi}`). If :math:`G(t_{lo}) \le 0` the value is
:math:`t_{lo}`. Otherwise the root is bracketed and found by a safeguarded cycle of bisection, Newton from the
infeasible end (convexity: a Newton step from the left stays left of the root) and the secant (it lands right of
the root), keeping the feasible end :math:`t_{hi}` (computed :math:`G \le 0`), until the bracket is 4 ulp wide.

Policy from the multipliers. For the epigraph program :math:`\min t` s.t. :math:`q_a(P) \le t` (multipliers
:math:`\pi_a`), :math:`\sum_a D_a \le r` (multiplier :math:`\lambda`): stationarity in ``t`` gives
:math:`\sum_a \pi_a = 1`; in :math:`p_a` it gives the projection problem of action ``a`` with multiplier
:math:`\pi_a\gamma/\lambda = \theta_a`. Hence :math:`\pi_a \propto \theta_a = -\gamma\, c_a'(t^*)`: actions whose
nominal value already lies below :math:`t^*` (:math:`c_a(t^*) = 0`) get probability 0. By strong duality
(Slater: :math:`\hat P` is strictly feasible for ``r > 0``) ``(pi, P)`` is a saddle point. When
:math:`G(t_{lo}) \le 0` (a large budget) the policy is uniform on the actions attaining
:math:`t_{lo}` (:math:`\theta = \infty`): any policy on them guarantees :math:`t_{lo}`. ``r = 0`` or
:math:`\gamma = 0`: the nominal greedy action.

The policy operator
-------------------
:func:`srect_policy_state` computes :math:`\min_{P \in U_s} \sum_a \pi_a q_a(P)` for a given policy (robust
evaluation and policy iteration): each played row solves its projection problem with multiplier
:math:`\theta_a = \pi_a \tau`, one :math:`\tau` per state set by the budget (derivation in its docstring).

NumPy twin: :func:`mdps._robust_reference.srect_div_reference` (nested brentq on the (s,a)-rectangular primal
constructions; agreement to 1.4e-13 of the values' scale on 800 random states, asserted to 1e-9 by Hypothesis).

Accuracy guarantee (stated, tested in ``tests/test_robust_srect_kl.py``)
------------------------------------------------------------------------
The returned rows lie on the simplex with zeros where :math:`\hat p` vanishes; their divergence, computed
independently, satisfies :math:`\sum_a D(p_a\|\hat p_a) \le r(1 + 10^{-9}) + 10^{-12}` (the kernel's own
computed sum is ``<= r`` by the bracket rule; the gap is the round-off of the two evaluations); the returned
value is :math:`\max_a q_a(P)` of the returned rows (attained by construction, to round-off
:math:`10^{-12}\max(1, |t|)`), and it exceeds the exact value by at most the final bracket width plus
round-off. Kernels trust their inputs (validated in :mod:`mdps.robust`); ``cache=True``, no ``fastmath``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from mdps._robust_kernels import _kl_stats

KIND_KL, KIND_CHI2 = 2, 3  # the codes of mdps._robust_kernels (KL = 2, CHI2 = 3)
_INNER_STEPS = 400
_OUTER_STEPS = 400


@nb.njit(cache=True)
def _support_stats(p0, v):
    """``(tot, vmin, vmax, mean, m0)``: support mass, min/max of ``v`` on it, the normalised nominal mean
    (``vmin + E[v - vmin]``) and the mass of the support's minimisers."""
    n = v.shape[0]
    tot = 0.0
    vmin = np.inf
    vmax = -np.inf
    for i in range(n):
        if p0[i] > 0.0:
            tot += p0[i]
            vmin = min(vmin, v[i])
            vmax = max(vmax, v[i])
    s = 0.0
    m0 = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            s += p0[i] * (v[i] - vmin)
            if v[i] == vmin:
                m0 += p0[i]
    return tot, vmin, vmax, vmin + s / tot, m0


@nb.njit(cache=True)
def _endpoint_row(p0, v, vmin, m0, row):
    for i in range(v.shape[0]):
        row[i] = p0[i] / m0 if (p0[i] > 0.0 and v[i] == vmin) else 0.0


@nb.njit(cache=True)
def _kl_tilt_row(p0, lp, d, c, mu0, tot, lam, sp, row):
    """The tilted row ``p ~ p0 e^{-d/lam}`` (same weights as :func:`mdps._robust_kernels.kl_inner`)."""
    n = d.shape[0]
    t = 1.0 / lam
    if t * sp > 1.0:
        big = -np.inf
        for i in range(n):
            if p0[i] > 0.0:
                big = max(big, lp[i] - t * d[i])
        z = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                z += math.exp(lp[i] - t * d[i] - big)
        for i in range(n):
            row[i] = math.exp(lp[i] - t * d[i] - big) / z if p0[i] > 0.0 else 0.0
        return
    zs = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            zs += p0[i] * math.exp(-t * c[i])
    for i in range(n):
        row[i] = p0[i] * math.exp(-t * c[i]) / zs if p0[i] > 0.0 else 0.0


@nb.njit(cache=True)
def _kl_cost(p0, v, vmin, vmax, tot, bd, row, want_row):
    """KL projection cost for an interior target ``vmin + bd`` (``0 < bd < mean - vmin``): ``(cost, theta)``."""
    n = v.shape[0]
    d = np.empty(n)
    lp = np.empty(n)
    c = np.empty(n)
    mu0 = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            d[i] = v[i] - vmin
            lp[i] = math.log(p0[i])
            mu0 += p0[i] * d[i]
        else:
            d[i] = 0.0
            lp[i] = -np.inf
    mu0 /= tot
    for i in range(n):
        c[i] = d[i] - mu0 if p0[i] > 0.0 else 0.0
    sp = vmax - vmin
    # tilted mean of d: increasing in lam; keep lo with mean(lo) <= bd (feasible), hi with mean(hi) > bd
    lo = sp
    for _ in range(2000):
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lo, sp)
        md = mean if 1.0 / lo * sp > 1.0 else mu0 + mean
        if md <= bd or lo < 1e-300:
            break
        lo *= 0.5
    hi = sp
    for _ in range(2000):
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, hi, sp)
        md = mean if 1.0 / hi * sp > 1.0 else mu0 + mean
        if md > bd or hi > 1e300:
            break
        hi *= 2.0
    ulo = math.log(lo)
    uhi = math.log(hi)
    u = 0.5 * (ulo + uhi)
    for _ in range(_INNER_STEPS):
        if uhi - ulo <= 1e-15:
            break
        lam = math.exp(u)
        logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lam, sp)
        md = mean if 1.0 / lam * sp > 1.0 else mu0 + mean
        h = bd - md
        if h >= 0.0:
            ulo = u
            if h == 0.0:
                break
        else:
            uhi = u
        # d mean / d log(lam) = Var / lam
        u_new = u + h * lam / var if var > 0.0 else 0.5 * (ulo + uhi)
        if not (ulo < u_new < uhi):
            u_new = 0.5 * (ulo + uhi)
        u = u_new
    lam = math.exp(ulo)
    logz, kl, var, mean = _kl_stats(p0, lp, d, c, mu0, tot, lam, sp)
    if want_row:
        _kl_tilt_row(p0, lp, d, c, mu0, tot, lam, sp, row)
    return max(kl, 0.0), 1.0 / lam


@nb.njit(cache=True)
def _chi2_cost(p0, v, order, tot, b, row, want_row):
    """Chi-square projection cost for an interior target ``b``: ``(cost, theta)`` (module docstring)."""
    n = v.shape[0]
    m = 0.0
    mu = 0.0
    s2 = 0.0
    last = -1
    found = False
    for j in range(n + 1):
        if j < n:
            i = order[j]
            if p0[i] <= 0.0:
                continue
            vnext = v[i]
        else:
            vnext = np.inf
        if m > 0.0 and s2 > 0.0 and (j == n or vnext != v[order[last]]) and mu > b:
            fnext = mu if j == n else mu - s2 / (vnext - mu)
            if fnext >= b:
                found = True
                break
        if j == n:
            break
        w = p0[i]
        if m == 0.0:
            mu = v[i]
            m = w
        else:
            m_new = m + w
            a = w / m_new
            delta = v[i] - mu
            mu += delta * a
            s2 = (m / m_new) * (s2 + a * delta * delta)
            m = m_new
        last = j
    if not found:  # b at or above the nominal mean after rounding (b = (t - R) / gamma): the nominal row
        for i in range(n):
            row[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return 0.0, 0.0
    mk = m / tot
    gap = mu - b
    theta = 2.0 * gap / (mk * s2)
    # the row is always built, and the cost is its divergence summed directly: the closed form
    # ((1 - m_K) + gap^2 / s2) / m_K agrees with it only to ~1e-8 relative when a nominal mass of 1e-16
    # receives mass (p^2 / p0 amplifies the round-off of alpha - v), and the feasibility guarantee is
    # about the row returned
    shift = s2 / gap  # alpha - mu
    z = 0.0
    for i in range(n):
        row[i] = 0.0
    for jj in range(last + 1):
        i = order[jj]
        if p0[i] > 0.0:
            row[i] = p0[i] * max((mu - v[i]) + shift, 0.0)
            z += row[i]
    if not z > 0.0:  # round-off left no positive weight (alpha within an ulp of min v): the endpoint
        vmin = v[order[0]]
        m0 = 0.0
        for i in range(n):
            if p0[i] > 0.0:
                vmin = min(vmin, v[i])
        for i in range(n):
            if p0[i] > 0.0 and v[i] == vmin:
                m0 += p0[i]
        _endpoint_row(p0, v, vmin, m0, row)
        return (tot - m0) / m0, np.inf
    cost = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            row[i] /= z
            q = p0[i] / tot
            cost += (row[i] - q) * (row[i] - q) / q
    return cost, theta


@nb.njit(cache=True)
def _cost(kind, p0, v, order, R_a, gamma, t, row, want_row):
    """Action ``a``'s projection cost ``c_a(t)`` and multiplier ``theta_a = -gamma c_a'(t)`` (``inf`` at the
    endpoint ``t = R_a + gamma min_supp v``; ``(inf, inf)`` below it). Thresholds are compared in ``t`` with
    the same expressions the caller uses for the bracket, so the endpoint is recognised exactly."""
    tot, vmin, vmax, mean, m0 = _support_stats(p0, v)
    t_min = R_a + gamma * vmin
    t_nom = R_a + gamma * mean
    if t < t_min:
        return np.inf, np.inf
    if t >= t_nom or vmax == vmin:
        if want_row:
            for i in range(v.shape[0]):
                row[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return 0.0, 0.0
    if t == t_min:
        if want_row:
            _endpoint_row(p0, v, vmin, m0, row)
        if kind == KIND_KL:
            return math.log(tot) - math.log(m0), np.inf
        return (tot - m0) / m0, np.inf
    b = (t - R_a) / gamma
    if kind == KIND_KL:
        bd = b - vmin
        if bd <= 0.0:
            bd = 0.0
            if want_row:
                _endpoint_row(p0, v, vmin, m0, row)
            return math.log(tot) - math.log(m0), np.inf
        return _kl_cost(p0, v, vmin, vmax, tot, bd, row, want_row)
    if b <= vmin:
        if want_row:
            _endpoint_row(p0, v, vmin, m0, row)
        return (tot - m0) / m0, np.inf
    return _chi2_cost(p0, v, order, tot, b, row, want_row)


@nb.njit(cache=True)
def _total(kind, P0, R, v, order, gamma, t, rows, want_rows, thetas):
    A = R.shape[0]
    total = 0.0
    for a in range(A):
        cst, th = _cost(kind, P0[a], v, order, R[a], gamma, t, rows[a], want_rows)
        total += cst
        thetas[a] = th
    return total


@nb.njit(cache=True)
def srect_state(kind, P0, R, v, order, gamma, r, pi_out, P_out):
    r"""The s-rectangular KL / chi-square robust Bellman operator at one state (module docstring).

    ``P0`` (A, S) nominal rows, ``R`` (A,), ``v`` (S,), ``order = argsort(v)``, budget ``r >= 0``. Writes the
    saddle policy into ``pi_out`` (A,) and the worst-case rows into ``P_out`` (A, S); returns
    :math:`\max_a R_a + \gamma \langle P_{out,a}, v\rangle`."""
    A = R.shape[0]
    S = v.shape[0]
    thetas = np.empty(A)
    t_lo = -np.inf
    t_hi = -np.inf
    for a in range(A):
        tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
        t_lo = max(t_lo, R[a] + gamma * vmin)
        t_hi = max(t_hi, R[a] + gamma * mean)
    for a in range(A):
        pi_out[a] = 0.0
    if r <= 0.0 or gamma == 0.0 or t_hi <= t_lo:
        best = -np.inf
        arg = 0
        for a in range(A):
            tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
            for i in range(S):
                P_out[a, i] = P0[a, i] / tot if P0[a, i] > 0.0 else 0.0
            q = R[a] + gamma * mean
            if q > best:
                best = q
                arg = a
        pi_out[arg] = 1.0
    else:
        g_lo = _total(kind, P0, R, v, order, gamma, t_lo, P_out, False, thetas) - r
        at_lo = g_lo <= 0.0
        if at_lo:
            t = t_lo
        else:
            d_lo = 0.0  # -G'(t_lo) * gamma = sum theta
            for a in range(A):
                d_lo += thetas[a]
            g_hi = -r
            for k in range(_OUTER_STEPS):
                width = t_hi - t_lo
                if width <= 4.0 * np.finfo(np.float64).eps * max(abs(t_lo), abs(t_hi)) or width <= 1e-300:
                    break
                mid = 0.5 * (t_lo + t_hi)
                cand = mid
                if k % 3 == 1 and d_lo < np.inf and d_lo > 0.0:
                    cand = t_lo + g_lo * gamma / d_lo  # Newton from the infeasible end
                elif k % 3 == 2 and g_lo > g_hi:
                    cand = t_lo + g_lo * width / (g_lo - g_hi)  # secant: right of the root (convexity)
                if not (t_lo < cand < t_hi):
                    cand = mid
                g = _total(kind, P0, R, v, order, gamma, cand, P_out, False, thetas) - r
                if g <= 0.0:
                    t_hi = cand
                    g_hi = g
                    if g == 0.0:
                        break
                else:
                    t_lo = cand
                    g_lo = g
                    d_lo = 0.0
                    for a in range(A):
                        d_lo += thetas[a]
            t = t_hi
        _total(kind, P0, R, v, order, gamma, t, P_out, True, thetas)
        tot_th = 0.0
        for a in range(A):
            tot_th += thetas[a]
        if at_lo:  # uniform on the actions whose worst case is t_lo: each guarantees t_lo against any P
            n_bind = 0
            for a in range(A):
                tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
                if R[a] + gamma * vmin == t_lo:
                    pi_out[a] = 1.0
                    n_bind += 1
            for a in range(A):
                pi_out[a] /= n_bind
        elif tot_th > 0.0:
            for a in range(A):
                pi_out[a] = thetas[a] / tot_th
        else:
            pi_out[0] = 1.0
    value = -np.inf
    for a in range(A):
        q = 0.0
        for i in range(S):
            q += P_out[a, i] * v[i]
        value = max(value, R[a] + gamma * q)
    return value


@nb.njit(cache=True)
def srect_sweep(kind, P2, R, radius, gamma, V, V_out, pi_out, P_out):
    """:func:`srect_state` at every state: ``P2`` (S*A, S) nominal rows, ``R`` (S, A), ``radius`` (S,);
    writes ``V_out`` (S,), ``pi_out`` (S, A), ``P_out`` (S*A, S). ``V`` is sorted once."""
    S, A = R.shape
    order = np.argsort(V, kind="mergesort")
    for s in range(S):
        V_out[s] = srect_state(kind, P2[s * A:(s + 1) * A], R[s], V, order, gamma, radius[s], pi_out[s],
                               P_out[s * A:(s + 1) * A])


# ---------------------------------------------------------------------------------------------
# the policy operator T^pi: min_{P in U_s} sum_a pi_a (R_a + gamma <p_a, v>)
# ---------------------------------------------------------------------------------------------

@nb.njit(cache=True)
def _kl_row_at(p0, v, theta, row):
    """The tilt ``p ~ p0 e^{-theta v}`` (``theta >= 0``, finite) into ``row``; returns ``KL(p || p0)``."""
    n = v.shape[0]
    tot, vmin, vmax, mean, m0 = _support_stats(p0, v)
    if theta <= 0.0 or vmax == vmin:
        for i in range(n):
            row[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return 0.0
    d = np.empty(n)
    lp = np.empty(n)
    c = np.empty(n)
    mu0 = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            d[i] = v[i] - vmin
            lp[i] = math.log(p0[i])
            mu0 += p0[i] * d[i]
        else:
            d[i] = 0.0
            lp[i] = -np.inf
    mu0 /= tot
    for i in range(n):
        c[i] = d[i] - mu0 if p0[i] > 0.0 else 0.0
    sp = vmax - vmin
    lam = 1.0 / theta
    logz, kl, var, mean_t = _kl_stats(p0, lp, d, c, mu0, tot, lam, sp)
    _kl_tilt_row(p0, lp, d, c, mu0, tot, lam, sp, row)
    return max(kl, 0.0)


@nb.njit(cache=True)
def _chi2_row_at(p0, v, order, theta, row):
    """The minimiser of ``<p, v> + chi2(p || p0) / theta`` into ``row``: ``p ~ p0 (alpha - v)_+`` with
    ``sum p0 (alpha - v)_+ = 2 / theta`` (normalisation of ``p = p0 (theta / 2)(alpha - v)_+``), found by a scan in
    increasing ``v``: on the prefix ``K`` (normalised mass ``m_K``, mean ``mu_K``) ``alpha = mu_K + 2/(theta m_K)``,
    valid when it lies at or below the next value. Returns the chi-square divergence of the row, summed directly."""
    n = v.shape[0]
    tot, vmin, vmax, mean, m0 = _support_stats(p0, v)
    if theta <= 0.0 or vmax == vmin:
        for i in range(n):
            row[i] = p0[i] / tot if p0[i] > 0.0 else 0.0
        return 0.0
    target = 2.0 / theta
    m = 0.0
    mu = 0.0
    last = -1
    alpha = np.inf
    for j in range(n + 1):
        if j < n:
            i = order[j]
            if p0[i] <= 0.0:
                continue
            vnext = v[i]
        else:
            vnext = np.inf
        if m > 0.0 and (j == n or vnext != v[order[last]]):
            a_k = mu + target / (m / tot)
            if a_k <= vnext:
                alpha = a_k
                break
        if j == n:
            break
        w = p0[i]
        if m == 0.0:
            mu = v[i]
            m = w
        else:
            m_new = m + w
            mu += (v[i] - mu) * (w / m_new)
            m = m_new
        last = j
    z = 0.0
    for i in range(n):
        row[i] = 0.0
    for jj in range(last + 1):
        i = order[jj]
        if p0[i] > 0.0:
            row[i] = p0[i] * max((alpha - mu) + (mu - v[i]), 0.0)
            z += row[i]
    if not z > 0.0:
        _endpoint_row(p0, v, vmin, m0, row)
        return (tot - m0) / m0
    cost = 0.0
    for i in range(n):
        if p0[i] > 0.0:
            row[i] /= z
            q = p0[i] / tot
            cost += (row[i] - q) * (row[i] - q) / q
    return cost


@nb.njit(cache=True)
def _policy_total(kind, P0, v, order, pi, tau, rows):
    """``sum_a D(p_a(pi_a tau) || p0_a)`` with the rows written into ``rows``."""
    total = 0.0
    for a in range(pi.shape[0]):
        if kind == KIND_KL:
            total += _kl_row_at(P0[a], v, pi[a] * tau, rows[a])
        else:
            total += _chi2_row_at(P0[a], v, order, pi[a] * tau, rows[a])
    return total


@nb.njit(cache=True)
def srect_policy_state(kind, P0, R, v, order, gamma, r, pi, P_out):
    r"""The policy operator :math:`\min_{P \in U_s} \sum_a \pi_a (R_a + \gamma \langle p_a, v\rangle)` at one state.

    Lagrange (derived): with multiplier :math:`\lambda` on :math:`\sum_a D_a \le r`, row ``a`` minimises
    :math:`\pi_a \langle p, v\rangle + \lambda D(p)`, i.e. the projection problem with multiplier
    :math:`\theta_a = \pi_a \tau`, :math:`\tau = 1/\lambda` (KL: the tilt :math:`\hat p e^{-\theta_a v}`; chi-square:
    :math:`\hat p(\alpha - v)_+` with :math:`\sum \hat p(\alpha - v)_+ = 2/\theta_a`); rows with :math:`\pi_a = 0`
    stay nominal. :math:`\sum_a D_a(\tau)` increases in :math:`\tau`; if its limit (every played row on its support
    minimisers) is within the budget those rows are optimal, otherwise :math:`\tau` solves
    :math:`\sum_a D_a(\tau) = r` by bisection on :math:`\log\tau` to a relative width of 4 ulp, keeping the feasible
    end. Writes the rows into ``P_out`` (A, S); returns :math:`\sum_a \pi_a (R_a + \gamma\langle p_a, v\rangle)`.
    Accuracy: the rows' divergence is at most ``r`` as computed here (the guarantee of :func:`srect_state`)."""
    A = R.shape[0]
    S = v.shape[0]
    if r <= 0.0 or gamma == 0.0:
        _policy_total(kind, P0, v, order, pi, 0.0, P_out)
    else:
        ends = 0.0
        for a in range(A):
            tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
            if pi[a] > 0.0 and vmax > vmin:
                ends += (math.log(tot) - math.log(m0)) if kind == KIND_KL else (tot - m0) / m0
        if ends <= r:
            for a in range(A):
                tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
                if pi[a] > 0.0:
                    _endpoint_row(P0[a], v, vmin, m0, P_out[a])
                else:
                    for i in range(S):
                        P_out[a, i] = P0[a, i] / tot if P0[a, i] > 0.0 else 0.0
        else:
            sp = 0.0
            for a in range(A):
                tot, vmin, vmax, mean, m0 = _support_stats(P0[a], v)
                sp = max(sp, vmax - vmin)
            lo = 1.0 / sp  # tau with total <= r
            for _ in range(2200):
                if _policy_total(kind, P0, v, order, pi, lo, P_out) <= r or lo < 1e-300:
                    break
                lo *= 0.5
            hi = 1.0 / sp
            for _ in range(2200):
                if _policy_total(kind, P0, v, order, pi, hi, P_out) > r or hi > 1e300:
                    break
                hi *= 2.0
            ulo = math.log(lo)
            uhi = math.log(hi)
            for _ in range(_OUTER_STEPS):
                if uhi - ulo <= 4.0 * np.finfo(np.float64).eps * max(1.0, abs(ulo)):
                    break
                u = 0.5 * (ulo + uhi)
                if _policy_total(kind, P0, v, order, pi, math.exp(u), P_out) <= r:
                    ulo = u
                else:
                    uhi = u
            _policy_total(kind, P0, v, order, pi, math.exp(ulo), P_out)
    value = 0.0
    for a in range(A):
        q = 0.0
        for i in range(S):
            q += P_out[a, i] * v[i]
        value += pi[a] * (R[a] + gamma * q)
    return value


@nb.njit(cache=True)
def srect_policy_sweep(kind, P2, R, radius, gamma, V, pol, V_out, P_out):
    """:func:`srect_policy_state` at every state for the policy ``pol`` (S, A); writes ``V_out`` and ``P_out``."""
    S, A = R.shape
    order = np.argsort(V, kind="mergesort")
    for s in range(S):
        V_out[s] = srect_policy_state(kind, P2[s * A:(s + 1) * A], R[s], V, order, gamma, radius[s], pol[s],
                                      P_out[s * A:(s + 1) * A])
