"""Plain NumPy/SciPy twins of :mod:`mdps._robust_kernels`: the exact primal constructions.

Each function returns the minimiser ``p`` of ``<p, v>`` over the ball, built independently of the
kernel: the sorted constructions for L1 and L-infinity (NumPy's own sort, explicit masses), and
for KL and chi-square the closed-form family of minimisers (the tilted ``p ~ p0 e^{-v/lam}``, the
clipped ``p ~ p0 (alpha - v)_+``) with the multiplier found by :func:`scipy.optimize.brentq` on the
constraint ``D(p, p0) = r``. The value is then ``p @ v``. Used by the tests and the checks.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq


def l1_argmin(p0, v, r):
    p = np.array(p0, dtype=float)
    order = np.argsort(v, kind="stable")
    lo = order[0]
    delta = max(0.0, min(r / 2.0, 1.0 - p[lo]))
    p[lo] += delta
    for i in order[::-1][:-1]:
        take = min(delta, p[i])
        p[i] -= take
        delta -= take
        if delta <= 0.0:
            break
    return p


def linf_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    low, up = np.maximum(p0 - r, 0.0), np.minimum(p0 + r, 1.0)
    p = low.copy()
    m = 1.0 - low.sum()
    for i in np.argsort(v, kind="stable"):
        add = min(up[i] - low[i], m)
        p[i] += max(add, 0.0)
        m -= max(add, 0.0)
    return p


def _degenerate(p0, v):
    supp = p0 > 0
    vmin = v[supp].min()
    mask = supp & (v == vmin)
    return mask, p0[mask].sum() / p0.sum()


def kl_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    v = np.asarray(v, dtype=float)
    supp = p0 > 0
    mask, m0 = _degenerate(p0, v)
    if r >= -math.log(m0) or v[supp].max() == v[supp].min():
        return np.where(mask, p0, 0.0) / p0[mask].sum()
    if r == 0.0:
        return p0 / p0.sum()
    d = np.where(supp, v - v[supp].min(), 0.0)
    q = p0 / p0.sum()

    def tilt(u):
        w = np.where(supp, q * np.exp(-d / math.exp(u)), 0.0)
        return w / w.sum()

    def h(u):
        p = tilt(u)
        s = supp & (p > 0)
        return float(np.sum(p[s] * np.log(p[s] / q[s]))) - r

    lo = hi = math.log(d.max())
    while h(lo) <= 0.0:
        lo -= 1.0
    while h(hi) >= 0.0 and hi < 690.0:
        hi += 1.0
    return tilt(brentq(h, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def chi2_argmin(p0, v, r):
    p0 = np.asarray(p0, dtype=float)
    v = np.asarray(v, dtype=float)
    supp = p0 > 0
    q = p0 / p0.sum()
    mask, m0 = _degenerate(p0, v)
    if r >= 1.0 / m0 - 1.0:
        return np.where(mask, q, 0.0) / q[mask].sum()
    if r == 0.0:
        return q

    def clip(alpha):
        w = np.where(supp, q * np.maximum(alpha - v, 0.0), 0.0)
        return w / w.sum()

    def f(alpha):
        p = clip(alpha)
        return float(np.sum((p[supp] - q[supp]) ** 2 / q[supp])) - r

    vmin, vmax = v[supp].min(), v[supp].max()
    step = vmax - vmin
    hi = vmax + step
    while f(hi) >= 0.0:
        step *= 2.0
        hi = vmax + step
    # just above vmin all mass sits on the minimisers: chi2 = 1/m0 - 1 > r there
    lo = vmin + max(abs(float(np.spacing(vmin))), 1e-300)  # no underflow of q * (alpha - vmin)
    return clip(brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


ARGMIN = {"l1": l1_argmin, "linf": linf_argmin, "kl": kl_argmin, "chi2": chi2_argmin,
          "tv": lambda p0, v, r: l1_argmin(p0, v, 2.0 * r)}


# ---------------------------------------------------------------------------------------------
# s-rectangular balls (cvxpy; only for tests and checks: slow)
# ---------------------------------------------------------------------------------------------

def _solve(prob):
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return float(prob.value)


def srect_inner_cvxpy(P0, v, pi, r, kind, relaxed=True):
    r"""``min sum_a pi_a <P_a, v>`` over the s-rectangular ball around the block ``P0`` (A, S):
    ``P = P0 + D``, ``D 1 = 0``, entrywise ``||D||_p <= r`` (``kind`` "l1": p = 1, "linf": p = inf), and
    ``P >= 0`` unless ``relaxed``. The primal LP, solved by cvxpy (Clarabel)."""
    import cvxpy as cp

    P0, v, pi = (np.asarray(x, dtype=float) for x in (P0, v, pi))
    A, S = P0.shape
    D = cp.Variable((A, S))
    norm = cp.sum(cp.abs(D)) if kind == "l1" else cp.max(cp.abs(D))
    cons = [cp.sum(D, axis=1) == 0, norm <= r]
    if not relaxed:
        cons.append(P0 + D >= 0)
    return _solve(cp.Problem(cp.Minimize(pi @ (P0 @ v) + cp.sum(cp.multiply(np.outer(pi, v), D))), cons))


def srect_bellman_cvxpy(P0, R0, v, gamma, r, kind, relaxed=True):
    r"""``max_{pi in Delta_A} min_{P in U_s} sum_a pi_a (R0_a + gamma <P_a, v>)`` for one state, by cvxpy.

    The inner LP is replaced by its Lagrange dual (strong duality: linear constraints and a norm ball
    containing ``D = 0``): with ``mu`` (A,) free for ``D 1 = 0`` and ``lam >= 0`` (A, S) for
    ``P0 + D >= 0``, :math:`\min_D \langle \pi v^\top, D\rangle = \max_{\mu, \lambda \ge 0}
    -r \|\pi v^\top - \mu 1^\top - \lambda\|_q - \langle \lambda, P_0\rangle` (``q`` the dual norm,
    entrywise); the relaxed set drops ``lam``. The outer maximum over ``pi`` is then a single convex
    program, jointly in ``(pi, mu, lam)``. Returns ``(value, pi)``. Independent of the closed forms:
    no factorisation of the dual norm and no sorting."""
    import cvxpy as cp

    P0, R0, v = (np.asarray(x, dtype=float) for x in (P0, R0, v))
    A, S = P0.shape
    pi = cp.Variable(A, nonneg=True)
    mu = cp.Variable(A)
    M = cp.reshape(pi, (A, 1), order="C") @ v.reshape(1, S) - cp.reshape(mu, (A, 1), order="C") @ np.ones((1, S))
    extra = 0.0
    if not relaxed:
        lam = cp.Variable((A, S), nonneg=True)
        M = M - lam
        extra = -cp.sum(cp.multiply(lam, P0))
    dual_norm = cp.max(cp.abs(M)) if kind == "l1" else cp.sum(cp.abs(M))
    obj = pi @ (R0 + gamma * (P0 @ v)) + gamma * (-r * dual_norm + extra)
    value = _solve(cp.Problem(cp.Maximize(obj), [cp.sum(pi) == 1]))
    return value, np.asarray(pi.value)


def _div_constraints(cp, Pv, P0, r, kind):
    """``sum_a D(p_a || P0_a) <= r`` on the supports (``Pv`` a list of support-restricted variables)."""
    terms = []
    for a, p in enumerate(Pv):
        q = P0[a][P0[a] > 0]
        q = q / q.sum()
        if kind == "kl":
            terms.append(cp.sum(cp.kl_div(p, q)))  # = KL(p || q) on the simplex
        else:
            terms.append(cp.sum(cp.multiply(1.0 / q, cp.square(p - q))))
    cons = [cp.sum(terms) <= r]
    for p in Pv:
        cons += [p >= 0, cp.sum(p) == 1]
    return cons


def _scatter(Pv, P0):
    A, S = P0.shape
    out = np.zeros((A, S))
    for a, p in enumerate(Pv):
        out[a, P0[a] > 0] = np.maximum(np.asarray(p.value).ravel(), 0.0)
    return out


def srect_div_cvxpy(P0, R0, v, gamma, r, kind):
    r"""``min_{P in U_s} max_a R0_a + gamma <p_a, v>`` for the s-rectangular KL / chi-square ball
    :math:`\sum_a D(p_a\|P0_a) \le r` (supports of ``P0``), by cvxpy's epigraph form (exponential cone for KL).
    By the minimax theorem this is the s-rectangular robust Bellman operator at the state. Returns
    ``(value, P (A, S))``. Independent of :mod:`mdps._srect_kernels`: no projection costs, no multipliers."""
    import cvxpy as cp

    P0, R0, v = (np.asarray(x, dtype=float) for x in (P0, R0, v))
    Pv = [cp.Variable(int((row > 0).sum())) for row in P0]
    t = cp.Variable()
    cons = _div_constraints(cp, Pv, P0, r, kind)
    cons += [R0[a] + gamma * (p @ v[P0[a] > 0]) <= t for a, p in enumerate(Pv)]
    value = _solve(cp.Problem(cp.Minimize(t), cons))
    return value, _scatter(Pv, P0)


def srect_div_inner_cvxpy(P0, v, pi, r, kind):
    r"""``min_{P in U_s} sum_a pi_a <p_a, v>`` over the s-rectangular KL / chi-square ball, by cvxpy."""
    import cvxpy as cp

    P0, v, pi = (np.asarray(x, dtype=float) for x in (P0, v, pi))
    Pv = [cp.Variable(int((row > 0).sum())) for row in P0]
    obj = sum(pi[a] * (p @ v[P0[a] > 0]) for a, p in enumerate(Pv))
    return _solve(cp.Problem(cp.Minimize(obj), _div_constraints(cp, Pv, P0, r, kind)))


def srect_divergence(P, P0, kind):
    """``sum_a D(P_a || P0_a)`` evaluated directly (``inf`` if ``P_a`` puts mass where ``P0_a`` has none)."""
    P, P0 = np.asarray(P, dtype=float), np.asarray(P0, dtype=float)
    total = 0.0
    for p, q in zip(P, P0):
        q = q / q.sum()
        if np.any((q == 0) & (p > 0)):
            return np.inf
        s = q > 0
        if kind == "kl":
            m = s & (p > 0)
            total += float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))
        else:
            total += float(np.sum((p[s] - q[s]) ** 2 / q[s]))
    return total


def srect_div_reference(P0, R0, v, gamma, r, kind):
    r"""The s-rectangular KL / chi-square operator at one state, by plain NumPy/SciPy, independently of
    :mod:`mdps._srect_kernels`: ``t*`` = the smallest ``t`` with :math:`\sum_a c_a(t) \le r`, where the projection
    cost :math:`c_a(t)` is the smallest radius :math:`\rho` whose (s,a)-rectangular worst case
    :math:`R_a + \gamma \min_{D(p\|\hat p_a) \le \rho} \langle p, v\rangle` (:func:`kl_argmin` / :func:`chi2_argmin`,
    brentq on their multipliers) is at most ``t`` -- found by brentq on :math:`\rho` -- and ``t*`` by brentq on
    ``t``. Slow (nested root finding); for tests. Returns the value."""
    P0, R0, v = (np.asarray(x, dtype=float) for x in (P0, R0, v))
    argmin = kl_argmin if kind == "kl" else chi2_argmin
    if r <= 0.0 or gamma == 0.0:
        return float(max(R0 + gamma * (P0 / P0.sum(axis=1, keepdims=True)) @ v))

    def end_cost(q):
        s = q > 0
        m0 = q[s & (v == v[s].min())].sum() / q.sum()
        return -math.log(m0) if kind == "kl" else 1.0 / m0 - 1.0

    def cost(a, t):
        q = P0[a]
        s = q > 0
        lo_t = R0[a] + gamma * v[s].min()
        if t >= R0[a] + gamma * float(q @ v) / q.sum() or v[s].max() == v[s].min():
            return 0.0
        if t <= lo_t:
            return end_cost(q) if t == lo_t else np.inf
        hi = end_cost(q)

        def g(rho):
            return R0[a] + gamma * float(argmin(q, v, rho) @ v) - t

        if g(hi * (1 - 1e-12)) > 0.0:
            return hi
        return brentq(g, 0.0, hi * (1 - 1e-12), xtol=1e-15, rtol=1e-14, maxiter=500)

    A = len(R0)
    t_lo = max(R0[a] + gamma * v[P0[a] > 0].min() for a in range(A))
    t_hi = max(R0[a] + gamma * float(P0[a] @ v) / P0[a].sum() for a in range(A))

    def G(t):
        return sum(cost(a, t) for a in range(A)) - r

    if t_hi <= t_lo or G(t_lo) <= 0.0:
        return float(t_lo if t_hi > t_lo else t_hi)
    return float(brentq(G, t_lo, t_hi, xtol=1e-14, rtol=1e-14, maxiter=500))
